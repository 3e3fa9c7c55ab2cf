"""What the bundled model's recipe (`scripts/train_bundled.sh`) costs on this machine: each stage's step
timed with its own data, design and terms, times the steps the recipe gives the stage.

    python -m benchmarks.bench_recipe [--threads 2] [--steps 14]

Each stage runs `--steps` steps (phase 2: half as many) of its own command into a scratch folder, started
from the scratch run of the stage before, every step logged; its seconds per step are the mean interval
after the first three steps. The codec is timed at 50 and 250 steps: its fixed cost (data, PCA start,
evaluation) and its cost per step. Wall time of one process alone on the machine; nothing is kept.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import tempfile
import time
from dataclasses import fields, replace
from pathlib import Path

from dila.train import TrainArgs, parse_args

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "train_bundled.sh"


def recipe_commands(out: Path) -> list[list[str]]:
    """The recipe's commands for a run into `out`, as `RUN=echo` prints them."""
    env = {**os.environ, "RUN": "echo", "OUT": str(out)}
    printed = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, check=True).stdout
    return [shlex.split(line) for line in printed.splitlines() if line.startswith("python ")]


def recipe_runs(commands: list[list[str]]) -> list[TrainArgs]:
    """The `dila.train` commands among the recipe's, parsed."""
    return [parse_args(c[3:]) for c in commands if c[2] == "dila.train"]


def trained_steps(runs: list[TrainArgs]) -> dict[str, int]:
    """How many steps each run folder trains over the recipe's commands (`--stop-after` pauses a run that a
    later command resumes)."""
    done: dict[str, int] = {}
    for run in runs:
        done[run.out] = max(done.get(run.out, 0), min(run.steps, run.stop_after or run.steps))
    return done


def flags(args: TrainArgs) -> list[str]:
    argv = []
    for f in fields(TrainArgs):
        value, flag = getattr(args, f.name), "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            argv.append(flag if value else "--no-" + flag[2:])
        elif value is not None:
            argv += [flag, str(value)]
    return argv


def python(argv: list[str], threads: int) -> float:
    start = time.perf_counter()
    subprocess.run(["python", *argv], cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": str(threads)},
                   check=True, capture_output=True)
    return time.perf_counter() - start


def time_stage(run: TrainArgs, scratch: Path, steps: int, threads: int) -> float:
    """Seconds per step of `run`'s command, into `scratch`."""
    init = None if run.init is None else str(scratch / Path(run.init).name)
    timed = replace(run, out=str(scratch / Path(run.out).name), init=init, steps=steps, stop_after=None,
                    log_every=1, save_every=steps, codec=str(ROOT / "checkpoints" / "codec"))
    python(["-m", "dila.train", *flags(timed)], threads)
    seconds = [json.loads(line)["seconds"] for line in (Path(timed.out) / "log.jsonl").read_text().splitlines()]
    return (seconds[-1] - seconds[2]) / (len(seconds) - 3)


def time_codec(command: list[str], scratch: Path, threads: int) -> tuple[float, int]:
    """The codec's fixed seconds and seconds per step, and the recipe's steps."""
    argv = command[1:]
    steps = int(argv[argv.index("--steps") + 1])
    walls = {}
    for n in (50, 250):
        timed = [*argv, "--out", str(scratch / f"codec{n}"), "--steps", str(n), "--threads", str(threads)]
        walls[n] = python(timed, threads)
    per_step = (walls[250] - walls[50]) / 200
    return walls[50] - 50 * per_step + steps * per_step, steps


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=14)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        commands = recipe_commands(scratch / "recipe")
        runs = recipe_runs(commands)
        steps = trained_steps(runs)
        codec_seconds, codec_steps = time_codec(next(c for c in commands if c[2] == "dila.codecs.train_light"),
                                                scratch, args.threads)
        print(f"| stage | steps | s / step ({args.threads} threads) | minutes |\n| --- | --- | --- | --- |")
        print(f"| codec | {codec_steps} | | {codec_seconds / 60:.0f} |", flush=True)
        total = codec_seconds
        last = {run.out: run for run in runs}
        for out, run in last.items():
            per_step = time_stage(run, scratch, args.steps if run.phase == 1 else max(args.steps // 2, 5), args.threads)
            total += per_step * steps[out]
            print(f"| {Path(out).name} (phase {run.phase}) | {steps[out]} | {per_step:.2f} | "
                  f"{per_step * steps[out] / 60:.0f} |", flush=True)
        print(f"| all | | | {total / 60:.0f} ({total / 3600:.1f} h) |")


if __name__ == "__main__":
    main()

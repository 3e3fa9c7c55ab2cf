"""Indexing speed on this machine: the indexer (decoding, model, Parquet, manifest) next to the
model's own encode speed on the same clips, measured in the same run; optionally Ray Data with 1
and 2 model actors.

    python -m benchmarks.bench_index [--clips 15] [--frames 32] [--threads 2] [--repeats 3] [--ray]

Procedural clips written as WebM (`dila.index.demo`) are indexed with the bundled model, each run
into a fresh directory, after a warm-up. Within every indexer run the model's own calls are timed
too, so the indexer's overhead (decoding, tables, Parquet, manifest, bookkeeping) is the run's wall
time minus its model time, both suffering the same load on a shared machine. Model passes alone
(`Pipeline.encode_clip` on the decoded frames) alternate with the runs. Model loading is outside
all timings. Medians of the repeats; the best run of each is printed too.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

import dila.index.build as build
import dila.index.local as local
from dila.index import IndexConfig, build_index
from dila.index.decode import decode
from dila.index.demo import write_procedural_corpus
from dila.index.encode import clip_actions, load_pipeline
from dila.index.sources import open_corpus

OVERHEAD_BUDGET = 50  # percent of the model's time


def model_seconds(pipeline, clips) -> float:
    start = time.perf_counter()
    for frames in clips:
        pipeline.encode_clip(frames)
    return time.perf_counter() - start


def index_seconds(config: IndexConfig) -> tuple[float, int]:
    start = time.perf_counter()
    manifest = build_index(config)
    return time.perf_counter() - start, manifest["counts"]["transitions"]


class Timed:
    """A function that adds up the seconds spent in it."""

    def __init__(self, fn):
        self.fn, self.seconds = fn, 0.0

    def __call__(self, *args):
        start = time.perf_counter()
        try:
            return self.fn(*args)
        finally:
            self.seconds += time.perf_counter() - start


def report(name: str, seconds: list[float], transitions: int) -> None:
    median, best = statistics.median(seconds), min(seconds)
    print(f"{name:30s} {median:7.2f} s {transitions / median:8.1f} /s"
          f"   (best {best:6.2f} s {transitions / best:8.1f} /s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=15, help="clips (spread over the 5 kinds of motion)")
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ray", action="store_true", help="also Ray Data with 1 and 2 model actors")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="bench-index-"))
    write_procedural_corpus(work / "clips", clips_per_kind=max(1, args.clips // 5), frames=args.frames)
    config = IndexConfig(str(work / "clips"), work / "warm-up", frames=args.frames, window=args.frames, progress=False)
    loaded = load_pipeline(config)
    build.load_pipeline = lambda config: loaded
    pipeline = loaded[0]
    corpus = open_corpus(config.source)
    clips = [decode(task, corpus, config, pipeline.image_size).frames for task in corpus.tasks]
    model_seconds(pipeline, clips)
    _, transitions = index_seconds(config)
    model, indexer, inside = [], [], []
    for repeat in range(args.repeats):
        model.append(model_seconds(pipeline, clips))
        local.clip_actions = timed = Timed(clip_actions)
        indexer.append(index_seconds(replace(config, out=work / f"local{repeat}"))[0])
        local.clip_actions = clip_actions
        inside.append(timed.seconds)
    print(f"{len(clips)} clips of {args.frames} frames = {transitions} transitions; {args.threads} torch threads; "
          f"median of {args.repeats} (transitions per second)")
    report("model alone (encode_clip)", model, transitions)
    report("indexer (local engine)", indexer, transitions)
    report("  model within the indexer", inside, transitions)
    shares = sorted(100 * (wall - spent) / spent for wall, spent in zip(indexer, inside))
    verdict = "met" if statistics.median(shares) <= OVERHEAD_BUDGET else "NOT met"
    print(f"{'indexer overhead':30s} {statistics.median(shares):7.0f} % of the model's time in the same run "
          f"(runs: {', '.join(f'{share:.0f}' for share in shares)} %; budget {OVERHEAD_BUDGET} %: {verdict})")
    if args.ray:
        ray_rows(config, work, transitions, args.repeats)


def ray_rows(config: IndexConfig, work: Path, transitions: int, repeats: int) -> None:
    """Each run includes starting its actors (and loading the model in them)."""
    import ray

    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    print(f"{'ray.init (local, 2 CPUs)':30s} {time.perf_counter() - start:7.2f} s")
    for workers in (1, 2):
        runs = [index_seconds(replace(config, out=work / f"ray{workers}-{repeat}", engine="ray", workers=workers))[0]
                for repeat in range(repeats)]
        report(f"indexer (ray, {workers} worker{'s' if workers > 1 else ''})", runs, transitions)
    ray.shutdown()


if __name__ == "__main__":
    main()

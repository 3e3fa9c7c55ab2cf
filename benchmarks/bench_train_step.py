"""One training step of each shipped recipe's design, model only (random tokens: no data, no codec).

    python -m benchmarks.bench_train_step [--threads 2] [--repeats 3]

Phase-1 loss with oracle 4, detached dynamics 1 and symmetry 0, then an AdamW step, on a batch of
12 six-frame clips; the minimum over `--repeats` steps after one warm-up step. Wall seconds, and the
process's CPU seconds (all threads), which other load on the machine disturbs less.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from dila.config import DiLAConfig
from dila.losses import LossWeights, world_model_loss
from dila.train import small_config
from dila.world_model import DiLAWorldModel

DESIGNS = {
    "8x8 grid, 64-d tokens (shipped)": (small_config(64), 8),
    "16x16 grid, 48-d tokens": (small_config(48), 16),
    "16x16 grid, 48-d tokens, per-frame inverse norm (recipe)": (replace(small_config(48), inverse_norm="frame"), 16),
}
WEIGHTS = LossWeights(symmetry=0.0, oracle=4.0, detached_dynamics=1.0)


def time_step(config: DiLAConfig, grid: int, repeats: int, batch: int = 12, frames: int = 6) -> tuple[float, float]:
    torch.manual_seed(0)
    model = DiLAWorldModel(config).train()
    optimizer = torch.optim.AdamW(model.parameters(), 1e-4)
    tokens = torch.randn(batch, frames, config.embed_dim, grid, grid)

    def step():
        loss, _ = world_model_loss(model, tokens, 1, WEIGHTS)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step()
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        step()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"| design | s / step (wall, {args.threads} threads) | CPU s / step |\n| --- | --- | --- |")
    for name, (config, grid) in DESIGNS.items():
        wall, cpu = time_step(config, grid, args.repeats)
        print(f"| {name} | {wall:.2f} | {cpu:.2f} |", flush=True)


if __name__ == "__main__":
    main()

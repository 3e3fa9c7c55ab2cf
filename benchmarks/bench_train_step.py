"""One training step of each shipped recipe's design, model only (random tokens: no data, no codec).

    python -m benchmarks.bench_train_step [--threads 2] [--repeats 3]
    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 TCMALLOC_RELEASE_RATE=0 python -m benchmarks.bench_train_step

The loss of each stage (oracle 4, detached dynamics 1; phase 1 on 12 six-frame clips unless the row
says otherwise; the shipped 8x8 design with the terms of its last stages, on random block-matched shifts
and frames, and a random pixel view for its warp), then an AdamW step; the minimum over `--repeats` steps
after one warm-up step. Wall seconds, and the process's CPU seconds (all threads), which other load on the machine disturbs less.

The allocator matters as much as any kernel: a 16x16 step frees and allocates gigabytes, and glibc's malloc serves
every block over 32 MB with a fresh mapping that the kernel must fault in page by page, so one elementwise product
over the content memory's states ([3072, 6, 64, 8]) takes ~240 ms in a training step against ~10 ms alone.
tcmalloc (Debian's `libtcmalloc-minimal4`, preloaded, with `TCMALLOC_RELEASE_RATE=0` so that freed memory is kept)
reuses it; the first line printed says which allocator the process runs on.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from dila.config import DiLAConfig
from dila.hub import BUNDLED
from dila.losses import LossWeights, world_model_loss
from dila.train import small_config
from dila.world_model import DiLAWorldModel

RECIPE16 = replace(small_config(48), inverse_norm="frame")  # scripts/train_bundled16.sh
SHIPPED = LossWeights(symmetry=0.0, oracle=4.0, detached_dynamics=1.0)
SHIPPED_TERMS = LossWeights(sharpness=2.0, motion=1.0, stretch=1.0, readout=0.3, rest=30.0, even=30.0, pixel=10.0,
                            pick=5.0)  # stage 14


@dataclass(frozen=True)
class Design:
    config: DiLAConfig
    grid: int
    weights: LossWeights = SHIPPED
    phase: int = 1
    batch: int = 12
    frames: int = 6


DESIGNS = {
    "8x8 grid, 64-d tokens (shipped)": Design(DiLAConfig.load(BUNDLED / "config.json"), 8, SHIPPED_TERMS),
    "8x8 grid, 64-d tokens, no warp": Design(small_config(64), 8),
    "16x16 grid, 48-d tokens": Design(small_config(48), 16),
    "16x16 recipe, stage 1 (not antisymmetric, symmetry 0.02)":
        Design(replace(RECIPE16, inverse_antisymmetric=False), 16, replace(SHIPPED, symmetry=0.02)),
    "16x16 recipe, stage 2": Design(RECIPE16, 16),
    "16x16 recipe, stage 3 (phase 2, 6 x 8 frames)": Design(RECIPE16, 16, phase=2, batch=6, frames=8),
}


def time_step(design: Design, repeats: int) -> tuple[float, float]:
    torch.manual_seed(0)
    model = DiLAWorldModel(design.config).train()
    optimizer = torch.optim.AdamW(model.parameters(), 1e-4)
    tokens = torch.randn(design.batch, design.frames, design.config.embed_dim, design.grid, design.grid)
    warp = model.fusion_decoder.warp
    if warp is not None:
        warp.to_pixels.normal_()
        warp.to_tokens.normal_()
        if warp.picker is not None:
            warp.pixel_offset.normal_()

    b, t, size = design.batch, design.frames, design.grid * design.config.warp_patch
    shifts = torch.randint(-2, 3, (b, t - 1, design.grid, design.grid, 2)).float() if design.weights.reads_shifts else None
    frames = torch.rand(b, t, design.config.warp_channels, size, size) if design.weights.pixel else None

    def step():
        loss, _ = world_model_loss(model, tokens, design.phase, design.weights, shifts, frames=frames)
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


def allocator() -> str:
    """The malloc this process runs on: a preloaded tcmalloc or jemalloc, else the C library's."""
    maps = Path("/proc/self/maps").read_text() if Path("/proc/self/maps").exists() else ""
    return next((name for name in ("tcmalloc", "jemalloc") if name in maps), "the C library's malloc")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"allocator: {allocator()}")
    print(f"| design | s / step (wall, {args.threads} threads) | CPU s / step |\n| --- | --- | --- |")
    for name, design in DESIGNS.items():
        wall, cpu = time_step(design, args.repeats)
        print(f"| {name} | {wall:.2f} | {cpu:.2f} |", flush=True)


if __name__ == "__main__":
    main()

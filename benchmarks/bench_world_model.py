"""Latency of the published-size world model on CPU, with and without the weight-only caches.

    python -m benchmarks.bench_world_model [--threads 2] [--repeats 5]

Random weights at the paper's configuration (123M parameters), a 16x16 grid of 768-d tokens.
`step` is one slider update (forward model + fusion decoder); `commit` adds the generated frame's
trip back through the structure and content encoders and one memory step; `latent actions` is
the inverse pass over 8 frames.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from dila import DiLAConfig, DiLAWorldModel
from dila.modules.position import ContinuousPositionBias


def median_seconds(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(model: DiLAWorldModel, repeats: int) -> dict[str, float]:
    torch.manual_seed(0)
    clip = torch.randn(1, 8, 768, 16, 16)
    state = model.start(clip[:, :2])
    action = torch.randn(1, model.config.action_dim)
    return {
        "step (forward model + fusion decoder)": median_seconds(lambda: model.preview(state, action), repeats),
        "commit (step + re-encode + memory step)": median_seconds(lambda: model.step(state, action), repeats),
        "latent actions, 8 frames": median_seconds(lambda: model.latent_actions(clip), repeats),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = DiLAWorldModel(DiLAConfig()).eval()
    print(f"parameters: {model.num_parameters():,}; threads: {args.threads}")
    results = {}
    with torch.inference_mode():
        for cached in (True, False):
            ContinuousPositionBias.cache_enabled = cached
            results[cached] = run(model, args.repeats)
    print(f"{'median seconds':42s} {'cached':>8s} {'uncached':>9s} {'speed-up':>9s}")
    for name, fast in results[True].items():
        slow = results[False][name]
        print(f"{name:42s} {fast:8.3f} {slow:9.3f} {slow / fast:8.1f}x")


if __name__ == "__main__":
    main()

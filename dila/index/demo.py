"""The demo index that ships with the explorer: procedural clips (`dila.data`) written as WebM
videos inside the index, grouped in a folder per kind of motion, indexed with the bundled model.

    python -m dila.index.demo --out assets/demo_index
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

from dila.data import KINDS, sample_clip
from dila.index.build import build_index
from dila.index.config import IndexConfig
from dila.video import write_video

DEMO_INDEX = Path(__file__).resolve().parents[2] / "assets" / "demo_index"
CLIPS_PER_KIND = 12
FRAMES = 24
FPS = 8.0


def write_procedural_corpus(folder: str | Path, clips_per_kind: int = CLIPS_PER_KIND, frames: int = FRAMES,
                            seed: int = 0, kinds: tuple[str, ...] = KINDS) -> list[Path]:
    """`clips_per_kind` held-out procedural clips of each kind as `folder/<kind>/<kind>-NN.webm`."""
    paths = []
    for k, kind in enumerate(kinds):
        (Path(folder) / kind).mkdir(parents=True, exist_ok=True)
        for i in range(clips_per_kind):
            clip = sample_clip(np.random.default_rng([seed, k, i]), "heldout", kind, frames)
            paths.append(write_video(clip.frames, Path(folder) / kind / f"{kind}-{i:02d}.webm", FPS))
    return paths


def make_demo(out: str | Path, clips_per_kind: int = CLIPS_PER_KIND, frames: int = FRAMES) -> dict:
    """A fresh demo index in `out` (its clips in `out/clips`); returns the manifest."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    write_procedural_corpus(out / "clips", clips_per_kind, frames)
    return build_index(IndexConfig(str(out / "clips"), out, frames=frames, window=frames, progress=False))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dila.index.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEMO_INDEX, help="default: assets/demo_index")
    parser.add_argument("--clips-per-kind", type=int, default=CLIPS_PER_KIND)
    parser.add_argument("--frames", type=int, default=FRAMES)
    args = parser.parse_args(argv)
    manifest = make_demo(args.out, args.clips_per_kind, args.frames)
    print(f"{args.out}: {manifest['counts']}")


if __name__ == "__main__":
    main()

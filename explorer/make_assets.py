"""Regenerate the example clips in assets/: `python -m explorer.make_assets`.

Procedural held-out scenes (shapes, photos and colours the bundled model never trained on)
moving at a constant rate, so each clip shows one kind of motion; plus a pair of different
scenes driven by the same actions, for transfer.
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from dila.data.procedural import fits, render_clip, render_pair, sample_scene
from dila.video import write_video

SIZE, FRAMES, FPS, SEED = 128, 16, 8.0, 7
ASSETS = Path(__file__).resolve().parent.parent / "assets"

# name: (camera scene, start (x, y, theta, scale) as fractions of the frame for x and y, action per step)
CONSTANT = {
    "translation": (False, (0.25, 0.3, 0.0, 1.0), (0.035, 0.028, 0.0, 0.0)),
    "rotation": (False, (0.5, 0.5, 0.0, 1.1), (0.0, 0.0, 0.2, 0.0)),
    "scaling": (False, (0.5, 0.5, 0.3, 0.75), (0.0, 0.0, 0.0, 0.05)),
    "camera_pan": (True, (1.0, 1.0, 0.0, 1.0), (0.03, 0.0, 0.0, 0.0)),
}


def constant_clip(rng: np.random.Generator, camera: bool, start, step) -> np.ndarray:
    scene = sample_scene(rng, "heldout", SIZE, camera=camera)
    x, y, theta, scale = start
    scene = replace(scene, start=np.array([x * SIZE, y * SIZE, theta, scale]))
    action = np.array([step[0] * SIZE, step[1] * SIZE, step[2], step[3]], np.float32)
    clip = render_clip(scene, np.repeat(action[None], FRAMES - 1, axis=0), "camera" if camera else "compose")
    if not all(fits(scene, state) for state in clip.states):
        raise ValueError("the motion leaves the frame; change its start or rate")
    return clip.frames


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ASSETS)
    out = parser.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    for name, (camera, start, step) in CONSTANT.items():
        write_video(constant_clip(rng, camera, start, step), out / f"{name}.webm", FPS)
    motion, appearance = render_pair(SEED, "heldout", "translate", FRAMES, SIZE)
    write_video(motion.frames, out / "pair_motion.webm", FPS)
    write_video(appearance.frames, out / "pair_appearance.webm", FPS)
    print("\n".join(sorted(str(p) for p in out.glob("*.webm"))))


if __name__ == "__main__":
    main()

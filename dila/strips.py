"""A PNG strip of what a model makes of held-out procedural clips, to look at before trusting a number.

    python -m dila.strips --model checkpoints --out docs/strips/bundled.png

Rows, for each of `--clips` held-out clips: the true frames; the teacher-forced one-step
predictions; the rollout from frame 0 with the clip's own latent actions; a transfer pair (the
true target B' and clip A's actions driving B's first frame). Then one slider row per probe
direction (+dx, +dy, rotation, log scale): the first frame of an object clip previewed at -2..+2
standard deviations of the training actions along the latent direction the probe maps to it.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from dila.data.procedural import KINDS, ProceduralVideoDataset, render_pair
from dila.evaluate import COMPONENTS, _flat, along, apparent_motion, clip_actions, probe_direction
from dila.hub import BUNDLED, load_world_model
from dila.pipeline import Pipeline

SIGMAS = (-2, -1, 0, 1, 2)
LABEL_WIDTH = 96


def label(row: np.ndarray, text: str) -> np.ndarray:
    """A row of frames with `text` on a white strip to its left."""
    pad = np.full((row.shape[0], LABEL_WIDTH, 3), 255, np.uint8)
    cv2.putText(pad, text, (2, row.shape[0] // 2 + 3), cv2.FONT_HERSHEY_SIMPLEX, 0.28, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate((pad, row), axis=1)


def as_row(frames: np.ndarray, width: int) -> np.ndarray:
    """Frames `n h w 3` side by side, padded with white to `width` frames."""
    n, h, w, _ = frames.shape
    row = np.full((h, width * w, 3), 255, np.uint8)
    row[:, : n * w] = np.concatenate(list(frames), axis=1)
    return row


def clip_rows(pipeline: Pipeline, index: int, frames: int, seed: int) -> list[tuple[str, np.ndarray]]:
    clip = ProceduralVideoDataset("heldout", index + 1, frames, pipeline.image_size, seed=seed).clip(index)
    encoding = pipeline.encode_clip(clip.frames)
    one_step = pipeline.predict_next(clip.frames)
    rollout = pipeline.rollout(clip.frames[:1], encoding.actions)
    source, target = render_pair(np.random.default_rng([seed, 3, index]), "heldout", KINDS[index % len(KINDS)], frames,
                                 pipeline.image_size)
    transferred = pipeline.transfer(source.frames, target.frames)
    first = clip.frames[:1]
    return [
        (f"true ({clip.kind})", clip.frames),
        ("one step", np.concatenate((first, one_step))),
        ("rollout", np.concatenate((first, rollout))),
        ("transfer: B'", target.frames),
        ("A's motion on B", np.concatenate((target.frames[:1], transferred))),
    ]


def slider_rows(pipeline: Pipeline, seed: int, probe_clips: int = 64, frames: int = 6) -> list[tuple[str, np.ndarray]]:
    train = ProceduralVideoDataset("train", probe_clips, frames, pipeline.image_size, seed=seed)
    clips = [c for c in map(train.clip, range(probe_clips)) if not c.scene.camera]  # the slider moves an object
    actions = _flat(clip_actions(pipeline, np.stack([c.frames for c in clips]))["actions"])
    truth = _flat(np.stack([apparent_motion(c) for c in clips]))
    heldout = ProceduralVideoDataset("heldout", 32, 2, pipeline.image_size, seed=seed)
    start = next(c for c in map(heldout.clip, range(32)) if not c.scene.camera).frames[:1]
    state, rows = pipeline.start(start), []
    for component in COMPONENTS:
        direction = probe_direction(actions, truth, component)
        previews = [pipeline.preview(state, along(actions, direction, s)) for s in SIGMAS]
        rows.append((f"slider {component} -2..+2", np.stack(previews)))
    return rows


def make_strip(pipeline: Pipeline, clips: int = 3, frames: int = 8, seed: int = 0, scale: int = 1) -> np.ndarray:
    rows = [row for i in range(clips) for row in clip_rows(pipeline, i, frames, seed)]
    rows += slider_rows(pipeline, seed)
    width = max(frames, len(SIGMAS))
    image = np.concatenate([label(as_row(f, width), text) for text, f in rows], axis=0)
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)


def main(argv=None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(BUNDLED))
    parser.add_argument("--codec", default=None, help="default: MODEL/codec, else the bundled codec")
    parser.add_argument("--out", required=True, help="PNG file to write (256 colours)")
    parser.add_argument("--clips", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=int, default=1, help="pixels per frame pixel")
    args = parser.parse_args(argv)
    codec = args.codec or (Path(args.model) / "codec" if (Path(args.model) / "codec").is_dir() else BUNDLED / "codec")
    pipeline = Pipeline(load_world_model(args.model), codec)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    image = make_strip(pipeline, args.clips, seed=args.seed, scale=args.scale)
    Image.fromarray(image).quantize(256, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
    return out


if __name__ == "__main__":
    main()

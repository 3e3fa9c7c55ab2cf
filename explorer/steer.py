"""Steering the world model from a frame: preview, commit and repeat actions."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer import words
from explorer.device import compute

STRIP_VALUES = (-2.0, 0.0, 2.0)


@dataclass(frozen=True)
class Readout:
    """How well the model obeys: the action inferred back from (current, generated frame)
    against the one requested."""

    cosine: float
    relative_error: float

    def markdown(self) -> str:
        return words.controllability(self.cosine, self.relative_error)


@dataclass
class Steering:
    state: object  # dila.world_model.WorldState
    frames: list[np.ndarray]  # committed frames; the first is the start frame
    base: np.ndarray  # the inferred action that "reset" comes back to
    fps: float
    clip: str = ""  # the clip it started in
    start: int = 0  # the frame of that clip it started after
    keys: object = None  # explorer.play.PlayKeys once play is set up for this run

    @property
    def current(self) -> np.ndarray:
        return self.frames[-1]


def begin(pipeline, frames: np.ndarray, actions: np.ndarray, index: int, fps: float, clip: str = "") -> Steering:
    """Start after frame `index` of a clip, its earlier frames as context; the action to reset
    to is the clip's own next transition (its last one at the last frame)."""
    state = compute(pipeline.start, frames[: index + 1])
    base = actions[min(index, len(actions) - 1)].astype(np.float32)
    return Steering(state, [frames[index]], base, fps, clip, index)


def preview(pipeline, steering: Steering, action: np.ndarray) -> np.ndarray:
    return compute(pipeline.preview, steering.state, action)


def advance(pipeline, steering: Steering, action: np.ndarray) -> str:
    """Commit `action`: the new frame joins the run; returns its controllability."""
    frame, state = compute(pipeline.step, steering.state, action)
    result = readout(pipeline, steering, action, frame)
    steering.state = state
    steering.frames.append(frame)
    return result


def readout(pipeline, steering: Steering, action: np.ndarray, frame: np.ndarray | None = None) -> str:
    """Controllability of `action` from the current frame (to its preview unless `frame` is given)."""
    frame = preview(pipeline, steering, action) if frame is None else frame
    return controllability(pipeline, steering.current, frame, action).markdown()


def controllability(pipeline, current: np.ndarray, generated: np.ndarray, requested: np.ndarray) -> Readout:
    inferred = compute(pipeline.encode_clip, np.stack([current, generated])).actions[0].astype(np.float64)
    requested = np.asarray(requested, np.float64)
    norms = np.linalg.norm(inferred) * np.linalg.norm(requested)
    cosine = float(inferred @ requested / norms) if norms > 0 else 0.0
    error = float(np.linalg.norm(inferred - requested) / max(np.linalg.norm(requested), 1e-8))
    return Readout(cosine, error)


def direction_strip(pipeline, steering: Steering, pca, values: tuple[float, ...] = STRIP_VALUES) -> np.ndarray:
    """What each direction does from the current frame: one row per direction (the library's
    principal directions), one column per value in `values` (standard deviations along it, the
    other directions where the inferred action has them), as one uint8 image with thin gutters."""
    base = pca.coordinates(steering.base)
    rows = []
    for index in range(len(pca.scales)):
        frames = []
        for value in values:
            coordinates = base.copy()
            coordinates[index] = value
            frames.append(preview(pipeline, steering, pca.steer(steering.base, coordinates)))
        rows.append(_row(frames))
    gutter = np.full((2, rows[0].shape[1], 3), 255, np.uint8)
    return np.concatenate([part for row in rows for part in (row, gutter)][:-1])


def _row(frames: list[np.ndarray]) -> np.ndarray:
    gutter = np.full((frames[0].shape[0], 2, 3), 255, np.uint8)
    return np.concatenate([part for frame in frames for part in (frame, gutter)][:-1], axis=1)

"""Frames to what a browser shows: thumbnails, side-by-side panels and WebM files.

Videos are written at the model's own frame size (the browser scales them up): VP9 encoding
in OpenCV costs about 10x more per enlarged frame than the model takes to make it.
"""
from __future__ import annotations

import base64
from pathlib import Path

import cv2
import numpy as np

from dila.video import center_crop_square, write_video

GUTTER = 2


def fit_image(image: np.ndarray, side: int) -> np.ndarray:
    """Any RGB(A) or grey image as uint8 `side side 3`, centre-cropped."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    image = center_crop_square(image[..., :3].astype(np.uint8))
    interpolation = cv2.INTER_AREA if image.shape[0] > side else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(image), (side, side), interpolation=interpolation)


def panels(columns: list[np.ndarray]) -> np.ndarray:
    """Clips `t h w 3` side by side with a dark gutter; shorter ones hold their last frame."""
    length = max(len(c) for c in columns)
    tiles = []
    for clip in columns:
        clip = np.asarray(clip)[np.minimum(np.arange(length), len(clip) - 1)]
        tiles += [clip, np.full((*clip.shape[:2], GUTTER, 3), 32, np.uint8)]
    return np.concatenate(tiles[:-1], axis=2)


def write_clip(frames: np.ndarray, path: Path, fps: float) -> str:
    """A browser-playable WebM (VP9, else VP8) of the frames."""
    return str(write_video(np.asarray(frames), path, fps=float(np.clip(fps, 2, 30))))


def png_data_uri(image: np.ndarray) -> str:
    ok, data = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR))
    return "data:image/png;base64," + base64.b64encode(data.tobytes()).decode()

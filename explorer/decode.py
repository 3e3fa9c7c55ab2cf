"""Turning user files into model-sized frames (run inside the decode worker)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from dila.video import VideoError, read_video
from explorer.errors import UserError

VIDEO_TYPES = (".mp4", ".webm", ".mov", ".avi", ".mkv", ".gif", ".m4v")


def decode_clip(path: str, image_size: int, max_frames: int, max_duration_s: float) -> dict[str, np.ndarray]:
    """Up to `max_frames` evenly spaced frames, centre-cropped and resized to `image_size`."""
    try:
        video = read_video(path, max_frames=max_frames, size=(image_size, image_size), crop_square=True,
                           max_duration_s=max_duration_s)
    except VideoError as error:
        raise UserError(str(error)) from None
    return {"frames": video.frames, "fps": np.float64(video.fps)}


def check_upload(path: str | Path, max_mb: int) -> Path:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path.name}: no such file.")
    size_mb = path.stat().st_size / 1024**2
    if size_mb > max_mb:
        raise UserError(f"{path.name}: the file is {size_mb:.0f} MB; the limit is {max_mb} MB.")
    return path

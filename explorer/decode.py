"""Turning user files into model-sized frames (run inside the decode worker)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from dila.video import FITS, VideoError, read_video, square_frames
from explorer.errors import UserError

VIDEO_TYPES = (".mp4", ".webm", ".mov", ".avi", ".mkv", ".gif", ".m4v")


def decode_clip(path: str, image_size: int, max_frames: int, max_duration_s: float,
                fit: str = "letterbox") -> dict[str, np.ndarray]:
    """Up to `max_frames` evenly spaced frames, square at `image_size`: the whole frame with
    black bars (`letterbox`) or its centre (`crop`); `aspect` is the source's width / height."""
    if fit not in FITS:
        raise UserError(f"Fit must be one of {', '.join(FITS)}, got {fit!r}.")
    try:
        video = read_video(path, max_frames=max_frames, max_pixels=(2 * image_size) ** 2, max_duration_s=max_duration_s,
                           allow_partial=True)
    except VideoError as error:
        raise UserError(str(error)) from None
    height, width = video.frames.shape[1:3]
    frames = square_frames(video.frames, image_size, fit)
    result = {"frames": frames, "fps": np.float64(video.fps), "aspect": np.float64(width / height)}
    if video.announced is not None:
        result.update(decodable=np.int64(video.decodable), announced=np.int64(video.announced))
    return result


def decode_failure(name: str, error: Exception) -> str:
    """What to tell the user when the decoder failed on the file `name` (`error`: a
    `explorer.worker.WorkerError`). A decoder that ran out of time is blamed, not the file."""
    if getattr(error, "kind", "") == "timeout":
        return (f"{name}: the decoder was stopped: {error}. That says nothing against the file: try again "
                "in a moment, or try a shorter video.")
    return f"{name}: could not be decoded ({error})."


def check_upload(path: str | Path, max_mb: int) -> Path:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path.name}: no such file.")
    size_mb = path.stat().st_size / 1024**2
    if size_mb > max_mb:
        raise UserError(f"{path.name}: the file is {size_mb:.0f} MB; the limit is {max_mb} MB.")
    return path

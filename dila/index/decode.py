"""Decoding a clip into the model's square frames, with where each frame sits in its source."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dila.index.config import IndexConfig
from dila.index.sources import ClipTask, Corpus, open_dataset
from dila.video import VideoError, read_video, square_frames


@dataclass
class DecodedClip:
    clip_id: str
    source: str  # the file path relative to the corpus root, or the dataset row's video path
    frames: np.ndarray  # uint8 t s s 3
    indices: np.ndarray  # int64 t: each frame's index in the source
    frame_count: int
    fps: float
    height: int
    width: int


def decode(task: ClipTask, corpus: Corpus, config: IndexConfig, side: int) -> DecodedClip:
    """Up to `config.frames` evenly spaced frames, squared to `side` as the explorer does (the part
    that decodes of a video whose later frames fail). Raises VideoError for unusable files."""
    if task.row is None:
        return _decode_file(task, Path(task.path), task.clip_id, config, side)
    video = open_dataset(corpus.root, config.split, config.video_column)[task.row]
    column = next(iter(video.values()))
    if not column.get("bytes"):
        return _decode_file(task, Path(column["path"]), column["path"], config, side)
    name = column.get("path") or ""
    with tempfile.NamedTemporaryFile(suffix=Path(name).suffix) as file:
        file.write(column["bytes"])
        file.flush()
        try:
            return _decode_file(task, Path(file.name), name, config, side)
        except VideoError as error:
            raise VideoError(str(error).replace(Path(file.name).name, name or task.clip_id)) from None


def _decode_file(task: ClipTask, path: Path, source: str, config: IndexConfig, side: int) -> DecodedClip:
    video = read_video(path, max_frames=config.frames, max_pixels=(2 * side) ** 2,
                       max_duration_s=config.max_duration_s, allow_partial=True)
    info, frames = video.source, square_frames(video.frames, side, config.fit)
    return DecodedClip(task.clip_id, source, frames, video.indices, info.frames, info.fps, info.height, info.width)


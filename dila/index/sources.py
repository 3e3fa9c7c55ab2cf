"""What to index: the clips of a folder or glob of videos, or of a Hugging Face `datasets` video dataset.

A clip is named by a stable id: its path relative to the source folder (posix), or `split/row` for a
dataset row. Ids order the clips, so every run sees them in the same order.
"""
from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from dila.video import IMAGE_SUFFIXES, VIDEO_SUFFIXES

_GLOB = re.compile(r"[*?\[]")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class ClipTask:
    clip_id: str
    path: str | None = None  # a video file or a folder of frames
    row: int | None = None  # a row of the dataset source


@dataclass(frozen=True)
class Corpus:
    kind: str  # "files" or "dataset"
    root: str  # the folder clip paths are relative to, or the dataset (directory or Hub id)
    tasks: tuple[ClipTask, ...]


def open_corpus(source: str, split: str = "train", video_column: str | None = None) -> Corpus:
    path = Path(source)
    if _is_saved_dataset(path) or (not path.exists() and not _GLOB.search(source) and _REPO_ID.match(source)):
        source = str(path.absolute()) if path.exists() else source
        rows = len(open_dataset(source, split, video_column))
        width = len(str(max(rows - 1, 0)))
        return Corpus("dataset", source, tuple(ClipTask(f"{split}/{row:0{width}d}", row=row) for row in range(rows)))
    if _GLOB.search(source):
        root = _glob_root(source)
        paths = [Path(p) for p in glob.glob(source, recursive=True) if _is_clip(Path(p))]
    elif path.is_dir():
        root, paths = path, list(_walk(path))
    elif path.is_file():
        root, paths = path.parent, [path]
    else:
        raise FileNotFoundError(f"{source}: no such file or folder, glob with matches, or Hub dataset id 'owner/name'")
    if not paths:
        raise FileNotFoundError(f"{source}: no videos ({', '.join(VIDEO_SUFFIXES)}) or folders of frames found")
    tasks = (ClipTask(p.relative_to(root).as_posix(), path=str(p.absolute())) for p in paths)
    return Corpus("files", str(root), tuple(sorted(tasks, key=lambda task: task.clip_id)))


def _is_saved_dataset(path: Path) -> bool:
    return path.is_dir() and ((path / "state.json").is_file() or (path / "dataset_dict.json").is_file())


def _glob_root(pattern: str) -> Path:
    parts = Path(pattern).parts
    fixed = parts[:next(i for i, part in enumerate(parts) if _GLOB.search(part))]
    return Path(*fixed) if fixed else Path(".")


def _is_clip(path: Path) -> bool:
    if path.name.startswith("."):
        return False
    if path.is_file():
        return path.suffix.lower() in VIDEO_SUFFIXES
    return path.is_dir() and any(f.suffix.lower() in IMAGE_SUFFIXES for f in path.iterdir())


def _walk(root: Path):
    """Video files and folders of frames under `root`, hidden entries excluded."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        folder = Path(folder)
        if folder != root and _is_clip(folder):
            yield folder
        yield from (folder / f for f in files if _is_clip(folder / f))


@lru_cache(maxsize=4)
def open_dataset(source: str, split: str, video_column: str | None):
    """The split's rows with the video column undecoded ({"path", "bytes"}); cached per process."""
    import datasets

    if _is_saved_dataset(Path(source)):
        loaded = datasets.load_from_disk(source)
        dataset = loaded[split] if isinstance(loaded, datasets.DatasetDict) else loaded
    else:
        dataset = datasets.load_dataset(source, split=split)
    column = video_column or next((name for name, feature in dataset.features.items()
                                   if isinstance(feature, datasets.Video)), None)
    if column is None or column not in dataset.features:
        raise ValueError(f"{source}: no video column {video_column or ''} (columns: {', '.join(dataset.features)})")
    return dataset.select_columns([column]).cast_column(column, datasets.Video(decode=False))

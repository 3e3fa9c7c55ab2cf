"""Training windows from a folder of the user's own videos."""

import warnings
from pathlib import Path

import torch
from torch.utils.data import Dataset

from dila.data.tensors import frames_to_tensor
from dila.video import VIDEO_SUFFIXES, VideoError, read_video


def video_candidates(root: Path) -> list[Path]:
    """Video files (by suffix) and frame folders directly inside `root`, hidden entries excluded."""
    entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    return [p for p in entries if p.is_dir() or p.suffix.lower() in VIDEO_SUFFIXES]


class VideoFolderDataset(Dataset):
    """Windows of `frames` consecutive frames from every usable video in `root`.

    Each video (file or folder of frames) is decoded once through `dila.video.read_video`:
    up to `max_frames_per_video` evenly spaced frames, centre-cropped to a square and resized
    to `size`; videos longer than that are subsampled, so their windows span more time.
    Windows start every `stride` frames (default: `frames`, no overlap). Unusable
    videos, including those shorter than `frames`, are skipped with a warning naming them.
    Items: frames float32 [frames, 3, size, size] in [0, 1], video (index into `self.paths`)
    and start (first frame of the window), both int64.
    """

    def __init__(self, root: str | Path, frames: int = 8, size: int = 64, stride: int | None = None,
                 max_frames_per_video: int = 256):
        root = Path(root)
        if not root.is_dir():
            raise VideoError(f"{root}: not a folder.")
        self.frames, self.stride = frames, stride or frames
        self.paths, self.videos = [], []
        candidates = video_candidates(root)
        for path in candidates:
            try:
                video = read_video(path, max_frames_per_video, (size, size), crop_square=True, min_frames=frames)
            except VideoError as error:
                warnings.warn(f"Skipping unusable video {error}", stacklevel=2)
                continue
            self.paths.append(path)
            self.videos.append(video.frames)
        if not self.videos:
            raise VideoError(f"{root}: no usable videos with at least {frames} frames "
                             f"({len(candidates)} candidate(s) found; supported: {', '.join(VIDEO_SUFFIXES)} "
                             "or folders of images).")
        self.windows = [(v, start) for v, video in enumerate(self.videos)
                        for start in range(0, len(video) - frames + 1, self.stride)]

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        v, start = self.windows[index]
        return {
            "frames": frames_to_tensor(self.videos[v][start:start + self.frames]),
            "video": torch.tensor(v),
            "start": torch.tensor(start),
        }

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from dila.data.tensors import frames_to_tensor
from dila.data.videos import VideoFolderDataset
from dila.video import (
    VideoError,
    center_crop_square,
    resize_frames,
    write_gif,
    write_video,
)


def frames(count: int, height: int = 40, width: int = 60, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, height, width, 3), dtype=np.uint8)


@pytest.fixture
def folder(tmp_path):
    write_video(frames(20), tmp_path / "a.webm")
    write_gif(frames(10), tmp_path / "b.gif")
    (tmp_path / "c").mkdir()
    for i, frame in enumerate(frames(9, seed=1)):
        Image.fromarray(frame).save(tmp_path / "c" / f"{i:03d}.png")
    (tmp_path / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(500))
    write_video(frames(3), tmp_path / "short.webm")
    (tmp_path / "notes.txt").write_text("ignored: not a video suffix")
    return tmp_path


def load(root, **kwargs) -> VideoFolderDataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return VideoFolderDataset(root, **kwargs)


def test_windows_cover_each_usable_video(folder):
    dataset = load(folder, frames=8, size=32)
    assert [p.name for p in dataset.paths] == ["a.webm", "b.gif", "c"]
    assert [len(video) for video in dataset.videos] == [20, 10, 9]
    assert dataset.windows == [(0, 0), (0, 8), (1, 0), (2, 0)]
    assert len(load(folder, frames=8, size=32, stride=1)) == 13 + 3 + 2
    assert len(load(folder, frames=4, size=32, max_frames_per_video=12)) == 3 + 2 + 2


def test_items_are_cropped_resized_windows(folder):
    dataset = load(folder, frames=8, size=32)
    item = dataset[3]
    assert item["frames"].shape == (8, 3, 32, 32) and item["frames"].dtype == torch.float32
    assert item["video"] == 2 and item["start"] == 0
    expected = resize_frames(center_crop_square(frames(9, seed=1)[:8]), (32, 32))
    assert torch.equal(item["frames"], frames_to_tensor(expected))


def test_bad_and_short_files_are_skipped_with_a_warning(folder):
    with pytest.warns(UserWarning) as record:
        VideoFolderDataset(folder, frames=8, size=32)
    messages = [str(w.message) for w in record]
    assert len(messages) == 2
    assert messages[0].startswith("Skipping unusable video broken.mp4:")
    assert messages[1].startswith("Skipping unusable video short.webm:") and "at least 8" in messages[1]


def test_folders_without_usable_videos_raise(tmp_path):
    with pytest.raises(VideoError, match="no usable videos"):
        VideoFolderDataset(tmp_path)
    (tmp_path / "broken.webm").write_bytes(b"\x1a\x45\xdf\xa3" + bytes(100))
    with pytest.warns(UserWarning, match="broken.webm"), pytest.raises(VideoError, match="1 candidate"):
        VideoFolderDataset(tmp_path)
    with pytest.raises(VideoError, match="not a folder"):
        VideoFolderDataset(tmp_path / "missing")

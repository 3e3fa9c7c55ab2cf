import os

import cv2
import numpy as np
import pytest
from PIL import Image

from dila.native_log import drop_native_lines
from dila.video import (
    DEFAULT_FPS,
    VideoError,
    _keep_even,
    center_crop_square,
    even_indices,
    read_video,
    resize_frames,
    square_frames,
    write_gif,
    write_video,
)


def moving_gradient(count: int = 12, height: int = 48, width: int = 64) -> np.ndarray:
    """Smooth frames (codec friendly) whose content shifts right by 2 px per frame."""
    ys, xs = np.mgrid[:height, :width]
    frames = [np.stack([(xs - 2 * t) * 4 % 256, ys * 5, np.full_like(xs, 128)], axis=-1) for t in range(count)]
    return np.asarray(frames, np.uint8)


def grey_ramp_avi(path, count: int, fps: float = 25.0):
    """An MJPG AVI whose frame i is uniformly grey with value 2 * i."""
    writer = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*"MJPG"), fps, (32, 24))
    for i in range(count):
        writer.write(np.full((24, 32, 3), 2 * i, np.uint8))
    writer.release()
    return path


def test_webm_round_trip(tmp_path):
    frames = moving_gradient()
    path = write_video(frames, tmp_path / "clip.webm", fps=10)
    data = path.read_bytes()
    assert data.startswith(b"\x1a\x45\xdf\xa3") and (b"V_VP9" in data or b"V_VP8" in data)
    video = read_video(path)
    assert video.frames.shape == frames.shape and video.frames.dtype == np.uint8
    assert video.fps == pytest.approx(10)
    assert np.abs(video.frames.astype(int) - frames).mean() < 8


def test_writing_webm_prints_no_codec_tag_notice(tmp_path, capfd):
    write_video(moving_gradient(3), tmp_path / "quiet.webm")
    assert "is not supported with codec id" not in capfd.readouterr().err
    cv2.VideoWriter(str(tmp_path / "loud.webm"), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*"VP90"), 8, (64, 48)).release()
    assert "tag 0x30395056/'VP90' is not supported" in capfd.readouterr().err  # what OpenCV prints unfiltered


def test_only_the_matching_native_lines_are_dropped(capfd):
    with drop_native_lines("is not supported with codec id"):
        os.write(2, b"OpenCV: FFMPEG: tag 0x30395056/'VP90' is not supported with codec id 167\n")
        os.write(2, b"a real error\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "a real error\nafter\n"


def test_webm_with_odd_size_is_padded_to_even(tmp_path):
    frames = moving_gradient(4, 33, 47)
    video = read_video(write_video(frames, tmp_path / "odd.webm"))
    assert video.frames.shape == (4, 34, 48, 3)


def test_gif_round_trip(tmp_path):
    frames = moving_gradient(6)
    path = write_video(frames, tmp_path / "clip.gif", fps=10)
    video = read_video(path)
    assert video.frames.shape == frames.shape and video.fps == pytest.approx(10)
    assert np.abs(video.frames.astype(int) - frames).mean() < 6
    assert read_video(write_gif(frames, tmp_path / "again.gif", fps=5)).fps == pytest.approx(5)


def test_frame_folder_is_read_in_natural_order(tmp_path):
    frames = moving_gradient(11)
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(tmp_path / f"frame_{i}.png")
    (tmp_path / "notes.txt").write_text("not a frame")
    video = read_video(tmp_path)
    np.testing.assert_array_equal(video.frames, frames)
    assert video.fps == DEFAULT_FPS


@pytest.mark.parametrize("max_frames", [5, 40])
def test_long_video_is_sampled_evenly(tmp_path, max_frames):
    video = read_video(grey_ramp_avi(tmp_path / "ramp.avi", 120), max_frames=max_frames)
    expected = 2 * even_indices(120, max_frames)
    assert len(video.frames) == max_frames == len(expected)
    np.testing.assert_allclose(video.frames.mean(axis=(1, 2, 3)), expected, atol=3)
    assert video.fps == pytest.approx(25 * max_frames / 120)


def test_frames_are_cropped_and_resized_on_read(tmp_path):
    path = write_video(moving_gradient(), tmp_path / "clip.webm")
    assert read_video(path, size=(16, 20)).frames.shape == (12, 16, 20, 3)
    assert read_video(path, size=(16, 16), crop_square=True).frames.shape == (12, 16, 16, 3)
    assert read_video(path, max_pixels=48 * 64 // 4).frames.shape == (12, 24, 32, 3)


def test_helpers():
    frames = moving_gradient(3, 40, 60)
    np.testing.assert_array_equal(center_crop_square(frames), frames[:, :, 10:50])
    assert center_crop_square(frames[0]).shape == (40, 40, 3)
    assert resize_frames(frames, (20, 30)).shape == (3, 20, 30, 3)
    assert even_indices(10, 4).tolist() == [0, 3, 6, 9] and even_indices(3, 5).tolist() == [0, 1, 2]


def write_bytes(path, data: bytes):
    path.write_bytes(data)
    return path


def truncated(path, fraction: float):
    data = path.read_bytes()
    return write_bytes(path, data[:int(len(data) * fraction)])


def mp4v(path):
    writer = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*"mp4v"), 25, (64, 48))
    for frame in moving_gradient(30):
        writer.write(frame)
    writer.release()
    return path


BAD_FILES = {
    "missing": (lambda d: d / "missing.mp4", "no such file"),
    "empty": (lambda d: write_bytes(d / "empty.mp4", b""), "file is empty"),
    "random bytes": (lambda d: write_bytes(d / "noise.mp4", np.random.default_rng(0).bytes(4096)), "not a video"),
    "text": (lambda d: write_bytes(d / "notes.txt", b"hello\n" * 100), "not a video"),
    "text named mp4": (lambda d: write_bytes(d / "notes.mp4", b"hello\n" * 100), "not a video"),
    "image named mp4": (lambda d: write_bytes(d / "img.mp4", cv2.imencode(".png", moving_gradient(1)[0])[1].tobytes()),
                        "not a video"),
    "broken gif": (lambda d: write_bytes(d / "noise.gif", b"GIF89a" + np.random.default_rng(0).bytes(3000)),
                   "GIF cannot be read"),
    "broken webm": (lambda d: write_bytes(d / "noise.webm", b"\x1a\x45\xdf\xa3" + np.random.default_rng(0).bytes(3000)),
                    "cannot be opened"),
    "truncated mp4": (lambda d: truncated(mp4v(d / "cut.mp4"), 0.5), "cannot be opened"),
    "truncated webm": (lambda d: truncated(write_video(moving_gradient(60), d / "cut.webm"), 0.3), "truncated"),
    "one frame": (lambda d: write_video(moving_gradient(1), d / "one.webm"), "only 1 frame"),
    "one-frame gif": (lambda d: write_gif(moving_gradient(1), d / "one.gif"), "only 1 frame"),
    "too wide": (lambda d: write_gif(np.zeros((2, 8, 9000, 3), np.uint8), d / "wide.gif"), "9000x8 pixels"),
    "too small": (lambda d: write_gif(np.zeros((2, 4, 4, 3), np.uint8), d / "tiny.gif"), "4x4 pixels"),
    "empty folder": (lambda d: (d / "frames").mkdir() or d / "frames", "no decodable frames"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_unusable_inputs_raise_a_clear_video_error(tmp_path, case):
    make, message = BAD_FILES[case]
    path = make(tmp_path)
    with pytest.raises(VideoError, match=message) as error:
        read_video(path)
    assert str(error.value).startswith(path.name)


def test_limits_are_enforced(tmp_path):
    path = write_video(moving_gradient(12), tmp_path / "clip.webm", fps=10)
    with pytest.raises(VideoError, match="lasts 1.2 s; the limit is 1.0 s"):
        read_video(path, max_duration_s=1)
    with pytest.raises(VideoError, match="at least 20 are needed"):
        read_video(path, min_frames=20)
    with pytest.raises(ValueError):
        read_video(path, max_frames=0)
    assert issubclass(VideoError, ValueError)


def test_write_video_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        write_video(np.zeros((2, 8, 8, 3), np.float32), tmp_path / "x.webm")
    with pytest.raises(ValueError, match=".mp4"):
        write_video(moving_gradient(2), tmp_path / "x.mp4")


def test_streams_of_unknown_length_are_thinned_evenly():
    kept, seen = _keep_even(iter(range(1000)), 16)
    spacing = np.diff(kept)
    assert seen == 1000 and len(kept) == 16 and kept[0] == 0
    assert np.all(spacing == spacing[0]) and kept[-1] + spacing[0] > 999


def test_square_frames_letterbox_the_whole_frame_or_crop_its_centre():
    frames = np.zeros((2, 30, 40, 3), np.uint8)
    frames[:, :, :4] = 255  # a white band at the left edge
    boxed, cropped = square_frames(frames, 20, "letterbox"), square_frames(frames, 20, "crop")
    assert boxed.shape == cropped.shape == (2, 20, 20, 3)
    assert boxed[:, :2].max() == 0 and boxed[:, 10, :2].min() == 255  # black bars above, the band kept
    assert cropped.max() == 0  # the centre square leaves the band out
    with pytest.raises(ValueError, match="fit must be one of"):
        square_frames(frames, 20, "stretch")

"""Read and write videos; reading validates untrusted uploads.

Frames are uint8 RGB arrays [t, h, w, 3]. Containers are recognised by their first bytes,
never by the file name: MP4/MOV, WebM/MKV and AVI are decoded with OpenCV's FFmpeg
backend, GIF with Pillow; a folder of images is read as frames in natural name order.
Anything else (text, playlists, images named .mp4) is refused before any decoder sees it.

Limits: files up to MAX_FILE_BYTES (2 GiB), frame sides within [MIN_SIDE, MAX_SIDE] px
(checked from the header, before decoding), at most MAX_DURATION_S (2 h) of video, and at
most MAX_FRAMES frames returned; by default read_video returns DEFAULT_MAX_FRAMES (256)
frames of at most DEFAULT_MAX_PIXELS (640x480) pixels each, about 236 MB at most.
"""

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
from PIL import Image

from dila.native_log import drop_native_lines

MAX_FILE_BYTES = 2 * 1024**3
MAX_SIDE = 8192
MIN_SIDE = 8
MAX_DURATION_S = 2 * 3600.0
MAX_FRAMES = 4096
DEFAULT_MAX_FRAMES = 256
DEFAULT_MAX_PIXELS = 640 * 480
DEFAULT_FPS = 25.0
SEEK_GAP = 16
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi", ".gif")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
_QUICKTIME_ATOMS = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
_CODEC_TAG_NOTICE = r"OpenCV: FFMPEG: tag .* is not supported with codec id"  # WebM has no codec tags; VP8/9 still encode
_PIL_ERRORS = (OSError, EOFError, ValueError, IndexError, SyntaxError, Image.DecompressionBombError)


class VideoError(ValueError):
    """A file that cannot be used as a video; the message is fit to show to a user."""


class SourceInfo(NamedTuple):
    """The decoded source as it is: its frame count (announced, else counted), frame rate and picture size."""

    frames: int
    fps: float
    height: int
    width: int


class Video(NamedTuple):
    frames: np.ndarray
    fps: float
    decodable: int | None = None  # with allow_partial: how many of the `announced` frames decoded
    announced: int | None = None  # ... when later frames failed (None when the whole video decoded)
    indices: np.ndarray | None = None  # each returned frame's index in the source
    source: SourceInfo | None = None


def center_crop_square(frames: np.ndarray) -> np.ndarray:
    """The central square of an image [h, w, c] or frames [t, h, w, c]."""
    h, w = frames.shape[-3:-1]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return frames[..., top:top + side, left:left + side, :]


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if image.shape[:2] == size:
        return image
    shrinking = size[0] * size[1] < image.shape[0] * image.shape[1]
    return cv2.resize(image, size[::-1], interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def resize_frames(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Frames [t, h, w, 3] resized to size = (height, width)."""
    return np.stack([_resize(frame, tuple(size)) for frame in frames])


FITS = ("letterbox", "crop")  # how a non-square frame becomes square


def crop(frame: np.ndarray, side: int) -> np.ndarray:
    """The frame's central square scaled to `side`."""
    return resize_frames(center_crop_square(frame)[None], (side, side))[0]


def letterbox(frame: np.ndarray, side: int) -> np.ndarray:
    """The whole frame scaled to fit a `side` square, centred on black."""
    height, width = frame.shape[:2]
    scale = side / max(height, width)
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    out = np.zeros((side, side, 3), np.uint8)
    top, left = (side - size[0]) // 2, (side - size[1]) // 2
    out[top:top + size[0], left:left + size[1]] = resize_frames(frame[None], size)[0]
    return out


def square_frames(frames: np.ndarray, side: int, fit: str = "letterbox") -> np.ndarray:
    """Frames `t h w 3` made `t side side 3` by `fit`, one of `FITS`."""
    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS}, got {fit!r}")
    square = letterbox if fit == "letterbox" else crop
    return np.stack([square(frame, side) for frame in frames])


def _fit_pixels(shape: tuple[int, int], max_pixels: int) -> tuple[int, int]:
    h, w = shape
    factor = min(1.0, (max_pixels / (h * w)) ** 0.5)
    return max(1, round(h * factor)), max(1, round(w * factor))


def even_indices(count: int, samples: int) -> np.ndarray:
    """`samples` evenly spaced indices into range(count), first and last included (all if fewer)."""
    return np.unique(np.linspace(0, count - 1, min(count, samples)).round().astype(int))


def _sniff(path: Path) -> str | None:
    with open(path, "rb") as f:
        head = f.read(12)
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"\x1a\x45\xdf\xa3" or (head[:4] == b"RIFF" and head[8:12] == b"AVI "):
        return "ffmpeg"
    if head[4:8] in _QUICKTIME_ATOMS:
        return "ffmpeg"
    return None


def _check_dimensions(name: str, width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise VideoError(f"{name}: the video has no readable picture size; it may be corrupt.")
    if min(width, height) < MIN_SIDE or max(width, height) > MAX_SIDE:
        raise VideoError(f"{name}: frames of {width}x{height} pixels are not supported "
                         f"(each side must be between {MIN_SIDE} and {MAX_SIDE} pixels).")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def _check_duration(name: str, count: int, fps: float, max_duration_s: float) -> None:
    if count / fps > max_duration_s:
        raise VideoError(f"{name}: the video lasts {_duration(count / fps)}; the limit is {_duration(max_duration_s)}.")


def _sane_fps(fps: float) -> float:
    return float(fps) if np.isfinite(fps) and 0 < fps <= 1000 else DEFAULT_FPS


def _ffmpeg_source(path: Path, max_frames: int, max_duration_s: float, stopped: dict | None = None,
                   within: int | None = None) -> tuple[Iterator[np.ndarray], int, float]:
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not capture.isOpened():
        raise VideoError(f"{path.name}: the video cannot be opened; it may be corrupt, truncated "
                         "or in an unsupported format.")
    try:
        width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        _check_dimensions(path.name, width, height)
        count, fps = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), _sane_fps(capture.get(cv2.CAP_PROP_FPS))
        _check_duration(path.name, max(count, 0), fps, max_duration_s)
    except VideoError:
        capture.release()
        raise
    frames = _capture_frames(capture, within or count, max_frames, int(max_duration_s * fps), path.name,
                             {} if stopped is None else stopped)
    return frames, count, fps


def _capture_frames(capture: cv2.VideoCapture, count: int, max_frames: int, max_count: int,
                    name: str, stopped: dict) -> Iterator[np.ndarray]:
    """Frames at even indices when `count` is known (seeking over long gaps), else every frame.
    A frame that fails to decode ends the stream; `stopped["at"]` then says at which index."""
    targets = even_indices(count, max_frames) if count > 0 else None
    position = 0
    try:
        while targets is None or position <= targets[-1]:
            if targets is None and position > max_count:
                raise VideoError(f"{name}: the video is longer than the limit of {max_count} frames.")
            if targets is not None:
                target = targets[np.searchsorted(targets, position)]
                if target - position > SEEK_GAP and capture.set(cv2.CAP_PROP_POS_FRAMES, target):
                    position = target
                while position < target and capture.grab():
                    position += 1
                if position < target:
                    stopped["at"] = position
                    return
            ok, frame = capture.read()
            if not ok or frame is None:
                stopped["at"] = position
                return
            position += 1
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()


def _gif_source(path: Path, max_frames: int, max_duration_s: float) -> tuple[Iterator[np.ndarray], int, float]:
    try:
        image = Image.open(path)
        count = getattr(image, "n_frames", 1)
    except _PIL_ERRORS as error:
        raise VideoError(f"{path.name}: the GIF cannot be read; it may be corrupt or truncated.") from error
    _check_dimensions(path.name, *image.size)
    fps = _sane_fps(1000 / max(image.info.get("duration") or 100, 20))
    _check_duration(path.name, count, fps, max_duration_s)
    return _pil_frames(image, even_indices(count, max_frames)), count, fps


def _pil_frames(image: Image.Image, indices: np.ndarray) -> Iterator[np.ndarray]:
    with image:
        for index in indices:
            try:
                image.seek(index)
                yield np.asarray(image.convert("RGB"))
            except _PIL_ERRORS:
                return


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name.lower())]


def _folder_source(path: Path, max_frames: int) -> tuple[Iterator[np.ndarray], int, float]:
    files = sorted((f for f in path.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and not f.name.startswith(".")),
                   key=_natural_key)
    if files:
        with _open_image(files[0]) as first:
            _check_dimensions(path.name, *first.size)
    return _image_files(files[i] for i in even_indices(len(files), max_frames)), len(files), DEFAULT_FPS


def _open_image(path: Path) -> Image.Image:
    try:
        return Image.open(path)
    except _PIL_ERRORS as error:
        raise VideoError(f"{path.parent.name}/{path.name}: the image cannot be read.") from error


def _image_files(files: Iterable[Path]) -> Iterator[np.ndarray]:
    for file in files:
        with _open_image(file) as image:
            _check_dimensions(f"{file.parent.name}/{file.name}", *image.size)
            try:
                yield np.asarray(image.convert("RGB"))
            except _PIL_ERRORS as error:
                raise VideoError(f"{file.parent.name}/{file.name}: the image is corrupt.") from error


def _format(frames: Iterable[np.ndarray], size: tuple[int, int] | None, crop_square: bool,
            max_pixels: int, shape: dict | None = None) -> Iterator[np.ndarray]:
    """Crop and resize each frame as it arrives, all to the size the first frame gets; the source
    frames' height and width go to `shape["source"]`."""
    out_size = tuple(size) if size is not None else None
    for frame in frames:
        if shape is not None:
            shape.setdefault("source", frame.shape[:2])
        if crop_square:
            frame = center_crop_square(frame)
        out_size = out_size or _fit_pixels(frame.shape[:2], max_pixels)
        yield np.ascontiguousarray(_resize(frame, out_size))


def _keep_even(frames: Iterable[np.ndarray], max_frames: int) -> tuple[list[np.ndarray], int]:
    """At most `max_frames` evenly spaced frames of a stream of unknown length, holding at most
    2 * max_frames at a time; also returns the stream's length."""
    kept, step, seen = [], 1, 0
    for seen, frame in enumerate(frames, start=1):
        if (seen - 1) % step == 0:
            kept.append(frame)
        if len(kept) == 2 * max_frames:
            kept, step = kept[::2], step * 2
    return [kept[i] for i in even_indices(len(kept), max_frames)], seen


def _keep_even_indexed(frames: Iterable[np.ndarray], count: int, max_frames: int
                       ) -> tuple[list[np.ndarray], int, np.ndarray]:
    """`_keep_even`, plus each kept frame's index in the source: a stream of known length (`count`)
    holds the frames at `even_indices(count, max_frames)`, one of unknown length every frame."""
    kept, seen = _keep_even(enumerate(frames), max_frames)
    positions = np.array([position for position, _ in kept], dtype=np.int64)
    indices = even_indices(count, max_frames)[positions] if count > 0 else positions
    return [frame for _, frame in kept], seen, indices


def read_video(path: str | Path, max_frames: int = DEFAULT_MAX_FRAMES, size: tuple[int, int] | None = None,
               crop_square: bool = False, max_pixels: int = DEFAULT_MAX_PIXELS,
               max_duration_s: float = MAX_DURATION_S, min_frames: int = 2, allow_partial: bool = False) -> Video:
    """Decode up to `max_frames` evenly spaced frames as uint8 RGB [t, h, w, 3].

    Each frame is optionally centre-cropped to a square, then resized to `size` = (h, w), or,
    without `size`, shrunk to at most `max_pixels` pixels keeping its aspect ratio, as soon as
    it is decoded, so memory stays bounded by max_frames output frames. The returned fps is that
    of the returned frames (lower than the source's when frames were skipped).
    With `allow_partial`, a video whose later frames fail to decode gives evenly spaced frames of
    the part that decodes (at least `min_frames`), and says how much that was (`decodable` of
    `announced`). Raises VideoError, with a message fit for users, for anything that is not a
    usable video.
    """
    if not 1 <= max_frames <= MAX_FRAMES:
        raise ValueError(f"max_frames must be between 1 and {MAX_FRAMES}")
    path = Path(path).resolve()
    if not path.exists():
        raise VideoError(f"{path.name}: no such file or folder.")
    stopped: dict = {}
    if path.is_dir():
        source, count, fps = _folder_source(path, max_frames)
    else:
        source, count, fps = _file_source(path, max_frames, max_duration_s, stopped)
    shape: dict = {}
    frames, seen, indices = _keep_even_indexed(_format(source, size, crop_square, max_pixels, shape), count, max_frames)
    expected = min(count, max_frames)
    if allow_partial and len(frames) < expected and stopped.get("at", 0) >= min_frames:
        return _decodable_part(path, max_frames, size, crop_square, max_pixels, max_duration_s, min_frames, stopped["at"], count)
    if not frames:
        raise VideoError(f"{path.name}: no decodable frames.")
    if count > 0 and len(frames) < expected / 2:
        raise VideoError(f"{path.name}: the video is truncated or corrupt "
                         f"(decoded {len(frames)} of {expected} expected frames).")
    if len(frames) < min_frames:
        raise VideoError(f"{path.name}: the video has only {len(frames)} frame(s); at least {min_frames} are needed.")
    total = count if count > 0 else seen
    return Video(np.stack(frames), fps * len(frames) / max(total, len(frames)), indices=indices,
                 source=SourceInfo(total, fps, *shape["source"]))


def _decodable_part(path: Path, max_frames: int, size, crop_square: bool, max_pixels: int, max_duration_s: float,
                    min_frames: int, decodable: int, announced: int, passes: int = 3) -> Video:
    """Evenly spaced frames of the first `decodable` ones, narrowed again when one of those fails too."""
    for _ in range(passes):
        stopped: dict = {}
        source, _, fps = _ffmpeg_source(path, max_frames, max_duration_s, stopped, within=decodable)
        shape: dict = {}
        frames, _, indices = _keep_even_indexed(_format(source, size, crop_square, max_pixels, shape), decodable,
                                                max_frames)
        if "at" not in stopped or stopped["at"] < min_frames:
            break
        decodable = stopped["at"]
    if len(frames) < min_frames:
        raise VideoError(f"{path.name}: only {len(frames)} of its {announced} frames decode; at least {min_frames} are needed.")
    return Video(np.stack(frames), fps * len(frames) / max(decodable, len(frames)), decodable, announced,
                 indices, SourceInfo(announced, fps, *shape["source"]))


def _file_source(path: Path, max_frames: int, max_duration_s: float,
                 stopped: dict | None = None) -> tuple[Iterator[np.ndarray], int, float]:
    file_bytes = path.stat().st_size
    if file_bytes == 0:
        raise VideoError(f"{path.name}: the file is empty.")
    if file_bytes > MAX_FILE_BYTES:
        raise VideoError(f"{path.name}: the file is {file_bytes / 1024**2:.0f} MB; "
                         f"the limit is {MAX_FILE_BYTES / 1024**2:.0f} MB.")
    kind = _sniff(path)
    if kind is None:
        raise VideoError(f"{path.name}: not a video file (supported: MP4, MOV, WebM, MKV, AVI, GIF).")
    if kind == "gif":
        return _gif_source(path, max_frames, max_duration_s)
    return _ffmpeg_source(path, max_frames, max_duration_s, stopped)


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise ValueError(f"expected uint8 frames [t, h, w, 3] with t >= 1, got {frames.dtype} {frames.shape}")
    return frames


def write_video(frames: np.ndarray, path: str | Path, fps: float = DEFAULT_FPS) -> Path:
    """Write browser-playable WebM (VP9, else VP8) or, for a .gif path, a GIF; returns the path.

    WebM frames with an odd height or width get one replicated edge row or column (4:2:0 chroma).
    """
    frames, path = _check_frames(frames), Path(path)
    if path.suffix.lower() == ".gif":
        return write_gif(frames, path, fps)
    if path.suffix.lower() != ".webm":
        raise ValueError(f"write_video writes .webm or .gif files, not {path.suffix or 'no suffix'}")
    height, width = frames.shape[1:3]
    frames = np.pad(frames, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    height, width = height + height % 2, width + width % 2
    for codec in ("VP90", "VP80"):
        path.unlink(missing_ok=True)
        with drop_native_lines(_CODEC_TAG_NOTICE):
            writer = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*codec), fps, (width, height))
        if writer.isOpened():
            for frame in frames:
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()
        if path.exists() and path.stat().st_size > 0:
            return path
    raise RuntimeError(f"OpenCV could not write WebM video to {path}")


def write_gif(frames: np.ndarray, path: str | Path, fps: float = DEFAULT_FPS) -> Path:
    """Write a looping GIF (frame delays are whole centiseconds, at least 20 ms); returns the path."""
    frames, path = _check_frames(frames), Path(path)
    images = [Image.fromarray(frame) for frame in frames]
    delay = max(20, 10 * round(100 / fps))
    images[0].save(path, save_all=True, append_images=images[1:], duration=delay, loop=0)
    return path

"""A session's clip library: frames at the model's size and their latent actions."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer.errors import UserError
from explorer.gallery import card, safe_name


@dataclass
class Clip:
    id: str
    name: str
    frames: np.ndarray  # t s s 3 uint8, s = the model's image size
    fps: float
    actions: np.ndarray  # (t-1) a float32
    source: str | None = None  # the file it came from, to decode again for another model
    fit: str = "letterbox"  # how a non-square source became square: "letterbox" or "crop"
    aspect: float = 1.0  # the source's width / height
    note: str = ""  # what decoding had to leave out, in words

    def card(self, draggable: bool = True) -> str:
        return card(self.id, self.name, len(self.frames), self.thumbnail(), draggable, self.shape_note())

    def thumbnail(self) -> np.ndarray:
        """The frame that shows most of the clip: the one with the most contrast (a first frame
        faded in from black, or blank, is passed over)."""
        spread = self.frames.reshape(len(self.frames), -1).std(axis=1)
        return self.frames[int(np.argmax(spread))]

    def shape_note(self) -> str:
        """How the source's shape was fitted to the model's square frames, in words."""
        if abs(self.aspect - 1) < 0.01:
            return "square"
        ratio = aspect_name(self.aspect)
        if self.fit == "letterbox":
            return f"{ratio}, letterboxed"
        lost = 1 - min(self.aspect, 1 / self.aspect)
        side = "width" if self.aspect > 1 else "height"
        return f"{ratio}, centre-cropped ({lost:.0%} of the {side} not shown)"


def aspect_name(aspect: float) -> str:
    """4:3, 16:9, ... for the usual ratios, else the ratio to two decimals."""
    for width, height in ((4, 3), (3, 4), (16, 9), (9, 16), (3, 2), (2, 3), (21, 9), (5, 4), (4, 5)):
        if abs(aspect - width / height) < 0.02:
            return f"{width}:{height}"
    return f"{aspect:.2f}:1"


class Library:
    def __init__(self, max_clips: int):
        self.max_clips = max_clips
        self.version = 0
        self._clips: dict[str, Clip] = {}
        self._counter = 0

    def __len__(self) -> int:
        return len(self._clips)

    def __iter__(self):
        return iter(list(self._clips.values()))

    def check_room(self, count: int = 1) -> None:
        if len(self) + count > self.max_clips:
            raise UserError(f"The library holds at most {self.max_clips} clips; remove some first.")

    def add(self, name: str, frames: np.ndarray, fps: float, actions: np.ndarray, source: str | None = None,
            fit: str = "letterbox", aspect: float = 1.0) -> Clip:
        self.check_room()
        self._counter += 1
        clip = Clip(f"c{self._counter}", safe_name(name), frames, float(fps), np.asarray(actions, np.float32), source,
                    fit, float(aspect))
        self._clips[clip.id] = clip
        self.version += 1
        return clip

    @property
    def counter(self) -> int:
        return self._counter

    @counter.setter
    def counter(self, value: int) -> None:
        self._counter = value

    def restore(self, clip: Clip) -> None:
        """A clip saved earlier, under its own id."""
        self._clips[clip.id] = clip
        self.version += 1

    def replace(self, clip: Clip) -> None:
        self._clips[clip.id] = clip
        self.version += 1

    def remove(self, clip_id: str) -> Clip:
        clip = self.get(clip_id)
        del self._clips[clip.id]
        self.version += 1
        return clip

    def get(self, clip_id: str | None) -> Clip:
        if not clip_id:
            raise UserError("Choose a clip first (add one to the library if it is empty).")
        clip = self._clips.get(str(clip_id))
        if clip is None:
            raise UserError(f"There is no clip {clip_id!r} in your library.")
        return clip

    def options(self) -> list[tuple[str, str]]:
        return [(f"{clip.name} ({clip.id})", clip.id) for clip in self]

    def transitions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every transition's action, clip index and time t (from frame t to t+1)."""
        clips = list(self)
        actions = np.concatenate([c.actions for c in clips])
        index = np.concatenate([np.full(len(c.actions), i) for i, c in enumerate(clips)])
        times = np.concatenate([np.arange(len(c.actions)) for c in clips])
        return actions, index, times

"""What an engine gives back per clip: its transitions' actions and where they sit, or why it failed."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dila.index.decode import DecodedClip
from dila.index.sources import ClipTask
from dila.video import VideoError


@dataclass
class ClipResult:
    clip_id: str
    source: str
    error: str | None = None
    actions: np.ndarray | None = None  # float32 (t-1) a
    clip: DecodedClip | None = None  # without its frames

    @classmethod
    def of(cls, clip: DecodedClip, actions: np.ndarray) -> ClipResult:
        clip.frames = None
        return cls(clip.clip_id, clip.source, actions=actions, clip=clip)


def failed(task: ClipTask, error: Exception) -> ClipResult:
    reason = str(error) if isinstance(error, VideoError) else f"{type(error).__name__}: {error}"
    return ClipResult(task.clip_id, task.clip_id if task.path else "", error=reason)

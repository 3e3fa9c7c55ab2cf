"""The model: its card, its measured quality, and switching this session to another one."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from explorer.clips import Clip
from explorer.device import compute
from explorer.figures import Marks
from explorer.media import fit_image
from explorer.models import LoadedModel
from explorer.services.core import Core


class ModelService:
    def __init__(self, core: Core):
        self.core = core

    def info(self, sid: str) -> str:
        with self.core.session(sid) as (_, model):
            return self.core.card(model)

    def quality_lines(self, sid: str) -> tuple[str, ...]:
        """The loaded model's measured quality beside each view's generated images (`quality.VIEWS`)."""
        with self.core.session(sid) as (_, model):
            return self.core.quality(model).lines()

    def load(self, sid: str, source: str) -> str:
        """Switch this session to `source` (empty: the default); on failure it keeps its model."""
        loaded = self.core.models.choose(source)
        with self.core.session(sid) as (session, _):
            if loaded.key == session.model_key:
                return self.core.card(loaded)
            session.model_key = loaded.key
            session.steering, session.action_map, session.marks = None, None, Marks()
            for clip in session.library:
                session.library.replace(self._reencode(clip, loaded))
            return self.core.card(loaded) + (f"  \nRe-encoded {len(session.library)} clip(s)." if len(session.library) else "")

    def _reencode(self, clip: Clip, model: LoadedModel) -> Clip:
        size = model.pipeline.image_size
        frames, fps = clip.frames, clip.fps
        if frames.shape[1] != size and clip.source and Path(clip.source).is_file():
            frames, fps, _, _ = self.core.decode(clip.source, size, clip.fit)
        elif frames.shape[1] != size:
            frames = np.stack([fit_image(f, size) for f in clip.frames])
        actions = compute(model.pipeline.encode_clip, frames).actions
        return Clip(clip.id, clip.name, frames, fps, actions, clip.source, clip.fit, clip.aspect)

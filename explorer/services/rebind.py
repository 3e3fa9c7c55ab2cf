"""Rebind: the structure (layout) of one clip rendered with the content (appearance) of another."""
from __future__ import annotations

from explorer.device import compute
from explorer.media import panels, write_clip
from explorer.services.core import Core


class RebindService:
    def __init__(self, core: Core):
        self.core = core

    def run(self, sid: str, structure_id: str, content_id: str):
        """Returns (video: structure | content | result, status)."""
        with self.core.session(sid) as (session, model):
            structure, content = session.library.get(structure_id), session.library.get(content_id)
            result = compute(model.pipeline.rebind, structure.frames, content.frames)
            video = write_clip(panels([structure.frames, content.frames, result]), session.output("rebind"), structure.fps)
            return video, f"Structure of {structure.name} with the content of {content.name}: structure | content | result."

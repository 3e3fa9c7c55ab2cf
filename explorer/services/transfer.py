"""Transfer: the motion of one clip drives the first frame of another."""
from __future__ import annotations

import numpy as np

from explorer.device import compute
from explorer.media import panels, write_clip
from explorer.services.core import Core


class TransferService:
    def __init__(self, core: Core):
        self.core = core

    def run(self, sid: str, motion_id: str, appearance_id: str, scale: float = 1.0):
        """Returns (video: motion | appearance | result, status)."""
        with self.core.session(sid) as (session, model):
            motion, appearance = session.library.get(motion_id), session.library.get(appearance_id)
            actions = motion.actions * float(scale)
            result = compute(model.pipeline.rollout, appearance.frames[:1], actions)
            frames = panels([motion.frames, appearance.frames, np.concatenate([appearance.frames[:1], result])])
            video = write_clip(frames, session.output("transfer"), motion.fps)
            return video, (f"Motion of {motion.name} (×{float(scale):g}) applied to {appearance.name}: "
                           f"motion | appearance | result, {len(actions)} steps.")

"""Steering: sliders along the library's principal directions drive the next frame live; step,
roll out and save the run."""
from __future__ import annotations

import numpy as np

from explorer import steer
from explorer.errors import UserError
from explorer.media import write_clip
from explorer.models import LoadedModel
from explorer.projection import N_COMPONENTS
from explorer.services.action_map import MapService
from explorer.services.core import Core, index
from explorer.sessions import Session
from explorer.steer import Steering
from explorer.views import KEEP, Range

SLIDER_LIMIT = 5.0
NOTHING_TO_STEER = "Add a clip to the library to steer from one of its frames."


class SteerService:
    def __init__(self, core: Core, map: MapService):
        self.core, self.map = core, map

    def start(self, sid: str, clip_id: str, frame: int):
        """Start steering after frame `frame` of a clip. Returns (current frame, preview of the
        inferred action, controllability, the slider values for it...)."""
        with self.core.session(sid) as (session, model):
            clip = session.library.get(clip_id)
            frame = index(frame, len(clip.frames) - 1, "frame")
            session.steering = steer.begin(model.pipeline, clip.frames, clip.actions, frame, clip.fps, clip.id)
            return (session.steering.current, *self._reset(session, model))

    def resume(self, sid: str, clip_id: str | None):
        """A page's first view: the session's steering run as it was (after a reload or a restart),
        else a new one at the start of `clip_id`. Returns (its clip, its start frame as a Range,
        current frame, preview of the inferred action, controllability, slider values...); with an
        empty library, no run and a line that says how to start one."""
        with self.core.session(sid) as (session, model):
            if not len(session.library):
                session.steering = None
                return (None, Range(0, 0), None, None, NOTHING_TO_STEER, *[0.0] * N_COMPONENTS)
            steering = session.steering
            if steering is None or steering.clip not in {c.id for c in session.library}:
                self.start(sid, clip_id, 0)
                steering = session.steering
            frames = len(session.library.get(steering.clip).frames)
            return (steering.clip, Range(frames - 1, steering.start), steering.current, *self._reset(session, model))

    def strip(self, sid: str) -> np.ndarray | None:
        """What each slider direction does from the current frame: rows = directions, columns =
        -2, 0 and +2 standard deviations (`steer.direction_strip`); none with an empty library."""
        with self.core.session(sid) as (session, model):
            if idle(session):
                return None
            return steer.direction_strip(model.pipeline, running(session), self.map.pca(session))

    def reset(self, sid: str):
        """Back to the inferred action: (preview, controllability, slider values...)."""
        with self.core.session(sid) as (session, model):
            return self._reset(session, model)

    def preview(self, sid: str, *values: float) -> np.ndarray:
        """The next frame for the slider position, not committed (the live path: nothing else)."""
        with self.core.session(sid) as (session, model):
            steering = running(session)
            return steer.preview(model.pipeline, steering, self._action(session, steering, values))

    def step(self, sid: str, *values: float):
        """Commit the slider's action: (new current frame, controllability)."""
        with self.core.session(sid) as (session, model):
            steering = running(session)
            room(steering, 1, self.core.limits.max_steer_frames)
            readout = steer.advance(model.pipeline, steering, self._action(session, steering, values))
            return steering.current, readout

    def rollout(self, sid: str, steps: int, *values: float):
        """Repeat the slider's action `steps` times: (current frame, video of the run, controllability)."""
        with self.core.session(sid) as (session, model):
            steering = running(session)
            steps = index(steps, self.core.limits.max_rollout_steps, "number of steps", low=1)
            room(steering, steps, self.core.limits.max_steer_frames)
            action = self._action(session, steering, values)
            for _ in range(steps):
                readout = steer.advance(model.pipeline, steering, action)
            return steering.current, video(session, steering), readout

    def video(self, sid: str) -> str:
        """The frames of this steering run so far as a WebM file."""
        with self.core.session(sid) as (session, _):
            return video(session, running(session))

    def locate(self, sid: str, color_by: str, method: str, *values: float):
        """Where the sliders' action lies on the map, and how well the model obeys it:
        (figure, note, controllability; kept with an empty library)."""
        with self.core.session(sid) as (session, model):
            if idle(session):
                return (*self.map.figure(session, color_by, method), KEEP)
            steering = running(session)
            action = self._action(session, steering, values)
            session.marks.current = action
            self.map.current(session).touched = True
            return (*self.map.figure(session, color_by, method), steer.readout(model.pipeline, steering, action))

    def _reset(self, session: Session, model: LoadedModel):
        steering = session.steering
        values = np.clip(self.map.pca(session).coordinates(steering.base), -SLIDER_LIMIT, SLIDER_LIMIT).round(2)
        session.marks.current = steering.base
        frame = steer.preview(model.pipeline, steering, steering.base)
        return (frame, steer.readout(model.pipeline, steering, steering.base, frame), *values.tolist())

    def _action(self, session: Session, steering: Steering, values) -> np.ndarray:
        pca = self.map.pca(session)
        values = [0.0 if v is None else float(v) for v in values][: len(pca.scales)]
        values += [0.0] * (len(pca.scales) - len(values))
        return pca.steer(steering.base, np.array(values))


def idle(session: Session) -> bool:
    """Nothing to steer and nothing to steer from: the library is empty."""
    return session.steering is None and not len(session.library)


def running(session: Session) -> Steering:
    if session.steering is None:
        raise UserError("Choose a start frame first.")
    return session.steering


def room(steering: Steering, steps: int, limit: int) -> None:
    if len(steering.frames) + steps > limit:
        raise UserError(f"A steering run holds at most {limit} frames; start again from a frame.")


def video(session: Session, steering: Steering) -> str:
    return write_clip(np.stack(steering.frames), session.output("steer"), steering.fps)

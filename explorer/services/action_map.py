"""The latent-action map: every transition of the library, PCA at once and UMAP when its
background fit is ready; hovering and clicking choose a transition."""
from __future__ import annotations

import numpy as np

from explorer.clips import Clip
from explorer.device import compute
from explorer.errors import UserError
from explorer.figures import action_map, empty_figure, sprites
from explorer.models import LoadedModel
from explorer.projection import ActionMap, Pca, build_map
from explorer.services.core import Core, index
from explorer.sessions import Session
from explorer.views import KEEP, Range

NEW_LAYOUT = "A new UMAP layout is ready; the map keeps the one you were using. Press “Use the new layout” to switch."
"""The map note while a new layout waits for the user (the page shows the button only then)."""


class MapService:
    def __init__(self, core: Core):
        self.core = core

    def action_map(self, sid: str, color_by: str = "clip", method: str = "auto"):
        """The map of every transition in the library; returns (figure, note)."""
        with self.core.session(sid) as (session, _):
            return self.figure(session, color_by, method)

    def poll_map(self, sid: str, color_by: str = "clip", method: str = "auto"):
        """The map again when what it would show (projection or note) differs from what was last
        drawn, else KEEP (also while the session is busy: a poll never waits)."""
        session = self.core.sessions.get(sid)
        if not session.lock.acquire(blocking=False):
            return KEEP, KEEP
        try:
            amap = session.action_map
            if amap is None or amap.version != session.library.version:
                return KEEP, KEEP
            if (amap.method(method), _note(amap, method)) == (amap.shown, amap.note_shown):
                return KEEP, KEEP
            return self.figure(session, color_by, method)
        finally:
            session.lock.release()

    def adopt_layout(self, sid: str, color_by: str = "clip", method: str = "auto"):
        """Switch to the newest UMAP layout although the map was used since the last one."""
        with self.core.session(sid) as (session, _):
            amap = self.current(session)
            if amap is not None:
                amap.adopted = True
            return self.figure(session, color_by, method)

    def transition(self, sid: str, clip_id: str, t: int, color_by: str = "clip", method: str = "auto"):
        """Frame t, frame t+1 and the model's prediction of t+1 from frames 0..t and action t;
        the map marks the transition. Returns (frame t, frame t+1, predicted, figure, note)."""
        with self.core.session(sid) as (session, model):
            clip = session.library.get(clip_id)
            t = index(t, len(clip.actions) - 1, "transition")
            return self._transition(session, model, clip, t, color_by, method)

    def select_point(self, sid: str, row: int, version: int, color_by: str = "clip", method: str = "auto"):
        """A point clicked on the map (its row and the library version it was drawn for) becomes the
        chosen transition and the steering start. Returns (map clip, transition range, frame t,
        frame t+1, predicted, figure, note, steering clip, steering frame range)."""
        with self.core.session(sid) as (session, model):
            amap = self.current(session)
            if amap is None or int(version) != amap.version:
                raise UserError("The library changed since the map was drawn; click the point again.")
            row = index(row, len(amap.actions) - 1, "point")
            clip = list(session.library)[int(amap.clip_index[row])]
            t = int(amap.times[row])
            shown = self._transition(session, model, clip, t, color_by, method)
            return (clip.id, Range(len(clip.actions) - 1, t), *shown, clip.id, Range(len(clip.frames) - 1, t))

    def _transition(self, session: Session, model: LoadedModel, clip: Clip, t: int, color_by: str, method: str):
        state = compute(model.pipeline.start, clip.frames[: t + 1])
        predicted = compute(model.pipeline.preview, state, clip.actions[t])
        amap = self.current(session)
        clip_number = [c.id for c in session.library].index(clip.id)
        session.marks.selected = int(np.flatnonzero((amap.clip_index == clip_number) & (amap.times == t))[0])
        amap.touched = True
        figure, note = self.figure(session, color_by, method)
        return clip.frames[t], clip.frames[t + 1], predicted, figure, note

    def current(self, session: Session) -> ActionMap | None:
        """The session's map, rebuilt when the library changed (None for an empty library)."""
        if not len(session.library):
            return None
        amap = session.action_map
        if amap is None or amap.version != session.library.version:
            if amap is not None and amap.umap is not None:
                amap.umap.cancel()
            actions, clip_index, times = session.library.transitions()
            session.action_map = build_map(session.library.version, actions, clip_index, times, self.core.embedder,
                                           self.core.limits.umap_min_points, previous=amap)
            session.marks.selected = None
        return session.action_map

    def pca(self, session: Session) -> Pca:
        amap = self.current(session)
        if amap is None:
            raise UserError("The library is empty; add a clip first.")
        return amap.pca

    def figure(self, session: Session, color_by: str, method: str):
        """(figure, note) of the session's map as `method` shows it now."""
        amap = self.current(session)
        if amap is None:
            return empty_figure(), ""
        shown, note = amap.method(method), _note(amap, method)
        amap.shown, amap.note_shown = shown, note
        return action_map(amap, [c.name for c in session.library], color_by, shown, session.marks), note

    @staticmethod
    def sprites(session: Session) -> str:
        return sprites(list(session.library), session.library.version)


def _note(amap: ActionMap, method: str) -> str:
    if method == "pca":
        return ""
    if amap.method(method) != "umap" and amap.umap_points() is not None:
        return NEW_LAYOUT
    if amap.method(method) == "interim":
        return "New points are placed among their neighbours on the current UMAP layout while a new one is computed."
    return amap.umap_status()

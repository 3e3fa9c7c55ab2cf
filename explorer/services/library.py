"""The clip library: uploads, examples, removal, and the page's clip pickers and drop zones."""
from __future__ import annotations

from explorer import gallery
from explorer.clips import Clip
from explorer.decode import FITS, VIDEO_TYPES
from explorer.errors import UserError
from explorer.models import LoadedModel
from explorer.services.action_map import MapService
from explorer.services.core import Core
from explorer.sessions import Session
from explorer.views import KEEP, Choices, Range

PICKS = ("remove", "map", "steer", "motion", "appearance", "structure", "content", "plan_start", "plan_goal")
"""The page's clip pickers, in the order `start` and `views` take and return them."""


class LibraryService:
    def __init__(self, core: Core, map: MapService):
        self.core, self.map = core, map

    def start(self, sid: str):
        """A page's first view: a new session gets the demo clips. Returns (gallery, status, model
        card, quality line, each picker (PICKS order) with a useful first pick, each drop zone,
        map figure, map note, map frames)."""
        with self.core.session(sid) as (session, model):
            examples = []
            if not session.started:
                session.started = True
                examples = self.core.demo_clips(model) if not len(session.library) else []
                for clip in examples:
                    session.library.add(clip.name, clip.frames, clip.fps, clip.actions, clip.source, clip.fit, clip.aspect)
            clips = [c.id for c in session.library]
            first = {name: clips[0] if clips else None for name in PICKS}
            by_name = {c.name: c.id for c in session.library}
            first.update(remove=None, motion=by_name.get("pair_motion", first["motion"]),
                         appearance=by_name.get("pair_appearance", clips[1] if len(clips) > 1 else None))
            first.update(structure=first["appearance"], content=first["motion"])
            first.update({role: c for role, c in session.picks.items() if role in first and c in clips})
            options = session.library.options()
            status = _welcome(len(examples), len(clips))
            zones = [self._zone(session, role, first[role]) for role in gallery.ROLES]
            figure, note = self.map.figure(session, "clip", "auto")
            return (_gallery(session), status, self.core.card(model), self.core.quality(model).line("map"),
                    *[Choices(options, first[name]) for name in PICKS], *zones, figure, note, self.map.sprites(session))

    def views(self, sid: str, *picks: str | None):
        """Every view of the library, for the page's picks (PICKS order) after the library changed:
        (gallery, each picker (a pick of a clip no longer there is cleared), each drop zone, map
        frames, and frame t, frame t+1, prediction (cleared with their clip))."""
        with self.core.session(sid) as (session, _):
            present = {c.id for c in session.library}
            picks = dict(zip(PICKS, picks))
            kept = {name: picks.get(name) if picks.get(name) in present else None for name in PICKS}
            options = session.library.options()
            pickers = [Choices(options, KEEP if kept[n] == picks.get(n) else None) for n in PICKS]
            zones = [self._zone(session, role, kept[role]) for role in gallery.ROLES]
            frames = (KEEP,) * 3 if kept["map"] or not picks.get("map") else (None,) * 3
            return (_gallery(session), *pickers, *zones, self.map.sprites(session), *frames)

    def examples(self) -> list[str]:
        return sorted(p.name for p in self.core.assets.glob("*") if p.suffix.lower() in VIDEO_TYPES)

    def demo(self) -> list[str]:
        """The examples a new page's library starts with, in order."""
        return [name for name in self.core.demo if name in self.examples()]

    def add_files(self, sid: str, paths: list[str] | str | None, fit: str = "letterbox") -> tuple[str, str]:
        """Decode, sample and encode uploaded videos; non-square ones are letterboxed or centre-cropped
        (`fit`). Returns (gallery, status)."""
        paths = [paths] if isinstance(paths, str) else [p for p in (paths or []) if p]
        if not paths:
            raise UserError("Choose one or more video files.")
        if fit not in FITS:
            raise UserError(f"Fit must be one of {', '.join(FITS)}, got {fit!r}.")
        with self.core.session(sid) as (session, model):
            added, problems = [], []
            for path in paths:
                try:
                    clip = self._add(session, model, path, fit)
                    added.append(f"{clip.name} ({clip.note})" if clip.note else clip.name)
                except UserError as error:
                    problems.append(str(error))
            if not added:
                raise UserError(" ".join(problems))
            status = f"Added {', '.join(added)}." + (f" Not added: {' '.join(problems)}" if problems else "")
            return _gallery(session), status

    def add_example(self, sid: str, name: str, fit: str = "letterbox") -> tuple[str, str]:
        if name not in self.examples():
            raise UserError(f"There is no example {name!r}; choose one of {', '.join(self.examples())}.")
        return self.add_files(sid, [str(self.core.assets / name)], fit)

    def remove_clip(self, sid: str, clip_id: str) -> tuple[str, str]:
        with self.core.session(sid) as (session, _):
            clip = session.library.remove(clip_id)
            return _gallery(session), f"Removed {clip.name}."

    def list_clips(self, sid: str) -> list[dict]:
        with self.core.session(sid) as (session, _):
            return [{"id": c.id, "name": c.name, "frames": len(c.frames), "fps": round(c.fps, 3)} for c in session.library]

    def gallery(self, sid: str) -> str:
        with self.core.session(sid) as (session, _):
            return _gallery(session)

    def clip_choices(self, sid: str) -> Choices:
        with self.core.session(sid) as (session, _):
            return Choices(session.library.options())

    def clip_range(self, sid: str, clip_id: str | None, transitions: bool = False, at_end: bool = False) -> Range:
        """Bounds for a frame (or, with `transitions`, a transition) index into the clip, at its
        first one (or, with `at_end`, its last)."""
        with self.core.session(sid) as (session, _):
            if not clip_id:
                return Range(0, 0)
            last = max(len(session.library.get(clip_id).frames) - (2 if transitions else 1), 0)
            return Range(last, last if at_end else 0)

    def pick(self, sid: str, clip_id: str, role: str):
        """A clip dropped on (or chosen for) a role: (drop zone HTML, the picker's value)."""
        if role not in gallery.ROLES:
            raise UserError(f"Unknown role {role!r}.")
        with self.core.session(sid) as (session, _):
            clip = session.library.get(clip_id)
            session.picks[role] = clip.id
            return gallery.dropzone(role, clip.card(draggable=False)), clip.id

    def add_and_pick(self, sid: str, paths: list[str] | str | None, role: str):
        """A file dropped on a role's zone: added to the library and picked.
        Returns (gallery, status, drop zone HTML, the picker's value)."""
        html, status = self.add_files(sid, paths)
        with self.core.session(sid) as (session, _):
            newest = list(session.library)[-1].id
        return (html, status, *self.pick(sid, newest, role))

    def _add(self, session: Session, model: LoadedModel, path: str, fit: str) -> Clip:
        session.library.check_room()
        clip = self.core.footage(model, path, fit)
        added = session.library.add(clip.name, clip.frames, clip.fps, clip.actions, clip.source, clip.fit, clip.aspect)
        added.note = clip.note
        return added

    @staticmethod
    def _zone(session: Session, role: str, clip_id: str | None) -> str:
        if not clip_id:
            return gallery.dropzone(role)
        return gallery.dropzone(role, session.library.get(clip_id).card(draggable=False))


def _welcome(examples: int, clips: int) -> str:
    if not clips:
        return ""
    if examples:
        return f"Started with {examples} example clips: click a point on the map, or steer from a frame."
    return f"Your library is back ({clips} clip{'s' if clips > 1 else ''}): click a point on the map, or steer from a frame."


def _gallery(session: Session) -> str:
    return gallery.gallery([clip.card() for clip in session.library])

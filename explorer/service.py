"""The explorer's operations. Each takes the browser session's id first and plain values, and
returns plain values (frames, figures, file paths, text, `views` updates) for the app to show."""
from __future__ import annotations

import secrets
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from explorer import gallery, persist, planning, play, steer, words
from explorer.clips import Clip, Library
from explorer.decode import FITS, VIDEO_TYPES, check_upload
from explorer.device import compute
from explorer.errors import UserError
from explorer.figures import Marks, action_map, empty_figure, plan_figure, sprites
from explorer.images import read_image
from explorer.limits import Limits
from explorer.media import fit_image, panels, png_data_uri, write_clip
from explorer.models import LoadedModel, ModelCache, default_source
from explorer.quality import Quality, read_quality
from explorer.projection import ActionMap, Embedder, build_map, worker_fit
from explorer.sessions import STATE_DIR, Session, SessionStore
from explorer.sources import SourcePolicy
from explorer.steer import Steering
from explorer.views import KEEP, Choices, Range
from explorer.worker import Worker, WorkerError, WorkerPool

ASSETS = Path(__file__).resolve().parent.parent / "assets"
SLIDER_LIMIT = 5.0
PICKS = ("remove", "map", "steer", "motion", "appearance", "structure", "content", "plan_start", "plan_goal")
"""The page's clip pickers, in the order `start` and `views` take and return them."""
DEMO = ("translation.webm", "rotation.webm", "pair_motion.webm", "pair_appearance.webm")
"""Examples a new page starts with (`start`); the pair is made for transfer and rebinding."""
NEW_LAYOUT = "A new UMAP layout is ready; the map keeps the one you were using. Press “Use the new layout” to switch."
"""The map note while a new layout waits for the user (the page shows the button only then)."""


class Explorer:
    decode_task = "explorer.decode:decode_clip"

    def __init__(self, model: str | None = None, device: str | None = None, limits: Limits = Limits(),
                 embedder: Embedder | None | str = "worker", assets: Path = ASSETS, root: Path | None = None,
                 demo: tuple[str, ...] = (), sources: SourcePolicy | None = None):
        self.limits = limits
        self.assets = Path(assets)
        self.demo = tuple(demo)
        self._demo_clips: dict[str, list[Clip]] = {}
        self._demo_lock = threading.Lock()
        self._players: dict[str, str] = {}  # play token -> session id
        policy = sources or SourcePolicy(model or default_source(), max_download_mb=limits.max_download_mb)
        self.models = ModelCache(policy, device)
        self._decoder = WorkerPool(limits.decoders, limits.decode_timeout_s, memory_mb=limits.decode_memory_mb,
                                   preload=("explorer.decode",))
        self._decoder.start()
        self._umap_worker = None
        if embedder == "worker":
            self._umap_worker = Worker(nice=10, env={"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
            embedder = Embedder(worker_fit(self._umap_worker, limits.umap_timeout_s))
        self.embedder = embedder
        self.sessions = SessionStore(self._new_session, limits.session_idle_s, limits.max_sessions, root)
        self._closed = threading.Event()
        threading.Thread(target=self._reap, name="session-reaper", daemon=True).start()

    def _reap(self) -> None:
        while not self._closed.wait(min(60.0, self.limits.session_idle_s / 2)):
            self.sessions.expire()

    def close(self) -> None:
        self._closed.set()
        self.sessions.close()
        self._decoder.close()
        if self._umap_worker is not None:
            self._umap_worker.close()

    def warm(self) -> str:
        """Load the default model and its demo clips now (raises UserError when it cannot be loaded)."""
        model = self.models.get()
        self._demo(model)
        return model.info.markdown()

    def _demo(self, model: LoadedModel) -> list[Clip]:
        """The demo clips for `model`, decoded and encoded once and shared (read-only) by sessions."""
        with self._demo_lock:
            if model.key not in self._demo_clips:
                names = [n for n in self.demo if (self.assets / n).is_file()]
                self._demo_clips[model.key] = [self._footage(model, str(self.assets / n), "letterbox") for n in names]
            return self._demo_clips[model.key]

    def start(self, sid: str):
        """A page's first view: a new session gets the demo clips. Returns (gallery, status, model
        card, quality line, each picker (PICKS order) with a useful first pick, each drop zone,
        map figure, map note, map frames)."""
        with self._session(sid) as (session, model):
            if not session.started:
                session.started = True
                for clip in self._demo(model) if not len(session.library) else []:
                    session.library.add(clip.name, clip.frames, clip.fps, clip.actions, clip.source, clip.fit, clip.aspect)
            clips = [c.id for c in session.library]
            first = {name: clips[0] if clips else None for name in PICKS}
            by_name = {c.name: c.id for c in session.library}
            first.update(remove=None, motion=by_name.get("pair_motion", first["motion"]),
                         appearance=by_name.get("pair_appearance", clips[1] if len(clips) > 1 else None))
            first.update(structure=first["appearance"], content=first["motion"])
            first.update({role: c for role, c in session.picks.items() if role in first and c in clips})
            options = session.library.options()
            status = (f"Started with {len(clips)} example clips: click a point on the map, or steer from a frame."
                      if clips else "")
            zones = [self._zone(session, role, first[role]) for role in gallery.ROLES]
            figure, note = self._figure(session, "clip", "auto")
            return (self._gallery(session), status, self._card(model), self._quality(model).line(),
                    *[Choices(options, first[name]) for name in PICKS], *zones, figure, note, self._sprites(session))

    def views(self, sid: str, *picks: str | None):
        """Every view of the library, for the page's picks (PICKS order) after the library changed:
        (gallery, each picker (a pick of a clip no longer there is cleared), each drop zone, map
        frames, and frame t, frame t+1, prediction (cleared with their clip))."""
        with self._session(sid) as (session, _):
            present = {c.id for c in session.library}
            picks = dict(zip(PICKS, picks))
            kept = {name: picks.get(name) if picks.get(name) in present else None for name in PICKS}
            options = session.library.options()
            pickers = [Choices(options, KEEP if kept[n] == picks.get(n) else None) for n in PICKS]
            zones = [self._zone(session, role, kept[role]) for role in gallery.ROLES]
            frames = (KEEP,) * 3 if kept["map"] or not picks.get("map") else (None,) * 3
            return (self._gallery(session), *pickers, *zones, self._sprites(session), *frames)

    def _zone(self, session: Session, role: str, clip_id: str | None) -> str:
        if not clip_id:
            return gallery.dropzone(role)
        return gallery.dropzone(role, session.library.get(clip_id).card(draggable=False))

    @staticmethod
    def _sprites(session: Session) -> str:
        return sprites(list(session.library), session.library.version)

    def _card(self, model: LoadedModel) -> str:
        return model.info.markdown() + "  \n" + self._quality(model).markdown()

    @staticmethod
    def _quality(model: LoadedModel) -> Quality:
        return read_quality(model.key)

    def quality_line(self, sid: str) -> str:
        """The loaded model's measured quality in one sentence (shown beside generated images)."""
        with self._session(sid) as (_, model):
            return self._quality(model).line()

    def close_session(self, sid: str) -> None:
        self.sessions.drop(sid)

    def _new_session(self, sid: str, directory: Path, outputs: Path) -> Session:
        saved = persist.load(directory / STATE_DIR, self.limits.max_clips)
        if saved is None:
            return Session(sid, directory, outputs, Library(self.limits.max_clips), self.models.default)
        session = Session(sid, directory, outputs, saved["library"], saved["model"], started=saved["started"],
                          picks=saved["picks"])
        try:
            model = self.models.get(session.model_key)
        except UserError:
            model = self.models.get()
        session.model_key = model.key
        if saved["steering"] and saved["steering"]["frames"][0].shape[0] == model.pipeline.image_size:
            frames = saved["steering"]["frames"]
            state = compute(model.pipeline.start, np.stack(frames))
            session.steering = Steering(state, frames, saved["steering"]["base"], saved["steering"]["fps"])
        return session

    @contextmanager
    def _session(self, sid: str):
        session = self.sessions.get(sid)
        with session.lock:
            yield session, self.models.get(session.model_key)
            self.sessions.save(session)

    def attach(self, sid: str, key: str | None) -> str:
        """Bind this page to the browser's saved key (its session comes back after a reload or a
        restart); returns the key the browser should keep: a fresh one for none, a forged or an
        expired one."""
        return self.sessions.attach(sid, key)

    # ------------------------------------------------------------ model

    def model_info(self, sid: str) -> str:
        with self._session(sid) as (_, model):
            return self._card(model)

    def load_model(self, sid: str, source: str) -> str:
        """Switch this session to `source` (empty: the default); on failure it keeps its model."""
        loaded = self.models.choose(source)
        with self._session(sid) as (session, _):
            if loaded.key == session.model_key:
                return self._card(loaded)
            session.model_key = loaded.key
            session.steering, session.action_map, session.marks = None, None, Marks()
            for clip in session.library:
                session.library.replace(self._reencode(clip, loaded))
            return self._card(loaded) + (f"  \nRe-encoded {len(session.library)} clip(s)." if len(session.library) else "")

    def _reencode(self, clip: Clip, model: LoadedModel) -> Clip:
        size = model.pipeline.image_size
        frames, fps = clip.frames, clip.fps
        if frames.shape[1] != size and clip.source and Path(clip.source).is_file():
            frames, fps, _, _ = self._decode(clip.source, size, clip.fit)
        elif frames.shape[1] != size:
            frames = np.stack([fit_image(f, size) for f in clip.frames])
        actions = compute(model.pipeline.encode_clip, frames).actions
        return Clip(clip.id, clip.name, frames, fps, actions, clip.source, clip.fit, clip.aspect)

    # ------------------------------------------------------------ library

    def examples(self) -> list[str]:
        return sorted(p.name for p in self.assets.glob("*") if p.suffix.lower() in VIDEO_TYPES)

    def add_files(self, sid: str, paths: list[str] | str | None, fit: str = "letterbox") -> tuple[str, str]:
        """Decode, sample and encode uploaded videos; non-square ones are letterboxed or centre-cropped
        (`fit`). Returns (gallery, status)."""
        paths = [paths] if isinstance(paths, str) else [p for p in (paths or []) if p]
        if not paths:
            raise UserError("Choose one or more video files.")
        if fit not in FITS:
            raise UserError(f"Fit must be one of {', '.join(FITS)}, got {fit!r}.")
        with self._session(sid) as (session, model):
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
            return self._gallery(session), status

    def add_example(self, sid: str, name: str, fit: str = "letterbox") -> tuple[str, str]:
        if name not in self.examples():
            raise UserError(f"There is no example {name!r}; choose one of {', '.join(self.examples())}.")
        return self.add_files(sid, [str(self.assets / name)], fit)

    def remove_clip(self, sid: str, clip_id: str) -> tuple[str, str]:
        with self._session(sid) as (session, _):
            clip = session.library.remove(clip_id)
            return self._gallery(session), f"Removed {clip.name}."

    def list_clips(self, sid: str) -> list[dict]:
        with self._session(sid) as (session, _):
            return [{"id": c.id, "name": c.name, "frames": len(c.frames), "fps": round(c.fps, 3)} for c in session.library]

    def library(self, sid: str) -> str:
        with self._session(sid) as (session, _):
            return self._gallery(session)

    def clip_choices(self, sid: str) -> Choices:
        with self._session(sid) as (session, _):
            return Choices(session.library.options())

    def clip_range(self, sid: str, clip_id: str | None, transitions: bool = False) -> Range:
        """Bounds for a frame (or, with `transitions`, a transition) index into the clip."""
        with self._session(sid) as (session, _):
            if not clip_id:
                return Range(0, 0)
            count = len(session.library.get(clip_id).frames) - (2 if transitions else 1)
            return Range(max(count, 0), 0)

    def _add(self, session: Session, model: LoadedModel, path: str, fit: str) -> Clip:
        session.library.check_room()
        clip = self._footage(model, path, fit)
        added = session.library.add(clip.name, clip.frames, clip.fps, clip.actions, clip.source, clip.fit, clip.aspect)
        added.note = clip.note
        return added

    def _footage(self, model: LoadedModel, path: str, fit: str) -> Clip:
        """A file decoded and encoded, as a clip without an id."""
        path = check_upload(path, self.limits.max_upload_mb)
        frames, fps, aspect, note = self._decode(str(path), model.pipeline.image_size, fit)
        actions = compute(model.pipeline.encode_clip, frames).actions
        return Clip("", path.stem, frames, fps, actions, str(path), fit, aspect, note)

    def _decode(self, path: str, size: int, fit: str) -> tuple[np.ndarray, float, float, str]:
        args = [path, size, self.limits.clip_frames, self.limits.max_duration_s, fit]
        try:
            result = self._decoder.call(self.decode_task, args, self.limits.decode_timeout_s)
        except WorkerError as error:
            raise UserError(f"{Path(path).name}: could not be decoded ({error}).") from None
        note = ""
        if "announced" in result:
            note = f"only the first {int(result['decodable'])} of its {int(result['announced'])} frames decode"
        return result["frames"], float(result["fps"]), float(result["aspect"]), note

    @staticmethod
    def _gallery(session: Session) -> str:
        return gallery.gallery([clip.card() for clip in session.library])

    # ------------------------------------------------------------ map

    def action_map(self, sid: str, color_by: str = "clip", method: str = "auto"):
        """The map of every transition in the library; returns (figure, note)."""
        with self._session(sid) as (session, _):
            return self._figure(session, color_by, method)

    def poll_map(self, sid: str, color_by: str = "clip", method: str = "auto"):
        """The map again when what it would show (projection or note) differs from what was last
        drawn, else KEEP (also while the session is busy: a poll never waits)."""
        session = self.sessions.get(sid)
        if not session.lock.acquire(blocking=False):
            return KEEP, KEEP
        try:
            amap = session.action_map
            if amap is None or amap.version != session.library.version:
                return KEEP, KEEP
            if (amap.method(method), self._map_note(amap, method)) == (amap.shown, amap.note_shown):
                return KEEP, KEEP
            return self._figure(session, color_by, method)
        finally:
            session.lock.release()

    def adopt_layout(self, sid: str, color_by: str = "clip", method: str = "auto"):
        """Switch to the newest UMAP layout although the map was used since the last one."""
        with self._session(sid) as (session, _):
            amap = self._map(session)
            if amap is not None:
                amap.adopted = True
            return self._figure(session, color_by, method)

    def transition(self, sid: str, clip_id: str, t: int, color_by: str = "clip", method: str = "auto"):
        """Frame t, frame t+1 and the model's prediction of t+1 from frames 0..t and action t;
        the map marks the transition. Returns (frame t, frame t+1, predicted, figure, note)."""
        with self._session(sid) as (session, model):
            clip = session.library.get(clip_id)
            t = _index(t, len(clip.actions) - 1, "transition")
            return self._transition(session, model, clip, t, color_by, method)

    def select_point(self, sid: str, row: int, version: int, color_by: str = "clip", method: str = "auto"):
        """A point clicked on the map (its row and the library version it was drawn for) becomes the
        chosen transition and the steering start. Returns (map clip, transition range, frame t,
        frame t+1, predicted, figure, note, steering clip, steering frame range)."""
        with self._session(sid) as (session, model):
            amap = self._map(session)
            if amap is None or int(version) != amap.version:
                raise UserError("The library changed since the map was drawn; click the point again.")
            row = _index(row, len(amap.actions) - 1, "point")
            clip = list(session.library)[int(amap.clip_index[row])]
            t = int(amap.times[row])
            shown = self._transition(session, model, clip, t, color_by, method)
            return (clip.id, Range(len(clip.actions) - 1, t), *shown, clip.id, Range(len(clip.frames) - 1, t))

    def _transition(self, session: Session, model: LoadedModel, clip: Clip, t: int, color_by: str, method: str):
        state = compute(model.pipeline.start, clip.frames[: t + 1])
        predicted = compute(model.pipeline.preview, state, clip.actions[t])
        amap = self._map(session)
        clip_number = [c.id for c in session.library].index(clip.id)
        session.marks.selected = int(np.flatnonzero((amap.clip_index == clip_number) & (amap.times == t))[0])
        amap.touched = True
        figure, note = self._figure(session, color_by, method)
        return clip.frames[t], clip.frames[t + 1], predicted, figure, note

    def _map(self, session: Session) -> ActionMap | None:
        if not len(session.library):
            return None
        amap = session.action_map
        if amap is None or amap.version != session.library.version:
            if amap is not None and amap.umap is not None:
                amap.umap.cancel()
            actions, index, times = session.library.transitions()
            session.action_map = build_map(session.library.version, actions, index, times, self.embedder,
                                           self.limits.umap_min_points, previous=amap)
            session.marks.selected = None
        return session.action_map

    @staticmethod
    def _map_note(amap: ActionMap, method: str) -> str:
        if method == "pca":
            return ""
        if amap.method(method) != "umap" and amap.umap_points() is not None:
            return NEW_LAYOUT
        if amap.method(method) == "interim":
            return "New points are placed among their neighbours on the current UMAP layout while a new one is computed."
        return amap.umap_status()

    def _figure(self, session: Session, color_by: str, method: str):
        amap = self._map(session)
        if amap is None:
            return empty_figure(), ""
        shown, note = amap.method(method), self._map_note(amap, method)
        amap.shown, amap.note_shown = shown, note
        return action_map(amap, [c.name for c in session.library], color_by, shown, session.marks), note

    # ------------------------------------------------------------ steer

    def steer_start(self, sid: str, clip_id: str, index: int):
        """Start steering after frame `index` of a clip. Returns (current frame, preview of the
        inferred action, controllability, the slider values for it...)."""
        with self._session(sid) as (session, model):
            clip = session.library.get(clip_id)
            index = _index(index, len(clip.frames) - 1, "frame")
            session.steering = steer.begin(model.pipeline, clip.frames, clip.actions, index, clip.fps)
            return (session.steering.current, *self._reset(session, model))

    def steer_strip(self, sid: str) -> np.ndarray:
        """What each slider direction does from the current frame: rows = directions, columns =
        -2, 0 and +2 standard deviations (`steer.direction_strip`)."""
        with self._session(sid) as (session, model):
            return steer.direction_strip(model.pipeline, _steering(session), self._pca(session))

    def play_setup(self, sid: str, clusters: int = 6):
        """Bind the centres of `clusters` k-means clusters of the library's actions to keys, to play
        on from the steering run's current frame. Returns (play panel HTML, status)."""
        clusters = _index(clusters, play.MAX_CLUSTERS, "number of keys", low=1)
        with self._session(sid) as (session, model):
            steering = _steering(session)
            centres = play.cluster(self._map(session).actions, clusters)
            token = secrets.token_urlsafe(16)
            self._players = {t: s for t, s in self._players.items() if s != sid} | {token: sid}
            steering.keys = play.PlayKeys(token, centres)
            strips = [png_data_uri(np.concatenate([steering.current, steer.preview(model.pipeline, steering, c)], axis=1))
                      for c in centres]
            status = (f"{len(centres)} keys bound to the centres of the library's latent actions "
                      f"(k-means); each shows the current frame and where its action leads.")
            return play.panel(token, png_data_uri(steering.current), strips), status

    def play_key(self, token: str, key: str) -> dict:
        """One played frame for a held key (the page's server function; the token names the session)."""
        sid = self._players.get(str(token))
        if sid is None or sid not in self.sessions:
            return {"error": "This play session has ended; press “Bind keys” again."}
        try:
            with self._session(sid) as (session, model):
                steering = session.steering
                if steering is None or steering.keys is None or steering.keys.token != token:
                    return {"error": "The steering run changed; press “Bind keys” again."}
                action = steering.keys.action(str(key))
                if action is None:
                    return {"error": f"No action is bound to {key!r}."}
                self._room(steering, 1)
                frame, steering.state = compute(model.pipeline.step, steering.state, action)
                steering.frames.append(frame)
                return {"frame": png_data_uri(frame), "frames": len(steering.frames)}
        except UserError as error:
            return {"error": str(error)}

    def steer_reset(self, sid: str):
        """Back to the inferred action: (preview, controllability, slider values...)."""
        with self._session(sid) as (session, model):
            return self._reset(session, model)

    def steer_preview(self, sid: str, *values: float) -> np.ndarray:
        """The next frame for the slider position, not committed (the live path: nothing else)."""
        with self._session(sid) as (session, model):
            steering = _steering(session)
            return steer.preview(model.pipeline, steering, self._action(session, steering, values))

    def steer_step(self, sid: str, *values: float):
        """Commit the slider's action: (new current frame, controllability)."""
        with self._session(sid) as (session, model):
            steering = _steering(session)
            self._room(steering, 1)
            readout = steer.advance(model.pipeline, steering, self._action(session, steering, values))
            return steering.current, readout

    def steer_rollout(self, sid: str, steps: int, *values: float):
        """Repeat the slider's action `steps` times: (current frame, video of the run, controllability)."""
        with self._session(sid) as (session, model):
            steering = _steering(session)
            steps = _index(steps, self.limits.max_rollout_steps, "number of steps", low=1)
            self._room(steering, steps)
            action = self._action(session, steering, values)
            for _ in range(steps):
                readout = steer.advance(model.pipeline, steering, action)
            return steering.current, self._steer_video(session, steering), readout

    def steer_video(self, sid: str) -> str:
        """The frames of this steering run so far as a WebM file."""
        with self._session(sid) as (session, _):
            return self._steer_video(session, _steering(session))

    def steer_map(self, sid: str, color_by: str, method: str, *values: float):
        """Where the sliders' action lies on the map, and how well the model obeys it:
        (figure, note, controllability)."""
        with self._session(sid) as (session, model):
            steering = _steering(session)
            action = self._action(session, steering, values)
            session.marks.current = action
            self._map(session).touched = True
            return (*self._figure(session, color_by, method), steer.readout(model.pipeline, steering, action))

    def _reset(self, session: Session, model: LoadedModel):
        steering = session.steering
        values = np.clip(self._pca(session).coordinates(steering.base), -SLIDER_LIMIT, SLIDER_LIMIT).round(2)
        session.marks.current = steering.base
        frame = steer.preview(model.pipeline, steering, steering.base)
        return (frame, steer.readout(model.pipeline, steering, steering.base, frame), *values.tolist())

    def _pca(self, session: Session):
        amap = self._map(session)
        if amap is None:
            raise UserError("The library is empty; add a clip first.")
        return amap.pca

    def _action(self, session: Session, steering: Steering, values) -> np.ndarray:
        pca = self._pca(session)
        values = [0.0 if v is None else float(v) for v in values][: len(pca.scales)]
        values += [0.0] * (len(pca.scales) - len(values))
        return pca.steer(steering.base, np.array(values))

    def _room(self, steering: Steering, steps: int) -> None:
        if len(steering.frames) + steps > self.limits.max_steer_frames:
            raise UserError(f"A steering run holds at most {self.limits.max_steer_frames} frames; start again from a frame.")

    @staticmethod
    def _steer_video(session: Session, steering: Steering) -> str:
        return write_clip(np.stack(steering.frames), session.output("steer"), steering.fps)

    # ------------------------------------------------------------ transfer, rebind

    def pick(self, sid: str, clip_id: str, role: str):
        """A clip dropped on (or chosen for) a role: (drop zone HTML, the picker's value)."""
        if role not in gallery.ROLES:
            raise UserError(f"Unknown role {role!r}.")
        with self._session(sid) as (session, _):
            clip = session.library.get(clip_id)
            session.picks[role] = clip.id
            return gallery.dropzone(role, clip.card(draggable=False)), clip.id

    def add_and_pick(self, sid: str, paths: list[str] | str | None, role: str):
        """A file dropped on a role's zone: added to the library and picked.
        Returns (gallery, status, drop zone HTML, the picker's value)."""
        html, status = self.add_files(sid, paths)
        with self._session(sid) as (session, _):
            newest = list(session.library)[-1].id
        return (html, status, *self.pick(sid, newest, role))

    def transfer(self, sid: str, motion_id: str, appearance_id: str, scale: float = 1.0):
        """The motion of one clip driving the first frame of another.
        Returns (video: motion | appearance | result, status)."""
        with self._session(sid) as (session, model):
            motion, appearance = session.library.get(motion_id), session.library.get(appearance_id)
            actions = motion.actions * float(scale)
            result = compute(model.pipeline.rollout, appearance.frames[:1], actions)
            frames = panels([motion.frames, appearance.frames, np.concatenate([appearance.frames[:1], result])])
            video = write_clip(frames, session.output("transfer"), motion.fps)
            return video, (f"Motion of {motion.name} (×{float(scale):g}) applied to {appearance.name}: "
                           f"motion | appearance | result, {len(actions)} steps.")

    def rebind(self, sid: str, structure_id: str, content_id: str):
        """Structure of one clip rendered with the content of another.
        Returns (video: structure | content | result, status)."""
        with self._session(sid) as (session, model):
            structure, content = session.library.get(structure_id), session.library.get(content_id)
            result = compute(model.pipeline.rebind, structure.frames, content.frames)
            video = write_clip(panels([structure.frames, content.frames, result]), session.output("rebind"), structure.fps)
            return video, f"Structure of {structure.name} with the content of {content.name}: structure | content | result."

    # ------------------------------------------------------------ plan

    def plan(self, sid: str, start_id: str, start_index: int, goal_id: str | None, goal_index: int,
             goal_image: np.ndarray | str | None, horizon: int, color_by: str = "clip", method: str = "auto"):
        """Actions from a start frame to a goal (a clip's frame, or an image when given: an array,
        or a file path or data URL, checked against the pixel limit before it is decoded).
        Returns (video: goal | plan, figure with the path, status, the actions as lists)."""
        with self._session(sid) as (session, model):
            size = model.pipeline.image_size
            start_clip = session.library.get(start_id)
            start = start_clip.frames[_index(start_index, len(start_clip.frames) - 1, "start frame")]
            if isinstance(goal_image, (str, Path)):
                goal_image = read_image(goal_image, self.limits.max_image_pixels, "The goal image")
            if goal_image is not None:
                goal = fit_image(goal_image, size)
            else:
                goal_clip = session.library.get(goal_id)
                goal = goal_clip.frames[_index(goal_index, len(goal_clip.frames) - 1, "goal frame")]
            horizon = _index(horizon, self.limits.max_rollout_steps, "horizon", low=1)
            amap = self._map(session)
            result = planning.plan(model.pipeline, start, goal, horizon, amap.actions,
                                   self.limits.plan_samples, self.limits.plan_iterations)
            session.marks.path = result.actions
            rollout = np.concatenate([start[None], result.frames])
            video = write_clip(panels([np.repeat(goal[None], len(rollout), 0), rollout]), session.output("plan"), start_clip.fps)
            figure, note = self._figure(session, color_by, method)
            tokens = [compute(model.pipeline.tokenize, frame[None]) for frame in (start, goal)]
            start_distance = float((tokens[0] - tokens[1]).pow(2).mean())
            status = f"{words.plan_result(horizon, start_distance, result.cost)} Video: goal | plan. {note}".strip()
            return video, figure, status, np.round(result.actions, 4).tolist()

    def plan_figure(self, sid: str):
        """The last plan's actions along the library's directions, as a small line plot."""
        with self._session(sid) as (session, _):
            if session.marks.path is None:
                return empty_figure("Plan to see the actions here.")
            pca = self._pca(session)
            scales = np.where(pca.scales > 0, pca.scales, 1)
            return plan_figure(pca.project(session.marks.path) / scales)


def _steering(session: Session) -> Steering:
    if session.steering is None:
        raise UserError("Choose a start frame first.")
    return session.steering


def _index(value, high: int, what: str, low: int = 0) -> int:
    try:
        index = int(round(float(value)))
    except (TypeError, ValueError):
        raise UserError(f"The {what} must be a number.") from None
    if not low <= index <= high:
        raise UserError(f"The {what} must be between {low} and {high}, got {index}.")
    return index

"""What every view shares: the model cache, the sessions, the decoder and UMAP workers, and the
demo clips. A view's service takes it and works inside `session(sid)`."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from explorer import persist
from explorer.clips import Clip, Library
from explorer.decode import check_upload, decode_failure
from explorer.device import compute
from explorer.errors import UserError
from explorer.limits import Limits
from explorer.models import LoadedModel, ModelCache, default_source
from explorer.projection import Embedder, worker_fit
from explorer.quality import Quality, read_quality
from explorer.sessions import STATE_DIR, Session, SessionStore
from explorer.sources import SourcePolicy
from explorer.steer import Steering
from explorer.worker import Worker, WorkerError, WorkerPool

ASSETS = Path(__file__).resolve().parent.parent.parent / "assets"
DEMO = ("translation.webm", "rotation.webm", "pair_motion.webm", "pair_appearance.webm")
"""Examples a new page starts with; the pair is made for transfer and rebinding."""


class Core:
    decode_task = "explorer.decode:decode_clip"

    def __init__(self, model: str | None = None, device: str | None = None, limits: Limits = Limits(),
                 embedder: Embedder | None | str = "worker", assets: Path = ASSETS, root: Path | None = None,
                 demo: tuple[str, ...] = (), sources: SourcePolicy | None = None):
        self.limits = limits
        self.assets = Path(assets)
        self.demo = tuple(demo)
        self._demo_clips: dict[str, list[Clip]] = {}
        self._demo_lock = threading.Lock()
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
        self.demo_clips(model)
        return model.info.markdown()

    def demo_clips(self, model: LoadedModel) -> list[Clip]:
        """The demo clips for `model`, decoded and encoded once and shared (read-only) by sessions."""
        with self._demo_lock:
            if model.key not in self._demo_clips:
                names = [n for n in self.demo if (self.assets / n).is_file()]
                self._demo_clips[model.key] = [self.footage(model, str(self.assets / n), "letterbox") for n in names]
            return self._demo_clips[model.key]

    def attach(self, sid: str, key: str | None) -> str:
        """Bind this page to the browser's saved key (its session comes back after a reload or a
        restart); returns the key the browser should keep: a fresh one for none, a forged or an
        expired one."""
        return self.sessions.attach(sid, key)

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
            run = saved["steering"]
            state = compute(model.pipeline.start, np.stack(run["frames"]))
            session.steering = Steering(state, run["frames"], run["base"], run["fps"], run["clip"], run["start"])
        return session

    @contextmanager
    def session(self, sid: str):
        """The session and its model, locked for one operation and saved after it."""
        session = self.sessions.get(sid)
        with session.lock:
            yield session, self.models.get(session.model_key)
            self.sessions.save(session)

    def footage(self, model: LoadedModel, path: str, fit: str) -> Clip:
        """A file decoded and encoded, as a clip without an id."""
        path = check_upload(path, self.limits.max_upload_mb)
        frames, fps, aspect, note = self.decode(str(path), model.pipeline.image_size, fit)
        actions = compute(model.pipeline.encode_clip, frames).actions
        return Clip("", path.stem, frames, fps, actions, str(path), fit, aspect, note)

    def decode(self, path: str, size: int, fit: str) -> tuple[np.ndarray, float, float, str]:
        args = [path, size, self.limits.clip_frames, self.limits.max_duration_s, fit]
        try:
            result = self._decoder.call(self.decode_task, args, self.limits.decode_timeout_s)
        except WorkerError as error:
            raise UserError(decode_failure(Path(path).name, error)) from None
        note = ""
        if "announced" in result:
            note = f"only the first {int(result['decodable'])} of its {int(result['announced'])} frames decode"
        return result["frames"], float(result["fps"]), float(result["aspect"]), note

    @staticmethod
    def quality(model: LoadedModel) -> Quality:
        return read_quality(model.key)

    def card(self, model: LoadedModel) -> str:
        return model.info.markdown() + "  \n" + self.quality(model).markdown()


def index(value, high: int, what: str, low: int = 0) -> int:
    """A whole number from the page, checked against its bounds."""
    try:
        number = int(round(float(value)))
    except (TypeError, ValueError):
        raise UserError(f"The {what} must be a number.") from None
    if not low <= number <= high:
        raise UserError(f"The {what} must be between {low} and {high}, got {number}.")
    return number

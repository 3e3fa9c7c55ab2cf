"""Per-browser-session state, kept apart, freed when idle, closed or when too many."""
from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from explorer.clips import Library
from explorer.figures import Marks
from explorer.projection import ActionMap
from explorer.steer import Steering

KEEP_OUTPUTS = 2


@dataclass
class Session:
    id: str
    directory: Path
    library: Library
    model_key: str
    lock: threading.RLock = field(default_factory=threading.RLock)
    steering: Steering | None = None
    action_map: ActionMap | None = None
    marks: Marks = field(default_factory=Marks)
    started: bool = False  # the page's first view was shown (with the demo clips)
    _outputs: int = 0

    def output(self, kind: str, suffix: str = ".webm") -> Path:
        """A new file for a result of `kind`; only the last KEEP_OUTPUTS of each kind are kept."""
        self._outputs += 1
        older = sorted(self.directory.glob(f"{kind}-*{suffix}"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        for old in older[: max(len(older) - KEEP_OUTPUTS + 1, 0)]:
            old.unlink(missing_ok=True)
        return self.directory / f"{kind}-{self._outputs}{suffix}"

    def close(self) -> None:
        if self.action_map is not None and self.action_map.umap is not None:
            self.action_map.umap.cancel()
        self.steering = self.action_map = None
        shutil.rmtree(self.directory, ignore_errors=True)


class SessionStore:
    def __init__(self, create: Callable[[str, Path], Session], idle_s: float, max_sessions: int,
                 root: Path | None = None, clock: Callable[[], float] = time.monotonic):
        self._create, self.idle_s, self.max_sessions, self._clock = create, idle_s, max_sessions, clock
        self.root = Path(root or tempfile.mkdtemp(prefix="dila-sessions-"))
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, session_id: str) -> bool:
        return session_id in self._sessions

    def get(self, session_id: str) -> Session:
        """The session (created on first use); expires idle ones and, past the maximum, the
        least recently used."""
        with self._lock:
            stale = self._take_stale()
            session = self._sessions.get(session_id)
            if session is None:
                session = self._create(session_id, Path(tempfile.mkdtemp(dir=self.root)))
                self._sessions[session_id] = session
                while len(self._sessions) > self.max_sessions:
                    oldest = self._sessions.popitem(last=False)[1]
                    self._seen.pop(oldest.id, None)
                    stale.append(oldest)
            self._sessions.move_to_end(session_id)
            self._seen[session_id] = self._clock()
        _close(stale)
        return session

    def drop(self, session_id: str) -> None:
        with self._lock:
            session = self._sessions.pop(session_id, None)
            self._seen.pop(session_id, None)
        _close([session] if session else [])

    def expire(self) -> list[str]:
        with self._lock:
            stale = self._take_stale()
        _close(stale)
        return [s.id for s in stale]

    def close(self) -> None:
        with self._lock:
            stale = list(self._sessions.values())
            self._sessions.clear()
        _close(stale)
        shutil.rmtree(self.root, ignore_errors=True)

    def _take_stale(self) -> list[Session]:
        now = self._clock()
        stale = [sid for sid, seen in self._seen.items() if now - seen > self.idle_s]
        for sid in stale:
            self._seen.pop(sid)
        return [self._sessions.pop(sid) for sid in stale if sid in self._sessions]


def _close(sessions: list[Session]) -> None:
    for session in sessions:
        with session.lock:
            session.close()

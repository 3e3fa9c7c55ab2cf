"""Per-browser state, kept apart and kept on disk: a browser holds a signed key (in its
localStorage) and finds its session again after a reload or an app restart, until the session
has been idle too long. Expired, foreign or forged keys get a fresh session. Memory holds at most
`max_sessions`; disk use is capped per session and in total, the longest idle freed first.

The state folder (DILA_STATE_DIR) holds saved state only, and nothing in it is ever served.
The files the page shows (videos) are written to a folder of this process in the system's
temp directory, from which Gradio copies them to its cache; they live as long as the session
is in memory."""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from explorer import persist
from explorer.clips import Library
from explorer.figures import Marks
from explorer.leftovers import OwnedFolder
from explorer.projection import ActionMap
from explorer.steer import Steering

KEEP_OUTPUTS = 2
ENV_STATE_DIR = "DILA_STATE_DIR"
STATE_DIR = "state"
UNSAVED_GRACE_S = 30.0


@dataclass
class Session:
    id: str
    directory: Path  # its saved state, in the state folder
    outputs: Path  # the files it serves, in this process's temp folder
    library: Library
    model_key: str
    lock: threading.RLock = field(default_factory=threading.RLock)
    steering: Steering | None = None
    action_map: ActionMap | None = None
    marks: Marks = field(default_factory=Marks)
    started: bool = False  # the page's first view was shown (with the demo clips)
    picks: dict[str, str] = field(default_factory=dict)  # drop-zone role -> clip id
    saved: tuple | None = None  # what was last written to disk (persist.fingerprint)
    _outputs: int = 0

    def output(self, kind: str, suffix: str = ".webm") -> Path:
        """A new file for a result of `kind`; only the last KEEP_OUTPUTS of each kind are kept."""
        self._outputs += 1
        self.outputs.mkdir(parents=True, exist_ok=True)
        older = sorted(self.outputs.glob(f"{kind}-*{suffix}"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        for old in older[: max(len(older) - KEEP_OUTPUTS + 1, 0)]:
            old.unlink(missing_ok=True)
        return self.outputs / f"{kind}-{self._outputs}{suffix}"

    @property
    def state_dir(self) -> Path:
        return self.directory / STATE_DIR

    def close(self, forget: bool = True) -> None:
        """Free its memory and outputs; `forget` also deletes its saved state."""
        if self.action_map is not None and self.action_map.umap is not None:
            self.action_map.umap.cancel()
        self.steering = self.action_map = None
        shutil.rmtree(self.outputs, ignore_errors=True)
        if forget:
            shutil.rmtree(self.directory, ignore_errors=True)


def default_root() -> Path:
    return Path(os.environ.get(ENV_STATE_DIR) or Path(tempfile.gettempdir()) / "dila-explorer-sessions")


class SessionStore:
    def __init__(self, create: Callable[[str, Path, Path], Session], idle_s: float, max_sessions: int,
                 root: Path | None = None, clock: Callable[[], float] = time.monotonic,
                 session_disk_mb: int = 256, total_disk_mb: int = 4096):
        self._create, self.idle_s, self.max_sessions, self._clock = create, idle_s, max_sessions, clock
        self.session_bytes, self.total_bytes = session_disk_mb * 1024**2, total_disk_mb * 1024**2
        self.root = Path(root or default_root())
        self.root.mkdir(parents=True, exist_ok=True)
        self._secret = _secret(self.root)
        self._outputs = OwnedFolder("dila-explorer-outputs-")
        self.outputs_root = self._outputs.path
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._seen: dict[str, float] = {}
        self._aliases: dict[str, str] = {}
        self._lock = threading.Lock()
        self._sweep(live=set())

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, session_id: str) -> bool:
        return self._aliases.get(session_id, session_id) in self._sessions

    # ------------------------------------------------------------ keys

    def issue(self) -> str:
        token = secrets.token_urlsafe(24)
        return f"{token}.{self._sign(token)}"

    def valid(self, key: object) -> bool:
        if not isinstance(key, str) or key.count(".") != 1 or len(key) > 200:
            return False
        token, signature = key.split(".")
        return hmac.compare_digest(signature, self._sign(token))

    def attach(self, page_id: str, key: object) -> str:
        """Bind a page to the browser's key: its own session if the key is genuine and not
        expired, else a fresh key (and session). Returns the key the browser should keep."""
        if not self.valid(key) or (key not in self._sessions and self._expired(self._directory(key))):
            key = self.issue()
        with self._lock:
            self._aliases[page_id] = key
        return key

    @property
    def browser_secret(self) -> str:
        """A stable secret for the browser-side store of the key (sent to the page: obfuscation
        only; the key's own signature is what protects a session)."""
        return self._sign("browser-state")

    def _sign(self, token: str) -> str:
        return hmac.new(self._secret, token.encode(), hashlib.sha256).hexdigest()[:32]

    def _directory(self, key: str) -> Path:
        return self.root / hashlib.sha256(key.encode()).hexdigest()[:32]

    # ------------------------------------------------------------ sessions

    def get(self, session_id: str) -> Session:
        """The session (restored from disk, or created, on first use); expires idle ones and, past
        the maximum in memory, evicts the least recently used (its saved state stays on disk)."""
        with self._lock:
            key = self._aliases.get(session_id, session_id)
            stale = [(s, True) for s in self._take_stale()]
            session = self._sessions.get(key)
            if session is None:
                directory = self._directory(key)
                if self._expired(directory):
                    shutil.rmtree(directory, ignore_errors=True)
                session = self._create(key, directory, self.outputs_root / directory.name)
                self._sessions[key] = session
                while len(self._sessions) > self.max_sessions:
                    oldest = self._sessions.popitem(last=False)[1]
                    self._seen.pop(oldest.id, None)
                    stale.append((oldest, False))
            self._sessions.move_to_end(key)
            self._seen[key] = self._clock()
        _close(stale)
        return session

    def save(self, session: Session) -> None:
        """Write the session's changes to disk (call with its lock held), then keep the total
        within its cap by freeing the longest idle sessions. Only sessions of a browser key are
        saved: a page without one (an API client) could never come back to it."""
        if not self.valid(session.id):
            return
        persist.save(session, session.state_dir, self.session_bytes)
        if session.saved is not None and persist.disk_bytes(self.root) > self.total_bytes:
            self._free_disk(keep=session.directory)

    def drop(self, session_id: str) -> None:
        """The page closed: free the memory, keep the saved state for the browser's return."""
        with self._lock:
            key = self._aliases.pop(session_id, session_id)
            if key in self._aliases.values():
                return
            session = self._sessions.pop(key, None)
            self._seen.pop(key, None)
        _close([(session, False)] if session else [])

    def expire(self) -> list[str]:
        """Free idle sessions, and delete saved state that expired or folders that hold none."""
        with self._lock:
            stale = self._take_stale()
            live = {s.directory for s in self._sessions.values()}
        self._sweep(live)
        _close([(s, True) for s in stale])
        return [s.id for s in stale]

    def _sweep(self, live: set[Path]) -> None:
        for directory in self.root.iterdir():
            if directory.is_dir() and directory not in live and (self._expired(directory) or _unsaved(directory)):
                shutil.rmtree(directory, ignore_errors=True)

    def close(self) -> None:
        """Free every session's memory; their saved state stays for the next start."""
        with self._lock:
            stale = [(s, False) for s in self._sessions.values()]
            self._sessions.clear()
        _close(stale)
        self._outputs.cleanup()

    def _expired(self, directory: Path) -> bool:
        state = directory / STATE_DIR / persist.STATE
        try:
            return time.time() - state.stat().st_mtime > self.idle_s
        except OSError:
            return False

    def _free_disk(self, keep: Path) -> None:
        def last_saved(directory: Path) -> float:
            try:
                return (directory / STATE_DIR / persist.STATE).stat().st_mtime
            except OSError:
                return 0.0

        total = persist.disk_bytes(self.root)
        for directory in sorted((d for d in self.root.iterdir() if d.is_dir() and d != keep), key=last_saved):
            if total <= self.total_bytes:
                break
            total -= persist.disk_bytes(directory)
            with self._lock:
                evicted = [k for k, s in self._sessions.items() if s.directory == directory]
                sessions = [self._sessions.pop(k) for k in evicted]
            _close([(s, True) for s in sessions])
            shutil.rmtree(directory, ignore_errors=True)

    def _take_stale(self) -> list[Session]:
        now = self._clock()
        stale = [sid for sid, seen in self._seen.items() if now - seen > self.idle_s]
        for sid in stale:
            self._seen.pop(sid)
        return [self._sessions.pop(sid) for sid in stale if sid in self._sessions]


def _unsaved(directory: Path) -> bool:
    """A session folder without saved state (left by a crash or an older version), old enough
    that no save can be under way in it."""
    try:
        age = time.time() - directory.stat().st_mtime
    except OSError:
        return False
    return age > UNSAVED_GRACE_S and not (directory / STATE_DIR / persist.STATE).exists()


def _secret(root: Path) -> bytes:
    """The key-signing secret, made once per state folder (readable by its owner only)."""
    path = root / ".secret"
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(descriptor, "wb") as file:
        file.write(secrets.token_bytes(32))
    return path.read_bytes()


def _close(sessions: list[tuple[Session, bool]]) -> None:
    for session, forget in sessions:
        with session.lock:
            session.close(forget)

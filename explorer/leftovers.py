"""Temp folders that say whether their process still lives: each holds a lock file locked for as
long as the process that made it runs (the system drops the lock when it dies, even by kill -9).
Making the first folder of a kind removes that kind's folders whose lock nobody holds; a folder
without a lock file (being made, or made by an older version) is left alone."""
from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import threading
from pathlib import Path

LOCK = ".owner.lock"

_swept: set[tuple[str, str]] = set()
_sweep_lock = threading.Lock()


class OwnedFolder:
    """A new folder in the temp directory, named `prefix` + random, locked while this process lives."""

    def __init__(self, prefix: str, root: str | os.PathLike | None = None):
        root = Path(root or tempfile.gettempdir())
        with _sweep_lock:
            if (str(root), prefix) not in _swept:
                _swept.add((str(root), prefix))
                remove_stale(prefix, root)
        making = Path(tempfile.mkdtemp(prefix=f".{prefix}", dir=root))  # unseen by sweeps until locked
        self._lock = os.open(making / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        self.path = making.with_name(making.name[1:])
        os.rename(making, self.path)

    def cleanup(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *_) -> None:
        self.cleanup()

    def __del__(self) -> None:
        if getattr(self, "_lock", None) is not None:
            self.cleanup()


def remove_stale(prefix: str, root: str | os.PathLike | None = None) -> list[Path]:
    """Remove the `prefix` folders in `root` whose owner process is gone; returns them."""
    root = Path(root or tempfile.gettempdir())
    removed = []
    for folder in root.glob(f"{prefix}*"):
        if folder.is_dir() and not folder.is_symlink() and _abandoned(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _abandoned(folder: Path) -> bool:
    try:
        descriptor = os.open(folder / LOCK, os.O_RDWR | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(descriptor)
    return True

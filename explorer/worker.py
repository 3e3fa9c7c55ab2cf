"""A long-lived child process that runs one task at a time, so that decoding untrusted videos
and fitting UMAP neither block the server's threads nor can crash or exhaust it.

Parent side: `Worker.call(task, args, timeout)`; a task is `"module:function"` whose result is
a dict of arrays. Child side: `python -m explorer.worker [--nice N] [--memory-mb M]` reads one
JSON request per line and answers one JSON line; the arrays travel in an `.npz` file.
"""
from __future__ import annotations

import argparse
import atexit
import importlib
import json
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from explorer.errors import UserError
from explorer.leftovers import OwnedFolder

ROOT = Path(__file__).resolve().parent.parent
QUIET_ENV = {"OPENCV_LOG_LEVEL": "ERROR", "OPENCV_FFMPEG_LOGLEVEL": "-8", "PYTHONWARNINGS": "ignore"}


class WorkerError(RuntimeError):
    """The child crashed, ran out of memory or time; it is restarted for the next call. `kind`:
    "timeout" (the task ran out of time: it says nothing about its input), "stopped" (from
    outside), "crashed", "ended" or "failed" (the task raised)."""

    def __init__(self, message: str, kind: str = "failed"):
        super().__init__(message)
        self.kind = kind


STOPPED = (signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
PARENT_CHECK_S = 0.1


class Worker:
    def __init__(self, nice: int = 0, memory_mb: int | None = None, env: dict[str, str] | None = None,
                 preload: tuple[str, ...] = ()):
        self.memory_mb = memory_mb
        self._args = ["--nice", str(nice)] + (["--memory-mb", str(memory_mb)] if memory_mb else [])
        self._args += [arg for module in preload for arg in ("--preload", module)] + ["--parent", str(os.getpid())]
        path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
        self._env = {**os.environ, **QUIET_ENV, **(env or {}), "PYTHONPATH": path}
        self._process: subprocess.Popen | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._dir = OwnedFolder("dila-worker-")
        atexit.register(self.close)

    def start(self) -> None:
        """Start the child now, so that its imports are done by the first call."""
        with self._lock:
            self._ensure_started()

    def call(self, task: str, args: list, timeout: float) -> dict[str, np.ndarray]:
        with self._lock:
            process = self._ensure_started()
            out = self._dir.path / "result.npz"
            out.unlink(missing_ok=True)
            process.stdin.write(json.dumps({"task": task, "args": args, "out": str(out)}) + "\n")
            process.stdin.flush()
            reply = self._reply(process, timeout)
            if not reply["ok"]:
                raise (UserError if reply["user"] else WorkerError)(reply["error"])
            if not out.exists():
                return {}
            with np.load(out, allow_pickle=False) as data:
                return {key: data[key] for key in data.files}

    def close(self) -> None:
        """Stop the child for good (a call waiting on it fails at once)."""
        self._closed = True
        self._stop()
        self._dir.cleanup()

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _ensure_started(self) -> subprocess.Popen:
        if self._closed:
            raise WorkerError("the worker has been stopped", "stopped")
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "explorer.worker", *self._args], cwd=ROOT, env=self._env,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )
        return self._process

    def _reply(self, process: subprocess.Popen, timeout: float) -> dict:
        ready, _, _ = select.select([process.stdout], [], [], timeout)
        if not ready:
            self._stop()
            raise WorkerError(f"it took longer than {timeout:.0f} s", "timeout")
        line = process.stdout.readline()
        if not line:
            code = process.wait()
            self._stop()
            if self._closed:
                raise WorkerError("the worker has been stopped", "stopped")
            raise self._death(code)
        return json.loads(line)

    def _death(self, code: int) -> WorkerError:
        """What a child's exit status says happened, in words."""
        if code >= 0:
            return WorkerError(f"the worker process ended unexpectedly (exit code {code})", "ended")
        name = signal.Signals(-code).name
        if -code in STOPPED:
            return WorkerError(f"the worker process was stopped from outside ({name}) before it finished; try again", "stopped")
        cap = f", or it needed more than its memory cap of {self.memory_mb} MB" if self.memory_mb else ""
        return WorkerError(f"the worker process crashed ({name}): the file may be damaged{cap}", "crashed")


class WorkerPool:
    """`size` workers shared by every caller: a call takes a free one, waiting in turn (first come,
    first served) while all are busy, at most `wait_s`."""

    def __init__(self, size: int, wait_s: float, **options):
        self.wait_s = wait_s
        self._workers = [Worker(**options) for _ in range(size)]
        self._free: queue.Queue[Worker] = queue.Queue()
        for worker in self._workers:
            self._free.put(worker)

    def start(self) -> None:
        for worker in self._workers:
            worker.start()

    def call(self, task: str, args: list, timeout: float) -> dict[str, np.ndarray]:
        try:
            worker = self._free.get(timeout=self.wait_s)
        except queue.Empty:
            raise UserError(f"All {len(self._workers)} decoders stayed busy for {self.wait_s:g} s; "
                            "try again in a moment.") from None
        try:
            return worker.call(task, args, timeout)
        finally:
            self._free.put(worker)

    @property
    def pids(self) -> list[int | None]:
        return [worker.pid for worker in self._workers]

    def close(self) -> None:
        for worker in self._workers:
            worker.close()


def _run(task: str, args: list) -> dict:
    module, name = task.split(":")
    return getattr(importlib.import_module(module), name)(*args) or {}


def exit_with(parent: int) -> None:
    """End this process at once, quietly, when `parent` is gone (even after kill -9): nobody
    waits for its task's result."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nice", type=int, default=0)
    parser.add_argument("--memory-mb", type=int, default=None)
    parser.add_argument("--preload", action="append", default=[])
    parser.add_argument("--parent", type=int, default=None)
    options = parser.parse_args(argv)
    if options.parent:
        exit_with(options.parent)
    if options.nice:
        os.nice(options.nice)
    if options.memory_mb:
        import resource

        limit = options.memory_mb * 1024**2
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    for module in options.preload:
        importlib.import_module(module)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            result = _run(request["task"], request["args"])
            if result:
                np.savez(request["out"], **{key: np.asarray(value) for key, value in result.items()})
            reply = {"ok": True}
        except UserError as error:
            reply = {"ok": False, "user": True, "error": str(error)}
        except MemoryError:
            cap = f"it reached its memory cap of {options.memory_mb} MB" if options.memory_mb else "it ran out of memory"
            reply = {"ok": False, "user": False, "error": cap}
        except Exception as error:  # reported to the parent, which decides what to show
            reply = {"ok": False, "user": False, "error": f"{type(error).__name__}: {error}"}
        try:
            replies.write(json.dumps(reply) + "\n")
        except BrokenPipeError:
            os._exit(0)


if __name__ == "__main__":
    main()

"""Hub downloads with a deadline: the Hub's answers are awaited in a child process that is killed
when they do not come in time, so that no Hub (refused, unreachable, silent, or trickling bytes)
holds the caller longer than the deadline.

Parent: `fetch(repo_id, names, ...)`. Child: `python -m dila.hub_fetch` reads one JSON request on
stdin and writes JSON lines: `{"bytes": n}` once the file list is known, then the result.
"""
from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import PurePosixPath

REPO_ID = re.compile(r"^(?!.*(--|\.\.))[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
CHECKPOINT_SUFFIXES = (".pt", ".pth")
METADATA_S = 10.0
REQUEST_TIMEOUT_S = 5
MIN_BYTES_PER_S = 2 * 1024**2
OUR_FORMAT = ("config.json", "model.safetensors")
CHILD = (sys.executable, "-m", "dila.hub_fetch")


class FetchError(OSError):
    """The Hub did not give the files; `kind` is "unavailable", "not_found" or "too_large"."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def is_repo_id(text: str) -> bool:
    return bool(REPO_ID.match(text)) and not text.endswith(".git")


def pick_checkpoint(names: list[str], repo_id: str) -> str:
    """The one `.pt` of a repo, or its phase-2 final checkpoint when there are several."""
    files = sorted(n for n in names if PurePosixPath(n).suffix in CHECKPOINT_SUFFIXES)
    if len(files) == 1:
        return files[0]
    preferred = [n for n in files if "phase2" in n and "final" in PurePosixPath(n).name]
    if len(preferred) == 1:
        return preferred[0]
    if not files:
        raise FetchError("not_found", f"{repo_id}: neither config.json + model.safetensors nor a .pt checkpoint")
    raise FetchError("not_found", f"{repo_id}: {len(files)} checkpoint files {files[:10]}; choose one with filename=...")


def choose(names: list[str], repo_id: str, filename: str | None) -> list[str]:
    """The files to download: the one asked for, our format, or the published checkpoint."""
    if filename:
        if filename not in names:
            raise FetchError("not_found", f"{repo_id}: no file {filename}")
        return [filename]
    if all(name in names for name in OUR_FORMAT):
        return list(OUR_FORMAT)
    return [pick_checkpoint(names, repo_id)]


def fetch(repo_id: str, filename: str | None, *, revision: str | None = None, cache_dir: str | None = None,
          max_bytes: int | None = None, metadata_s: float | None = None) -> list[str]:
    """Download the model files of `repo_id` into the Hugging Face cache and return their paths.

    The file list must arrive within `metadata_s`, and the download at `MIN_BYTES_PER_S` on
    average; otherwise the child is killed and `FetchError("unavailable")` raised."""
    request = {"repo_id": repo_id, "filename": filename, "revision": revision, "cache_dir": cache_dir, "max_bytes": max_bytes}
    env = {**os.environ, "HF_HUB_DOWNLOAD_TIMEOUT": str(REQUEST_TIMEOUT_S), "HF_HUB_ETAG_TIMEOUT": str(REQUEST_TIMEOUT_S),
           "HF_HUB_DISABLE_PROGRESS_BARS": "1", "PYTHONWARNINGS": "ignore"}
    metadata_s = METADATA_S if metadata_s is None else metadata_s
    started = time.monotonic()
    with subprocess.Popen(CHILD, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True, env=env) as process:
        try:
            process.stdin.write(json.dumps(request))
            process.stdin.close()
            return _await(process, started, metadata_s)
        finally:
            process.kill()


def _await(process: subprocess.Popen, started: float, metadata_s: float) -> list[str]:
    """The child's paths; `FetchError("unavailable")` when the file list or the download is late."""
    deadline, total = started + metadata_s, None
    while True:
        line = _read_line(process, deadline)
        if line is None:
            raise FetchError("unavailable", _late(deadline - started, total))
        reply = json.loads(line)
        if "bytes" in reply:
            total = reply["bytes"]
            deadline = time.monotonic() + metadata_s + total / MIN_BYTES_PER_S
            continue
        if not reply["ok"]:
            raise FetchError(reply["kind"], reply["message"])
        return reply["paths"]


def _late(waited_s: float, total: int | None) -> str:
    if total is None:
        return f"the Hub did not answer within {waited_s:.0f} s"
    return f"the Hub answered, but the download ({_megabytes(total)}) did not finish within {waited_s:.0f} s"


def _megabytes(count: int) -> str:
    return f"{count / 1024**2:.1f} MB" if count < 10 * 1024**2 else f"{count / 1024**2:.0f} MB"


def _read_line(process: subprocess.Popen, deadline: float) -> str | None:
    remaining = deadline - time.monotonic()
    if remaining <= 0 or not select.select([process.stdout], [], [], remaining)[0]:
        return None
    return process.stdout.readline() or None


def _child(request: dict) -> dict:
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    repo_id, downloading = request["repo_id"], False
    try:
        info = HfApi().model_info(repo_id, revision=request["revision"], files_metadata=True, timeout=REQUEST_TIMEOUT_S)
        sizes = {s.rfilename: s.size or 0 for s in info.siblings or []}
        names = choose(sorted(sizes), repo_id, request["filename"])
        total = sum(sizes[n] for n in names)
        if request["max_bytes"] is not None and total > request["max_bytes"]:
            return {"ok": False, "kind": "too_large", "message": (
                f"{repo_id}: its model files take {total / 1024**2:.0f} MB; this server downloads at most "
                f"{request['max_bytes'] / 1024**2:.0f} MB")}
        print(json.dumps({"bytes": total}), flush=True)
        downloading = True
        paths = [hf_hub_download(repo_id, n, revision=info.sha, cache_dir=request["cache_dir"],
                                 etag_timeout=REQUEST_TIMEOUT_S) for n in names]
        return {"ok": True, "paths": paths}
    except FetchError as error:
        return {"ok": False, "kind": error.kind, "message": str(error)}
    except (RepositoryNotFoundError, GatedRepoError, RevisionNotFoundError, EntryNotFoundError) as error:
        reason = {RepositoryNotFoundError: "no such repository (or it is private)", GatedRepoError: "the repository is gated",
                  RevisionNotFoundError: "no such revision"}.get(type(error), "a file is missing")
        return {"ok": False, "kind": "not_found", "message": f"{repo_id}: {reason}"}
    except Exception as error:  # network failures of every kind
        return {"ok": False, "kind": "unavailable", "message": _network_failure(error, downloading)}


def _network_failure(error: Exception, downloading: bool) -> str:
    silent, kind = "Timeout" in type(error).__name__, type(error).__name__
    if downloading:
        return f"the download stopped (no data for {REQUEST_TIMEOUT_S} s)" if silent else f"the download failed ({kind})"
    return f"the Hub did not answer within {REQUEST_TIMEOUT_S} s" if silent else f"the Hub could not be reached ({kind})"


def main() -> None:
    print(json.dumps(_child(json.loads(sys.stdin.read()))), flush=True)


if __name__ == "__main__":
    main()

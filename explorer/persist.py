"""A session's state on disk, without pickle: `state.json` (clip names, picks, chosen model,
steering run) beside one `.npz` per clip and per steering frame (`allow_pickle=False`).

Clips and frames are written once; `state.json` is rewritten only when what it describes has
changed, so the live slider path costs one tuple comparison."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from explorer.clips import Clip, Library

STATE, CLIPS, STEER = "state.json", "clips", "steer"


def fingerprint(session) -> tuple:
    steering = session.steering
    return (session.library.version, session.model_key, tuple(sorted(session.picks.items())), session.started,
            id(steering), len(steering.frames) if steering else 0)


def save(session, directory: Path, max_bytes: int) -> None:
    """Write what changed since the last save; clips beyond `max_bytes` of saved data are not kept."""
    mark = fingerprint(session)
    if session.saved == mark:
        return
    directory.mkdir(parents=True, exist_ok=True)
    used, kept = 0, []
    for clip in session.library:
        path = directory / CLIPS / f"{clip.id}.npz"
        if not path.exists():
            size = clip.frames.nbytes + clip.actions.nbytes
            if used + size > max_bytes:
                continue
            path.parent.mkdir(exist_ok=True)
            _write_npz(path, frames=clip.frames, actions=clip.actions)
        used += path.stat().st_size
        kept.append({"id": clip.id, "name": clip.name, "fps": clip.fps, "source": clip.source,
                     "fit": clip.fit, "aspect": clip.aspect})
    for stale in set(p.stem for p in (directory / CLIPS).glob("*.npz")) - {c["id"] for c in kept}:
        (directory / CLIPS / f"{stale}.npz").unlink(missing_ok=True)
    state = {"clips": kept, "counter": session.library.counter, "model": session.model_key, "picks": session.picks,
             "started": session.started, "steering": _save_steering(session, directory, max_bytes - used)}
    temporary = directory / f"{STATE}.tmp"
    temporary.write_text(json.dumps(state))
    os.replace(temporary, directory / STATE)
    session.saved = mark


def _save_steering(session, directory: Path, room: int) -> dict | None:
    steering, folder = session.steering, directory / STEER
    if steering is None or steering.frames[0].nbytes * len(steering.frames) > room:
        shutil.rmtree(folder, ignore_errors=True)
        return None
    if session.saved is None or session.saved[4] != id(steering):
        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(exist_ok=True)
    for index, frame in enumerate(steering.frames):
        path = folder / f"{index}.npz"
        if not path.exists():
            _write_npz(path, frame=frame)
    return {"frames": len(steering.frames), "base": steering.base.tolist(), "fps": steering.fps, "clip": steering.clip,
            "start": steering.start}


def load(directory: Path, max_clips: int) -> dict | None:
    """The saved state (library rebuilt; steering as frames, base, fps, clip and start), or None when there is
    none or it cannot be read."""
    try:
        state = json.loads((directory / STATE).read_text())
        library = Library(max_clips)
        for entry in state["clips"][:max_clips]:
            with np.load(directory / CLIPS / f"{entry['id']}.npz", allow_pickle=False) as data:
                frames, actions = data["frames"], data["actions"]
            library.restore(Clip(str(entry["id"]), str(entry["name"]), frames, float(entry["fps"]), actions,
                                 entry.get("source"), str(entry.get("fit", "letterbox")), float(entry.get("aspect", 1.0))))
        library.counter = max(int(state["counter"]), library.counter)
        steering = state.get("steering")
        if steering:
            frames = []
            for index in range(int(steering["frames"])):
                with np.load(directory / STEER / f"{index}.npz", allow_pickle=False) as data:
                    frames.append(data["frame"])
            steering = {"frames": frames, "base": np.asarray(steering["base"], np.float32), "fps": float(steering["fps"]),
                        "clip": str(steering.get("clip", "")), "start": int(steering.get("start", 0))}
        picks = {str(k): str(v) for k, v in dict(state.get("picks") or {}).items()}
        return {"library": library, "model": str(state["model"]), "picks": picks,
                "started": bool(state.get("started")), "steering": steering}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_npz(path: Path, **arrays: np.ndarray) -> None:
    temporary = path.with_suffix(".tmp.npz")
    np.savez(temporary, **arrays)
    os.replace(temporary, path)


def disk_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())

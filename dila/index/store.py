"""An index directory: `manifest.json`, `data/part-NNNNN.parquet` (transitions) and
`errors/part-NNNNN.parquet` (clips that could not be indexed).

Shards hold whole clips and appear atomically (written under a temporary name, then renamed), so a
reader never sees half a shard and a killed run loses at most the clips it had not written yet. A
shard's errors are written before its transitions: a clip is done once its id is in either table.
One run at a time writes an index (a lock on its folder).
"""
from __future__ import annotations

import fcntl
import json
import os
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

MANIFEST = "manifest.json"
FORMAT = "dila-index"
VERSION = 1
_SHARD = re.compile(r"^part-(\d{5,})\.parquet$")


class IndexMismatchError(ValueError):
    """An existing index was made by another model, codec, source or settings."""


class IndexBusyError(OSError):
    """Another run is writing the index."""


class IndexStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.data, self.errors = self.root / "data", self.root / "errors"
        self._lock: int | None = None

    def manifest(self) -> dict | None:
        path = self.root / MANIFEST
        return json.loads(path.read_text()) if path.is_file() else None

    def open(self, header: dict) -> None:
        """Start or resume an index made with `header` (format, source, model, codec, settings); the
        index stays locked against other runs until `close` or the end of the process."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = _lock(self.root)
        previous = self.manifest()
        if previous is not None:
            try:
                check_same(previous, header, self.root)
            except IndexMismatchError:
                self.close()
                raise
        self.data.mkdir(parents=True, exist_ok=True)
        self.errors.mkdir(parents=True, exist_ok=True)
        for leftover in (*self.root.glob(".*.tmp"), *self.data.glob(".*.tmp"), *self.errors.glob(".*.tmp")):
            leftover.unlink()
        self.write_manifest({**(previous or {}), **header, "complete": False})

    def clip_path(self, source: str) -> Path | None:
        """The file a row's `source` names (under the manifest's root, which is relative to the index or
        absolute); None for a dataset source."""
        manifest = self.manifest()
        if manifest["source"]["kind"] != "files":
            return None
        return self.root / manifest["source"]["root"] / source

    def done(self) -> set[str]:
        """Ids of the clips already in a shard of either table."""
        ids: set[str] = set()
        for shard in self.shards(self.data) + self.shards(self.errors):
            ids.update(pq.read_table(shard, columns=["clip_id"]).column("clip_id").to_pylist())
        return ids

    def shards(self, folder: Path) -> list[Path]:
        return sorted(p for p in folder.glob("part-*.parquet") if _SHARD.match(p.name))

    def next_number(self) -> int:
        numbers = [int(_SHARD.match(p.name).group(1)) for p in self.shards(self.data) + self.shards(self.errors)]
        return max(numbers, default=-1) + 1

    def write_shard(self, number: int, transitions: pa.Table | None, errors: pa.Table | None) -> None:
        if errors is not None and errors.num_rows:
            _atomic_parquet(errors, self.errors / f"part-{number:05d}.parquet")
        if transitions is not None and transitions.num_rows:
            _atomic_parquet(transitions, self.data / f"part-{number:05d}.parquet")

    def counts(self) -> dict:
        transitions = self.shards(self.data)
        clips = set()
        for shard in transitions:
            clips.update(pq.read_table(shard, columns=["clip_id"]).column("clip_id").to_pylist())
        return {"clips": len(clips), "transitions": sum(pq.ParquetFile(s).metadata.num_rows for s in transitions),
                "errors": sum(pq.ParquetFile(s).metadata.num_rows for s in self.shards(self.errors)),
                "shards": len(transitions)}

    def finish(self) -> dict:
        manifest = {**self.manifest(), "counts": self.counts(), "complete": True}
        self.write_manifest(manifest)
        return manifest

    def close(self) -> None:
        """Let other runs write the index."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def write_manifest(self, manifest: dict) -> None:
        _atomic_bytes((json.dumps(manifest, indent=2) + "\n").encode(), self.root / MANIFEST)


def check_same(previous: dict, header: dict, root: Path) -> None:
    """Refuse to add rows made another way to an existing index, naming what differs."""
    if previous.get("format") != FORMAT:
        raise IndexMismatchError(f"{root}: holds a {MANIFEST} that is not a DiLA index; choose another --out.")
    for key in ("source", "model", "codec", "settings"):
        if previous.get(key) != header.get(key):
            raise IndexMismatchError(f"{root}: this index was made with a different {key} "
                                     f"({json.dumps(previous.get(key))}, now {json.dumps(header.get(key))}); "
                                     "choose another --out to make a new index.")


def _lock(folder: Path) -> int | None:
    """An exclusive lock on the folder itself, released by the system if the process dies (None on a
    filesystem without locks)."""
    handle = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(handle)
        raise IndexBusyError(f"{folder}: another run is writing this index; wait for it or stop it.") from None
    except OSError:
        os.close(handle)
        return None
    return handle


def _atomic_parquet(table: pa.Table, path: Path) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, temporary)
    _sync_and_rename(temporary, path)


def _atomic_bytes(content: bytes, path: Path) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(content)
    _sync_and_rename(temporary, path)


def _sync_and_rename(temporary: Path, path: Path) -> None:
    with open(temporary, "rb") as file:
        os.fsync(file.fileno())
    os.replace(temporary, path)

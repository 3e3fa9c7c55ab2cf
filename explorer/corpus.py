"""A latent-action index (`dila.index`) in memory for the corpus view: its rows, a PCA layout made
once, colours by clip, source folder or k-means cluster, nearest neighbours in action space, and a
transition's two frames read from its source video (cached)."""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from dila.index.store import FORMAT, MANIFEST
from explorer.errors import UserError
from explorer.media import png_data_uri

COLOR_BY = ("clip", "source folder", "cluster")
CLUSTERS = 8
THUMB_SIDE = 128
COLUMNS = ("clip_id", "source", "transition", "frame_index", "next_frame_index", "timestamp", "action")


class FramesGone(Exception):
    """A transition's frames cannot be read from its source (moved, deleted or undecodable)."""


@dataclass
class Corpus:
    label: str
    root: Path
    manifest: dict
    table: pa.Table
    actions: np.ndarray  # float32 n a
    clips: np.ndarray  # int32 n: each row's clip, into clip_names
    clip_names: list[str]
    folders: np.ndarray  # int32 n: each row's source folder, into folder_names
    folder_names: list[str]
    points: np.ndarray  # float32 n 2: the PCA layout, in σ
    explained: np.ndarray  # share of the spread along each of the two directions
    skipped: list[str] = field(default_factory=list)  # shards that could not be read
    _clusters: np.ndarray | None = None
    _finder: object = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __len__(self) -> int:
        return len(self.actions)

    def colours(self, color_by: str) -> tuple[np.ndarray, list[str]]:
        """Each row's colour group and the groups' names."""
        if color_by == "clip":
            return self.clips, self.clip_names
        if color_by == "source folder":
            return self.folders, self.folder_names
        if color_by == "cluster":
            clusters = self.clusters()
            return clusters, [f"cluster {i + 1}" for i in range(int(clusters.max()) + 1)]
        raise UserError(f"Colour by must be one of {', '.join(COLOR_BY)}, got {color_by!r}.")

    def clusters(self) -> np.ndarray:
        """k-means clusters of the actions, computed on first use."""
        with self._lock:
            if self._clusters is None:
                from sklearn.cluster import MiniBatchKMeans

                k = min(CLUSTERS, len(self))
                fit = MiniBatchKMeans(k, random_state=0, n_init=3, batch_size=4096).fit(self.actions)
                self._clusters = fit.labels_.astype(np.int32)
            return self._clusters

    def nearest(self, row: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k rows nearest to `row` in action space (itself left out) and their distances."""
        with self._lock:
            if self._finder is None:
                from sklearn.neighbors import NearestNeighbors

                self._finder = NearestNeighbors(algorithm="ball_tree").fit(self.actions)
        k = min(k, len(self) - 1)
        distances, rows = self._finder.kneighbors(self.actions[row:row + 1], k + 1)
        keep = rows[0] != row
        return rows[0][keep][:k], distances[0][keep][:k]

    def row(self, row: int) -> dict:
        """One row's fields (its action left out)."""
        values = self.table.select([c for c in COLUMNS if c != "action"]).slice(row, 1).to_pylist()[0]
        return {**values, "clip": self.clip_names[int(self.clips[row])]}

    def video(self, row: int) -> Path | None:
        """The source video of a row (None for a dataset source)."""
        source = self.manifest.get("source", {})
        if source.get("kind") != "files":
            return None
        return self.root / source.get("root", "") / self.table.column("source")[row].as_py()

    def frames(self, row: int) -> tuple[str, str]:
        """Frames t and t+1 of a row as PNG data URIs; raises FramesGone."""
        path = self.video(row)
        if path is None:
            raise FramesGone("this index's clips come from a dataset, whose frames are not shown here")
        first = int(self.table.column("frame_index")[row].as_py())
        second = int(self.table.column("next_frame_index")[row].as_py())
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            raise FramesGone(f"{PurePosixPath(self.table.column('source')[row].as_py())} has moved or been deleted "
                             "since indexing") from None
        return _frame_pair(str(path), mtime, first, second)

    def export(self, rows: np.ndarray, path: Path) -> Path:
        """The rows as Parquet, or as CSV (one column per action number) for a `.csv` path."""
        table = self.table.take(pa.array(np.asarray(rows, np.int64)))
        if path.suffix == ".csv":
            actions = np.asarray(table.column("action").combine_chunks().flatten()).reshape(table.num_rows, -1)
            table = table.drop_columns(["action"])
            for i in range(actions.shape[1]):
                table = table.append_column(f"action_{i}", pa.array(actions[:, i]))
            pa_csv.write_csv(table, path)
        else:
            pq.write_table(table, path)
        return path


class _PairCache:
    """Recently read frame pairs, least recently used dropped first."""

    def __init__(self, size: int = 2048):
        self.size, self._pairs, self._lock = size, OrderedDict(), threading.Lock()

    def get(self, key):
        with self._lock:
            if key in self._pairs:
                self._pairs.move_to_end(key)
                return self._pairs[key]
        return None

    def put(self, key, value) -> None:
        with self._lock:
            self._pairs[key] = value
            while len(self._pairs) > self.size:
                self._pairs.popitem(last=False)


PAIRS = _PairCache()


def _frame_pair(path: str, mtime: int, first: int, second: int) -> tuple[str, str]:
    key = (path, mtime, first, second)
    cached = PAIRS.get(key)
    if cached is None:
        cached = tuple(png_data_uri(_thumbnail(f)) for f in _read_frames(path, (first, second)))
        PAIRS.put(key, cached)
    return cached


def _read_frames(path: str, indices: tuple[int, int]) -> list[np.ndarray]:
    capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    try:
        if not capture.isOpened():
            raise FramesGone(f"{Path(path).name} can no longer be decoded")
        if indices[0] > 0:
            capture.set(cv2.CAP_PROP_POS_FRAMES, indices[0])
        frames, position = {}, indices[0]
        while position <= max(indices):
            ok, frame = capture.read()
            if not ok:
                raise FramesGone(f"{Path(path).name} has fewer frames than when it was indexed")
            if position in indices:
                frames[position] = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            position += 1
        return [frames[i] for i in indices]
    finally:
        capture.release()


def _thumbnail(frame: np.ndarray) -> np.ndarray:
    height, width = frame.shape[:2]
    scale = THUMB_SIDE / max(height, width)
    if scale >= 1:
        return frame
    return cv2.resize(frame, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)


def read_manifest(root: Path, label: str) -> dict:
    path = root / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"The index {label} has no {MANIFEST}; index a folder with `python -m dila.index`.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise UserError(f"The {MANIFEST} of the index {label} cannot be read; index the folder again.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise UserError(f"{label} is not a DiLA index (its {MANIFEST} is of another kind).")
    return manifest


def transitions_in(manifest: dict) -> int:
    return int((manifest.get("counts") or {}).get("transitions") or 0)


def load_corpus(root: Path, label: str, manifest: dict) -> Corpus:
    """The index's rows with their layout; a shard that cannot be read is left out and named."""
    tables, skipped = [], []
    for shard in sorted((root / "data").glob("part-*.parquet")):
        try:
            table = pq.read_table(shard, columns=list(COLUMNS))
            tables.append(table.cast(tables[0].schema) if tables else table)
        except (pa.ArrowException, OSError, ValueError):
            skipped.append(shard.name)
    if not tables:
        reason = f" ({', '.join(skipped)} cannot be read: corrupt or truncated)" if skipped else ""
        raise UserError(f"The index {label} holds no transitions{reason}; index the folder again.")
    table = pa.concat_tables(tables).combine_chunks()
    column = table.column("action").combine_chunks()
    actions = np.asarray(column.flatten(), np.float32).reshape(table.num_rows, -1)
    clips, clip_names = _codes(table.column("clip_id"))
    sources, source_names = _codes(table.column("source"))
    parents = [str(PurePosixPath(name).parent) for name in source_names]
    folder_names = sorted(set(parents))
    folders = np.array([folder_names.index(p) for p in parents], np.int32)[sources]
    points, explained = pca_layout(actions)
    return Corpus(label, root, manifest, table, actions, clips, clip_names, folders,
                  [name if name != "." else "(top folder)" for name in folder_names], points, explained, skipped)


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    encoded = column.combine_chunks().dictionary_encode()
    return np.asarray(encoded.indices, np.int32), encoded.dictionary.to_pylist()


def pca_layout(actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The actions along their two main directions, in σ, and each direction's share of the spread."""
    centred = actions - actions.mean(0)
    values, vectors = np.linalg.eigh(np.cov(centred, rowvar=False).reshape(actions.shape[1], actions.shape[1]))
    order = np.argsort(values)[::-1][:2]
    spread = np.sqrt(np.maximum(values[order], 1e-12))
    points = (centred @ vectors[:, order]) / spread
    return points.astype(np.float32), values[order] / max(values.sum(), 1e-12)

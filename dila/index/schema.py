"""The tables of an index: one row per transition, and one per clip that could not be indexed."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from dila.index.decode import DecodedClip


def transition_schema(action_dim: int) -> pa.Schema:
    return pa.schema([
        ("clip_id", pa.string()),
        ("source", pa.string()),
        ("transition", pa.int32()),
        ("frame_index", pa.int32()),
        ("next_frame_index", pa.int32()),
        ("timestamp", pa.float64()),
        ("next_timestamp", pa.float64()),
        ("action", pa.list_(pa.float32(), action_dim)),
        ("clip_frames", pa.int32()),
        ("clip_fps", pa.float64()),
        ("clip_height", pa.int32()),
        ("clip_width", pa.int32()),
    ])


ERROR_SCHEMA = pa.schema([("clip_id", pa.string()), ("source", pa.string()), ("error", pa.string())])


def transition_table(clip: DecodedClip, actions: np.ndarray) -> pa.Table:
    """One row per transition of a clip; `actions` float32 `(t-1) a`."""
    count, action_dim = actions.shape
    indices = np.asarray(clip.indices, np.int64)
    flat = pa.array(np.ascontiguousarray(actions, np.float32).reshape(-1))
    columns = {
        "clip_id": pa.array([clip.clip_id] * count, pa.string()),
        "source": pa.array([clip.source] * count, pa.string()),
        "transition": pa.array(np.arange(count, dtype=np.int32)),
        "frame_index": pa.array(indices[:-1].astype(np.int32)),
        "next_frame_index": pa.array(indices[1:].astype(np.int32)),
        "timestamp": pa.array(indices[:-1] / clip.fps),
        "next_timestamp": pa.array(indices[1:] / clip.fps),
        "action": pa.FixedSizeListArray.from_arrays(flat, action_dim),
        "clip_frames": pa.array(np.full(count, clip.frame_count, np.int32)),
        "clip_fps": pa.array(np.full(count, clip.fps, np.float64)),
        "clip_height": pa.array(np.full(count, clip.height, np.int32)),
        "clip_width": pa.array(np.full(count, clip.width, np.int32)),
    }
    return pa.Table.from_pydict(columns, schema=transition_schema(action_dim))


def error_table(errors: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(errors, schema=ERROR_SCHEMA)


def describe_schema(schema: pa.Schema) -> dict[str, str]:
    return {field.name: str(field.type) for field in schema}

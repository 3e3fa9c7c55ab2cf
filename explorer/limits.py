"""The limits that bound each request's time and each session's memory (see README_API.md)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_upload_mb: int = 200
    max_download_mb: int = 2048
    max_image_pixels: int = 25_000_000
    max_duration_s: float = 600.0
    clip_frames: int = 32
    max_clips: int = 64
    decode_timeout_s: float = 30.0
    decoders: int = 2
    decode_memory_mb: int = 1536
    max_rollout_steps: int = 64
    max_steer_frames: int = 256
    session_idle_s: float = 1800.0
    max_sessions: int = 32
    umap_min_points: int = 10
    umap_timeout_s: float = 300.0
    plan_samples: int = 32
    plan_iterations: int = 3
    plan_cost: str = "tokens"  # `dila.planning.plan`: every candidate rendered; "structure" is ~5x faster, plans worse

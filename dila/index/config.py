"""Settings of an indexing run."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from dila.video import FITS

ENGINES = ("local", "ray")


@dataclass
class IndexConfig:
    source: str  # a folder or glob of videos, a saved `datasets` directory, or a Hub dataset id
    out: Path
    model: str | None = None  # None: the bundled model; else any `load_world_model` source
    revision: str | None = None
    filename: str | None = None
    codec: str | None = None  # None: the light codec beside the model (or the bundled one) if it fits, else "rae"
    device: str = "cpu"
    frames: int = 32  # evenly spaced frames decoded per clip (the explorer's default)
    window: int = 32  # frames the model sees at once; longer clips are encoded in overlapping windows
    fit: str = "letterbox"  # square frames: the whole frame on black bars, or its centre
    max_duration_s: float = 2 * 3600.0
    split: str = "train"  # for `datasets` sources
    video_column: str | None = None  # for `datasets` sources; None: the first Video column
    shard_rows: int = 20_000  # rows per Parquet shard (whole clips only)
    limit: int | None = None  # index only the first `limit` clips
    engine: str = "local"
    workers: int = 1  # ray: model actors
    decoders: int | None = None  # ray: decoding tasks at once (None: as many as Ray has CPUs)
    gpus_per_worker: float = 0.0  # ray: GPUs per model actor
    cpus_per_worker: float = 1.0  # ray: CPUs (torch threads) per model actor
    progress: bool = True

    def __post_init__(self):
        self.out = Path(self.out)
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {self.engine!r}")
        if self.fit not in FITS:
            raise ValueError(f"fit must be one of {FITS}, got {self.fit!r}")
        if self.frames < 2 or self.window < 2:
            raise ValueError("frames and window must be at least 2 (a transition needs two frames)")
        if self.shard_rows < 1 or self.workers < 1:
            raise ValueError("shard_rows and workers must be at least 1")

    def settings(self) -> dict:
        """What decides the rows: a run may only resume an index made with the same settings."""
        values = asdict(self)
        return {key: values[key] for key in ("frames", "window", "fit", "max_duration_s", "split", "video_column")}

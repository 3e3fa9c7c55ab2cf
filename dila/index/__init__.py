"""Latent-action indexing of a video corpus: one Parquet row per transition (see `python -m dila.index -h`)."""
from dila.index.build import build_index
from dila.index.config import IndexConfig
from dila.index.store import IndexBusyError, IndexMismatchError, IndexStore

__all__ = ["IndexBusyError", "IndexConfig", "IndexMismatchError", "IndexStore", "build_index"]

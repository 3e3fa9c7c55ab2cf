"""DiLA: Disentangled Latent Action world models, in PyTorch."""
from dila.config import DiLAConfig
from dila.world_model import DiLAWorldModel

__all__ = ["DiLAConfig", "DiLAWorldModel", "load_world_model", "save_world_model", "load_codec", "Pipeline"]


def __getattr__(name):
    if name in ("load_world_model", "save_world_model", "push_to_hub", "CheckpointError"):
        from dila import hub

        return getattr(hub, name)
    if name == "load_codec":
        from dila.codecs import load_codec

        return load_codec
    if name == "Pipeline":
        from dila.pipeline import Pipeline

        return Pipeline
    raise AttributeError(f"module 'dila' has no attribute {name!r}")

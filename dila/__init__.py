"""DiLA: Disentangled Latent Action world models, in PyTorch.

Attributes load lazily, so that `dila.video` or `dila.data` do not import the model stack.
"""
from importlib import import_module

_EXPORTS = {
    "DiLAConfig": "dila.config",
    "DiLAWorldModel": "dila.world_model",
    "load_world_model": "dila.hub",
    "save_world_model": "dila.hub",
    "push_to_hub": "dila.hub",
    "CheckpointError": "dila.hub",
    "load_codec": "dila.codecs",
    "Pipeline": "dila.pipeline",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'dila' has no attribute {name!r}")

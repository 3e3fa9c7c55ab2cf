"""The model side of indexing: loading any world model and codec the explorer can load, naming
exactly which weights made an index, and a clip's latent actions in windows of the model's size."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from dila.index.config import IndexConfig


def load_pipeline(config: IndexConfig):
    """The pipeline for `config.model` / `config.codec`, and what the manifest says about it."""
    pipeline, path, label, codec_label = open_pipeline(config)
    return pipeline, describe(pipeline, label, config.revision, _commit(path), codec_label)


def open_pipeline(config: IndexConfig):
    """The pipeline, the model's local path, and the names the manifest gives the model and codec."""
    from dila.codecs import load_codec
    from dila.hub import BUNDLED, load_world_model, resolve
    from dila.pipeline import Pipeline

    if config.model is None:
        path, label = BUNDLED, "bundled"
    else:
        path, label = resolve(config.model, filename=config.filename, revision=config.revision)[0], config.model
    model = load_world_model(path, device=config.device)
    codec_source = config.codec or default_codec(path, model.config.embed_dim)
    pipeline = Pipeline(model, load_codec(codec_source, device=config.device), config.device)
    codec_label = "bundled" if Path(codec_source) == BUNDLED / "codec" else str(codec_source)
    return pipeline, path, label, codec_label


def default_codec(path: Path, embed_dim: int) -> str:
    """The light codec beside a local model (`codec/`), else the bundled one, when its tokens
    have the model's width; otherwise the published RAE codec (as the explorer chooses)."""
    from dila.hub import BUNDLED

    for folder in ((path if path.is_dir() else path.parent) / "codec", BUNDLED / "codec"):
        file = folder / "config.json"
        if file.is_file() and json.loads(file.read_text()).get("latent_dim") == embed_dim:
            return str(folder)
    return "rae"


def _commit(path: Path) -> str | None:
    """The Hub commit of a file in the Hugging Face cache (`.../snapshots/<commit>/...`)."""
    parts = path.parts
    return parts[parts.index("snapshots") + 1] if "snapshots" in parts[:-1] else None


def describe(pipeline, label: str, revision: str | None, commit: str | None, codec_label: str) -> dict:
    model, codec = pipeline.model, pipeline.codec
    return {
        "model": {"source": label, "revision": revision, "commit": commit, "sha256": weights_sha256(model),
                  "parameters": model.num_parameters(), "action_dim": model.config.action_dim},
        "codec": {"source": codec_label, "kind": type(codec).__name__, "image_size": codec.image_size,
                  "sha256": weights_sha256(codec) if isinstance(codec, torch.nn.Module) else None},
    }


def weights_sha256(module: torch.nn.Module) -> str:
    """SHA-256 of a module's state dict (names, shapes, dtypes and bytes, in name order)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def window_starts(frames: int, window: int) -> list[int]:
    """Starts of windows of `window` frames covering every transition of a clip: each window
    begins at the last frame of the one before, and the last one ends at the clip's last frame."""
    if frames <= window:
        return [0]
    starts = list(range(0, frames - window, window - 1))
    return starts + [frames - window]


@torch.no_grad()
def clip_actions(pipeline, frames: np.ndarray, window: int) -> np.ndarray:
    """Latent actions float32 `(t-1) a` of uint8 frames `t h w 3`; a clip of at most `window`
    frames is encoded at once, as the explorer does, a longer one as a batch of windows."""
    tokens = pipeline.tokenize(frames)[0]
    starts = window_starts(len(frames), window)
    span = min(window, len(frames))
    batch = torch.stack([tokens[start:start + span] for start in starts])
    actions = pipeline.model.latent_actions(batch)[0].float().cpu().numpy()
    pieces, covered = [], 0
    for start, window_actions in zip(starts, actions):
        pieces.append(window_actions[covered - start:])
        covered = start + span - 1
    return np.concatenate(pieces).astype(np.float32)

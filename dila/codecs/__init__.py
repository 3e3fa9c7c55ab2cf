"""Frame codecs: the light codec of the bundled model and the published RAE (DINOv2 + ViT-XL)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from dila.codecs.base import FrameCodec

__all__ = ["FrameCodec", "load_codec"]


def load_codec(source: str | os.PathLike | FrameCodec, device: str | torch.device = "cpu", **kwargs) -> FrameCodec:
    """A codec object as it is; `"rae"` for the published codec (its files through the Hub cache,
    or local paths given as keyword arguments of `load_rae_codec`); a directory with a codec
    `config.json` for the light codec."""
    if not isinstance(source, (str, os.PathLike)):
        return source
    if str(source) == "rae":
        from dila.codecs.rae import load_rae_codec

        return load_rae_codec(device=device, **kwargs)
    config = Path(source) / "config.json"
    if not config.is_file():
        raise ValueError(f"{source}: not a codec directory (no config.json); use 'rae' for the published codec")
    kind = json.loads(config.read_text()).get("codec_type")
    if kind != "light":
        raise ValueError(f"{config}: unknown codec_type {kind!r}")
    from dila.codecs.light import LightCodec

    return LightCodec.from_pretrained(source).to(device).eval()

"""What the pipeline needs from a frame codec."""
from __future__ import annotations

from typing import Protocol

import torch


class FrameCodec(Protocol):
    """Frames `b 3 H W` in [0, 1] <-> token grids `b d h w`."""

    image_size: int
    grid_size: int
    latent_dim: int

    def encode(self, pixels: torch.Tensor) -> torch.Tensor: ...

    def decode(self, latents: torch.Tensor) -> torch.Tensor: ...

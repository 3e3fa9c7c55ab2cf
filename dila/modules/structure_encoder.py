"""Structure encoder: spatial attention within each frame, then causal attention through time."""
from __future__ import annotations

import torch
from torch import nn

from dila.config import DiLAConfig
from dila.modules.position import ContinuousPositionBias
from dila.modules.transformer import AxialTransformer


class StructureEncoder(nn.Module):
    """tokens `b t h w d` -> features `b t h w d`; frame t only sees frames <= t."""

    def __init__(self, cfg: DiLAConfig):
        super().__init__()
        d, heads, dim_head = cfg.embed_dim, cfg.encoder_heads, cfg.encoder_dim_head
        self.position_bias = ContinuousPositionBias(d, heads)
        common = dict(ff_mult=cfg.ff_mult, dropout=cfg.dropout, time_padding=cfg.time_padding)
        self.space = AxialTransformer(d, cfg.encoder_spatial_depth, dim_head, heads, "space", **common)
        self.time = AxialTransformer(d, cfg.encoder_temporal_depth, dim_head, heads, "time", **common)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.space(x, bias=self.position_bias(*x.shape[2:4]))
        return self.time(x)

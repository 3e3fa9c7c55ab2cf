"""Factorised video transformer over `b t h w d`: attention along space or along (causal) time."""
from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from dila.modules.attention import PEG, Attention, FeedForward


class AxialLayer(nn.Module):
    """PEG, then attention along one axis, then a feed-forward; all residual."""

    def __init__(self, dim: int, dim_head: int, heads: int, axis: str, ff_mult: float, dropout: float,
                 time_padding: str = "zeros"):
        super().__init__()
        if axis not in ("space", "time"):
            raise ValueError(f"axis must be 'space' or 'time', got {axis!r}")
        self.axis = axis
        in_time = axis == "time"
        self.peg = PEG(dim, time_padding)
        self.attn = Attention(dim, dim_head, heads, causal=in_time, rotary=in_time)
        self.ff = FeedForward(dim, ff_mult, dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        b, t, h, w, _ = x.shape
        x = x + self.peg(x)
        pattern = "(b t) (h w) d" if self.axis == "space" else "(b h w) t d"
        tokens = rearrange(x, f"b t h w d -> {pattern}")
        tokens = tokens + self.attn(tokens, bias=bias)
        tokens = tokens + self.ff(tokens)
        return rearrange(tokens, f"{pattern} -> b t h w d", b=b, t=t, h=h, w=w)


class AxialTransformer(nn.Module):
    def __init__(self, dim: int, depth: int, dim_head: int, heads: int, axis: str, ff_mult: float, dropout: float,
                 time_padding: str = "zeros"):
        super().__init__()
        self.layers = nn.ModuleList(
            AxialLayer(dim, dim_head, heads, axis, ff_mult, dropout, time_padding) for _ in range(depth)
        )
        self.norm_out = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x, bias)
        return self.norm_out(x)

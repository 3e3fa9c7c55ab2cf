"""Fusion decoder: lifted structure attends to itself, to the first frame and to the content memory."""
from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from dila.config import DiLAConfig
from dila.modules.attention import PEG, Attention, FeedForward
from dila.modules.position import ContinuousPositionBias


class FusionLayer(nn.Module):
    def __init__(self, cfg: DiLAConfig):
        super().__init__()
        d, dh, heads, null = cfg.embed_dim, cfg.decoder_dim_head, cfg.decoder_heads, cfg.decoder_null_kv
        self.peg = PEG(d)
        self.self_attn = Attention(d, dh, heads)
        self.frame_attn = Attention(d, dh, heads, dim_context=d, num_null_kv=null)
        self.content_attn = Attention(d, dh, heads, dim_context=cfg.content_dim, num_null_kv=null)
        self.ff = FeedForward(d, cfg.ff_mult, cfg.dropout)

    def forward(self, x: torch.Tensor, frame: torch.Tensor, memory: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """x: `b t h w d`; frame, memory: `(b t) (h w) c` per-frame contexts."""
        b, t, h, w, _ = x.shape
        x = x + self.peg(x)
        tokens = rearrange(x, "b t h w d -> (b t) (h w) d")
        tokens = tokens + self.self_attn(tokens, bias=bias)
        tokens = tokens + self.frame_attn(tokens, context=frame) + self.content_attn(tokens, context=memory)
        tokens = tokens + self.ff(tokens)
        return rearrange(tokens, "(b t) (h w) d -> b t h w d", b=b, h=h)


class FusionDecoder(nn.Module):
    """x^_{t+1} = Fuse(lift(g^_{t+1}); first frame x_0, memory m_t): all `b t h w *`."""

    def __init__(self, cfg: DiLAConfig):
        super().__init__()
        self.position_bias = ContinuousPositionBias(cfg.embed_dim, cfg.decoder_heads)
        self.layers = nn.ModuleList(FusionLayer(cfg) for _ in range(cfg.decoder_depth))
        self.norm_out = nn.LayerNorm(cfg.embed_dim)

    def forward(self, x: torch.Tensor, first_frame: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        b, t, h, w, _ = x.shape
        first_frame = first_frame.expand(b, t, -1, -1, -1)
        frame = rearrange(first_frame, "b t h w d -> (b t) (h w) d")
        memory = rearrange(memory, "b t h w k -> (b t) (h w) k")
        bias = self.position_bias(h, w)
        for layer in self.layers:
            x = layer(x, frame, memory, bias)
        return self.norm_out(x)

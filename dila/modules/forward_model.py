"""Forward dynamics: an action-conditioned spatio-temporal transformer that predicts the change of
structure, g_{t+1} = g_t + FDM(g_t, z_t)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from dila.config import DiLAConfig
from dila.modules.attention import PEG, Attention, FeedForward
from dila.modules.position import ContinuousPositionBias


class Embed(nn.Module):
    """Linear projection followed by a (non-residual) feed-forward."""

    def __init__(self, dim_in: int, dim: int, ff_mult: float, dropout: float):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim)
        self.ff = FeedForward(dim, ff_mult, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ff(self.proj(x))


class AdaptiveFeedForward(nn.Module):
    """x + MLP((1 + alpha(c)) * LN(x) + beta(c)): the action modulates every token of its frame."""

    def __init__(self, dim: int, dim_cond: int, mult: float = 4.0):
        super().__init__()
        self.norm = nn.LayerNorm(dim, elementwise_affine=False)
        self.to_scale_shift = nn.Linear(dim_cond, 2 * dim)
        self.fc1 = nn.Linear(dim, int(mult * dim))
        self.fc2 = nn.Linear(int(mult * dim), dim)
        nn.init.zeros_(self.to_scale_shift.weight)
        nn.init.zeros_(self.to_scale_shift.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """x: `b t n d`, cond: `b t c`."""
        scale, shift = rearrange(self.to_scale_shift(cond), "b t c -> b t 1 c").chunk(2, dim=-1)
        return x + self.fc2(F.gelu(self.fc1(self.norm(x) * (1 + scale) + shift)))


class ForwardLayer(nn.Module):
    """Action modulation, PEG on the grid tokens, causal time attention, space attention, feed-forward."""

    def __init__(self, cfg: DiLAConfig):
        super().__init__()
        d, dh, heads = cfg.forward_dim, cfg.forward_dim_head, cfg.forward_heads
        self.condition = AdaptiveFeedForward(d, d, cfg.ff_mult)
        self.peg = PEG(d, cfg.time_padding)
        self.space_attn = Attention(d, dh, heads, dropout=cfg.dropout)
        self.time_attn = Attention(d, dh, heads, causal=True, rotary=True, dropout=cfg.dropout)
        self.ff = FeedForward(d, cfg.ff_mult, cfg.dropout)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, bias: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """x: `b t (h w + 1) d` (the grid, then one action token per frame)."""
        b, t, n, _ = x.shape
        x = self.condition(x, cond)
        grid, action = x[:, :, : h * w], x[:, :, h * w :]
        grid = rearrange(grid, "b t (h w) d -> b t h w d", h=h)
        grid = rearrange(grid + self.peg(grid), "b t h w d -> b t (h w) d")
        x = torch.cat((grid, action), dim=2)
        x = x + rearrange(self.time_attn(rearrange(x, "b t n d -> (b n) t d")), "(b n) t d -> b t n d", b=b)
        x = x + rearrange(self.space_attn(rearrange(x, "b t n d -> (b t) n d"), bias=bias), "(b t) n d -> b t n d", b=b)
        return x + self.ff(x)


class ForwardModel(nn.Module):
    def __init__(self, cfg: DiLAConfig):
        super().__init__()
        d = cfg.forward_dim
        self.state_embed = Embed(cfg.structure_dim, d, cfg.ff_mult, cfg.dropout)
        self.action_embed = Embed(cfg.action_dim, d, cfg.ff_mult, cfg.dropout)
        self.position_bias = ContinuousPositionBias(d, cfg.forward_heads)
        self.layers = nn.ModuleList(ForwardLayer(cfg) for _ in range(cfg.forward_depth))
        self.norm_out = nn.LayerNorm(d)
        self.head = nn.Sequential()
        self.head.add_module("norm", nn.LayerNorm(d))
        self.head.add_module("fc1", nn.Linear(d, d // 2))
        self.head.add_module("act", nn.SiLU())
        self.head.add_module("fc2", nn.Linear(d // 2, cfg.structure_dim))

    def forward(self, g: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """g: `b t h w s`, z: `b t a` -> delta g: `b t h w s`."""
        h, w = g.shape[2:4]
        x = self.state_embed(rearrange(g, "b t h w s -> b t (h w) s"))
        cond = self.action_embed(z)
        x = torch.cat((x, rearrange(cond, "b t d -> b t 1 d")), dim=2)
        bias = F.pad(self.position_bias(h, w), (0, 1, 0, 1))
        for layer in self.layers:
            x = layer(x, cond, bias, h, w)
        delta = self.head(self.norm_out(x)[:, :, : h * w])
        return rearrange(delta, "b t (h w) s -> b t h w s", h=h)

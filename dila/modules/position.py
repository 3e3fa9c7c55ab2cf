"""Continuous position bias (Swin v2 style): an MLP from relative 2D offsets to a bias per head."""
from __future__ import annotations

import torch
from einops import rearrange
from torch import nn


def relative_offsets(h: int, w: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The distinct signed-log offsets between cell centres of an `h x w` grid in [0, 1], `(2h-1) (2w-1) 2`,
    and for every pair of cells the row of its offset, `(h w) (h w)`."""
    dy, dx = (torch.arange(1 - n, n, dtype=torch.float32, device=device) / n for n in (h, w))
    table = rearrange(torch.stack(torch.meshgrid(dy, dx, indexing="ij")), "c i j -> (i j) c")
    cells = rearrange(torch.stack(torch.meshgrid(*(torch.arange(n, device=device) for n in (h, w)), indexing="ij")),
                      "c h w -> (h w) c")
    rel = rearrange(cells, "i c -> i 1 c") - rearrange(cells, "j c -> 1 j c")
    index = (rel[..., 0] + h - 1) * (2 * w - 1) + rel[..., 1] + w - 1
    return torch.sign(table) * torch.log1p(table.abs()), index


class ContinuousPositionBias(nn.Module):
    """Bias `heads (h w) (h w)` for spatial attention.

    The table depends on the weights and the grid only, so outside autograd it is computed once
    per grid and reused until a weight changes (tracked through the tensors' version counters).
    """

    cache_enabled = True

    def __init__(self, dim: int, heads: int, layers: int = 2):
        super().__init__()
        mlp: list[nn.Module] = [nn.Linear(2, dim), nn.LeakyReLU(0.1)]
        for _ in range(layers - 1):
            mlp += [nn.Linear(dim, dim), nn.LeakyReLU(0.1)]
        self.net = nn.Sequential(*mlp, nn.Linear(dim, heads))
        self._cache: dict[tuple, tuple[tuple, torch.Tensor]] = {}

    def forward(self, h: int, w: int) -> torch.Tensor:
        device, dtype = self.net[0].weight.device, self.net[0].weight.dtype
        if torch.is_grad_enabled() or not self.cache_enabled:
            return self._compute(h, w, device)
        key, versions = (h, w, device, dtype), tuple(p._version for p in self.parameters())
        if key not in self._cache or self._cache[key][0] != versions:
            self._cache[key] = (versions, self._compute(h, w, device))
        return self._cache[key][1]

    def _compute(self, h: int, w: int, device: torch.device) -> torch.Tensor:
        """The MLP runs once per distinct offset, not once per pair of cells."""
        table, index = relative_offsets(h, w, device)
        return rearrange(self.net(table)[index], "i j heads -> heads i j")

"""Inverse dynamics: the change of structure between frames -> one latent action per transition."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


class ResBlock3d(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv3d(channels, channels, 3, padding=1)
        self.norm1 = nn.GroupNorm(8, channels)
        self.conv2 = nn.Conv3d(channels, channels, 3, padding=1)
        self.norm2 = nn.GroupNorm(8, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm2(self.conv2(F.silu(self.norm1(self.conv1(x)))))
        return F.silu(x + h)


class Level(nn.Module):
    """Residual blocks at one resolution, then a stride-2 spatial downsampling."""

    def __init__(self, channels: int, out_channels: int, blocks: int):
        super().__init__()
        self.blocks = nn.Sequential(*(ResBlock3d(channels) for _ in range(blocks)))
        self.down = nn.Conv3d(channels, out_channels, 3, stride=(1, 2, 2), padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(self.blocks(x))


class Stem(nn.Module):
    def __init__(self, channels_in: int, channels: int):
        super().__init__()
        self.conv = nn.Conv3d(channels_in, channels, 3, padding=1)
        self.norm = nn.GroupNorm(8, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.silu(self.norm(self.conv(x)))


class Head(nn.Module):
    def __init__(self, dim_in: int, hidden: int, dim_out: int, dropout: float):
        super().__init__()
        self.fc1 = nn.Linear(dim_in, hidden)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.dropout(F.silu(self.fc1(x))))


class InverseModel(nn.Module):
    """z = IDM(g_{t+1} - g_t): a 3D-conv ResNet over `(t h w)` that halves the grid four times
    (so grids up to 16x16 end at one cell), then an MLP head. Its 3x3x3 kernels also look at the
    neighbouring transitions, so z_t depends on t-1 and t+1 as well.
    """

    def __init__(self, structure_dim: int, action_dim: int, channels: int, blocks: tuple[int, ...], hidden: int, dropout: float):
        super().__init__()
        widths = [channels, 2 * channels, 4 * channels, 8 * channels, 8 * channels]
        self.stem = Stem(structure_dim, channels)
        self.levels = nn.ModuleList(Level(widths[i], widths[i + 1], n) for i, n in enumerate(blocks))
        self.head = Head(widths[-1], hidden, action_dim, dropout)

    def forward(self, g_prev: torch.Tensor, g_next: torch.Tensor) -> torch.Tensor:
        """g_prev, g_next: `b t h w s` -> z: `b t a`."""
        x = self.stem(rearrange(g_next - g_prev, "b t h w s -> b s t h w"))
        for level in self.levels:
            x = level(x)
        if x.shape[-2:] != (1, 1):
            raise ValueError(f"the inverse model reduces grids up to 16x16 to one cell; got a {tuple(g_prev.shape[2:4])} grid")
        return self.head(rearrange(x, "b c t 1 1 -> b t c"))

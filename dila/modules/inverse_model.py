"""Inverse dynamics: the change of structure between frames -> one latent action per transition."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


def conv3d(channels_in: int, channels_out: int, time_kernel: int, stride: int = 1) -> nn.Conv3d:
    """A `time_kernel x 3 x 3` convolution that keeps `t` and divides `h w` by `stride`."""
    return nn.Conv3d(channels_in, channels_out, (time_kernel, 3, 3), stride=(1, stride, stride), padding=(time_kernel // 2, 1, 1))


class ResBlock3d(nn.Module):
    def __init__(self, channels: int, time_kernel: int):
        super().__init__()
        self.conv1 = conv3d(channels, channels, time_kernel)
        self.norm1 = nn.GroupNorm(8, channels)
        self.conv2 = conv3d(channels, channels, time_kernel)
        self.norm2 = nn.GroupNorm(8, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm2(self.conv2(F.silu(self.norm1(self.conv1(x)))))
        return F.silu(x + h)


class Level(nn.Module):
    """Residual blocks at one resolution, then a stride-2 spatial downsampling."""

    def __init__(self, channels: int, out_channels: int, blocks: int, time_kernel: int):
        super().__init__()
        self.blocks = nn.Sequential(*(ResBlock3d(channels, time_kernel) for _ in range(blocks)))
        self.down = conv3d(channels, out_channels, time_kernel, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(self.blocks(x))


class Stem(nn.Module):
    def __init__(self, channels_in: int, channels: int, time_kernel: int):
        super().__init__()
        self.conv = conv3d(channels_in, channels, time_kernel)
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


def local_correlation(g_prev: torch.Tensor, g_next: torch.Tensor, radius: int = 1) -> torch.Tensor:
    """Cost volume `b t h w (2r+1)^2`: the channel mean of g_{t+1}(p) * g_t(p + offset) for every offset
    within `radius` cells (zeros outside the grid), in row-major order of the offsets."""
    h, w = g_prev.shape[2:4]
    padded = F.pad(g_prev, (0, 0, radius, radius, radius, radius))
    side = 2 * radius + 1
    shifted = [padded[:, :, dy : dy + h, dx : dx + w] for dy in range(side) for dx in range(side)]
    return torch.stack([(g_next * other).mean(dim=-1) for other in shifted], dim=-1)


INPUT_CHANNELS = {"difference": lambda s: s, "pair": lambda s: 2 * s, "correlation": lambda s: 2 * s + 9}


class InverseModel(nn.Module):
    """z = IDM(g_{t+1} - g_t): a 3D-conv ResNet over `(t h w)` that halves the grid four times
    (so grids up to 16x16 end at one cell), then an MLP head. With `time_kernel` 3 (published) its
    kernels also look at the neighbouring transitions, so z_t depends on t-1 and t+1 as well.
    `input_mode`: "difference" (published), "pair" (g_t beside the difference) or "correlation" (the pair
    and the local cost volume between g_t and g_{t+1}, whose asymmetry gives the direction of a motion).
    `antisymmetric`: z = f(g_t, g_{t+1}) - f(g_{t+1}, g_t), so reversing a transition negates its action
    and an action can only carry what reverses with time (a direction, not a speed alone); its last
    `even_dims` coordinates are f(g_t, g_{t+1}) + f(g_{t+1}, g_t) instead, what a transition is both ways.
    `per_frame`: every transition goes through the network alone (time folded into the batch), so its
    GroupNorms see that transition only and z_t does not depend on the rest of the clip.
    """

    def __init__(self, structure_dim: int, action_dim: int, channels: int, blocks: tuple[int, ...], hidden: int,
                 dropout: float, input_mode: str = "difference", time_kernel: int = 3, antisymmetric: bool = False,
                 per_frame: bool = False, even_dims: int = 0):
        super().__init__()
        widths = [channels, 2 * channels, 4 * channels, 8 * channels, 8 * channels]
        self.input_mode, self.antisymmetric, self.per_frame = input_mode, antisymmetric, per_frame
        self.odd_dims = action_dim - even_dims
        self.stem = Stem(INPUT_CHANNELS[input_mode](structure_dim), channels, time_kernel)
        self.levels = nn.ModuleList(Level(widths[i], widths[i + 1], n, time_kernel) for i, n in enumerate(blocks))
        self.head = Head(widths[-1], hidden, action_dim, dropout)

    def forward(self, g_prev: torch.Tensor, g_next: torch.Tensor) -> torch.Tensor:
        """g_prev, g_next: `b t h w s` -> z: `b t a`."""
        if not self.antisymmetric:
            return self.one_way(g_prev, g_next)
        there, back = self.one_way(torch.cat((g_prev, g_next)), torch.cat((g_next, g_prev))).chunk(2)
        odd, even = (there - back)[..., : self.odd_dims], (there + back)[..., self.odd_dims :]
        return torch.cat((odd, even), dim=-1)

    def one_way(self, g_prev: torch.Tensor, g_next: torch.Tensor) -> torch.Tensor:
        x = g_next - g_prev
        if self.input_mode != "difference":
            x = torch.cat((g_prev, x), dim=-1)
        if self.input_mode == "correlation":
            x = torch.cat((x, local_correlation(g_prev, g_next)), dim=-1)
        b = x.shape[0]
        pattern = "(b t) s 1 h w" if self.per_frame else "b s t h w"
        x = self.stem(rearrange(x, f"b t h w s -> {pattern}"))
        for level in self.levels:
            x = level(x)
        if x.shape[-2:] != (1, 1):
            raise ValueError(f"the inverse model reduces grids up to 16x16 to one cell; got a {tuple(g_prev.shape[2:4])} grid")
        pattern = "(b t) c 1 1 1" if self.per_frame else "b c t 1 1"
        return self.head(rearrange(x, f"{pattern} -> b t c", b=b))

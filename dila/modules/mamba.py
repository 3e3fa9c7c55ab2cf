"""Content memory: a selective state-space (Mamba) stack run through time at every grid cell."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import nn

from dila.modules.helpers import default

State = list[torch.Tensor]


class MambaMixer(nn.Module):
    """Selective SSM: h_t = exp(dt A) h_{t-1} + dt B_t x_t,  y_t = C_t h_t + D x_t, gated by silu(z).

    The short causal convolution starts from zeros at every call, so a call on one new frame
    (the recurrent step) sees that frame alone in its window while the SSM state carries history;
    this is the published model's behaviour and we keep it.
    """

    def __init__(self, dim: int, state_dim: int, conv_width: int, expand: int):
        super().__init__()
        inner = expand * dim
        self.dt_rank = math.ceil(dim / 16)
        self.state_dim = state_dim
        self.in_proj = nn.Linear(dim, 2 * inner, bias=False)
        self.conv1d = nn.Conv1d(inner, inner, conv_width, groups=inner, padding=conv_width - 1)
        self.x_proj = nn.Linear(inner, self.dt_rank + 2 * state_dim, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, inner)
        self.A_log = nn.Parameter(torch.log(repeat(torch.arange(1, state_dim + 1, dtype=torch.float32), "n -> d n", d=inner)))
        self.D = nn.Parameter(torch.ones(inner))
        self.out_proj = nn.Linear(inner, dim, bias=False)
        self._init_dt()

    def _init_dt(self, dt_min: float = 1e-3, dt_max: float = 0.1) -> None:
        bound = self.dt_rank**-0.5
        nn.init.uniform_(self.dt_proj.weight, -bound, bound)
        dt = torch.exp(torch.rand(self.dt_proj.out_features) * math.log(dt_max / dt_min) + math.log(dt_min))
        dt = dt.clamp(min=1e-4)
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """x: `n t d`; state: `n inner state_dim`."""
        u, gate = self.in_proj(x).chunk(2, dim=-1)
        u = rearrange(self.conv1d(rearrange(u, "n t c -> n c t"))[..., : x.shape[1]], "n c t -> n t c")
        u = F.silu(u)
        y, state = self.scan(u, state)
        return self.out_proj(y * F.silu(gate)), state

    def scan(self, u: torch.Tensor, state: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        dt, B, C = self.x_proj(u).split([self.dt_rank, self.state_dim, self.state_dim], dim=-1)
        dt = F.softplus(self.dt_proj(dt))
        decay = torch.exp(torch.einsum("ntc,cs->ntcs", dt, -torch.exp(self.A_log)))
        drive = torch.einsum("ntc,nts->ntcs", dt, B) * u.unsqueeze(-1)
        state = default(state, u.new_zeros(u.shape[0], u.shape[2], self.state_dim))
        ys = []
        for decay_t, drive_t, c_t in zip(decay.unbind(1), drive.unbind(1), C.unbind(1)):
            state = decay_t * state + drive_t
            ys.append(torch.einsum("ncs,ns->nc", state, c_t))
        return torch.stack(ys, dim=1) + self.D * u, state


class MambaLayer(nn.Module):
    def __init__(self, dim: int, state_dim: int, conv_width: int, expand: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.mixer = MambaMixer(dim, state_dim, conv_width, expand)

    def forward(self, x: torch.Tensor, state: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        y, state = self.mixer(self.norm(x), state)
        return x + y, state


class ContentMemory(nn.Module):
    """content `b t h w k` -> memory `b t h w k`, causal in time, independent per grid cell."""

    def __init__(self, dim: int, depth: int, state_dim: int, conv_width: int, expand: int):
        super().__init__()
        self.layers = nn.ModuleList(MambaLayer(dim, state_dim, conv_width, expand) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.enhance = nn.Sequential()
        self.enhance.add_module("norm", nn.LayerNorm(dim))
        self.enhance.add_module("fc1", nn.Linear(dim, dim))
        self.enhance.add_module("act", nn.GELU())
        self.enhance.add_module("fc2", nn.Linear(dim, dim))

    def forward(self, content: torch.Tensor, states: State | None = None) -> tuple[torch.Tensor, State]:
        b, t, h, w, _ = content.shape
        x = rearrange(content, "b t h w k -> (b h w) t k")
        states = default(states, [None] * len(self.layers))
        new_states = []
        for layer, state in zip(self.layers, states):
            x, state = layer(x, state)
            new_states.append(state)
        x = self.norm(x)
        x = x + self.enhance(x)
        return rearrange(x, "(b h w) t k -> b t h w k", b=b, h=h, w=w), new_states

    def step(self, content: torch.Tensor, states: State) -> tuple[torch.Tensor, State]:
        """One recurrent step on a single new frame `b 1 h w k`."""
        return self.forward(content, states)

"""Residual MLPs over the channel axis."""
from __future__ import annotations

import torch
from torch import nn


class ResidualBlock(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc(torch.relu(self.norm(x)))


class ResidualMLP(nn.Module):
    """in -> hidden, `depth` residual (LayerNorm, ReLU, Linear) blocks, then LayerNorm, ReLU -> out.

    DiLA's motion encoder (features -> structure), content encoder (features -> content) and
    structure lift (structure -> features) are all this MLP.
    """

    def __init__(self, dim_in: int, dim_hidden: int, dim_out: int, depth: int):
        super().__init__()
        self.input_proj = nn.Linear(dim_in, dim_hidden)
        self.blocks = nn.Sequential(*(ResidualBlock(dim_hidden) for _ in range(depth)))
        self.output_norm = nn.LayerNorm(dim_hidden)
        self.output_proj = nn.Linear(dim_hidden, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.input_proj(x))
        return self.output_proj(torch.relu(self.output_norm(h)))

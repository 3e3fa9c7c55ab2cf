"""Fusion decoder: lifted structure attends to itself, to the first frame and to the content memory."""
from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from dila.config import DiLAConfig
from dila.modules.attention import PEG, Attention, FeedForward
from dila.modules.position import ContinuousPositionBias
from dila.modules.warp import PixelWarp, ShownFrame


class FusionLayer(nn.Module):
    def __init__(self, cfg: DiLAConfig):
        super().__init__()
        d, dh, heads, null = cfg.embed_dim, cfg.decoder_dim_head, cfg.decoder_heads, cfg.decoder_null_kv
        self.peg = PEG(d, cfg.time_padding)
        self.self_attn = Attention(d, dh, heads)
        self.frame_attn = Attention(d, dh, heads, dim_context=d, num_null_kv=null)
        self.content_attn = Attention(d, dh, heads, dim_context=cfg.content_dim, num_null_kv=null)
        self.ff = FeedForward(d, cfg.ff_mult, cfg.dropout)

    def forward(self, x: torch.Tensor, frame: torch.Tensor, memory: torch.Tensor, bias: torch.Tensor,
                frame_bias: torch.Tensor | None = None) -> torch.Tensor:
        """x: `b t h w d`; frame, memory: `(b t) (h w) c` per-frame contexts; `frame_bias`: positions of the
        frame's keys relative to the queries (None: none)."""
        b, t, h, w, _ = x.shape
        x = x + self.peg(x)
        tokens = rearrange(x, "b t h w d -> (b t) (h w) d")
        tokens = tokens + self.self_attn(tokens, bias=bias)
        tokens = tokens + self.frame_attn(tokens, context=frame, bias=frame_bias) + self.content_attn(tokens, context=memory)
        tokens = tokens + self.ff(tokens)
        return rearrange(tokens, "(b t) (h w) d -> b t h w d", b=b, h=h)


class ResidualHead(nn.Module):
    """LayerNorm -> MLP whose last layer starts at zero: the token change, unconstrained in scale."""

    def __init__(self, dim: int, mult: float = 2.0):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, int(mult * dim))
        self.fc2 = nn.Linear(int(mult * dim), dim)
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(self.norm(x))))


class FusionDecoder(nn.Module):
    """x^_{t+1} = Fuse(lift(g^_{t+1}); first frame x_0, memory m_t): all `b t h w *`.

    With `residual_decoder`, each cell also starts from its own last-frame token, first-frame token
    and memory (`cell_context`), and the output is the last frame plus a predicted change. With
    `decoder_frame` "last", frame attention reads the last frame x_t instead of x_0, biased by position.
    With `decoder_warp`, the change also moves the last frame's pixels as the actions say (`dila.modules.warp`).
    """

    def __init__(self, cfg: DiLAConfig):
        super().__init__()
        d = cfg.embed_dim
        self.position_bias = ContinuousPositionBias(d, cfg.decoder_heads)
        self.layers = nn.ModuleList(FusionLayer(cfg) for _ in range(cfg.decoder_depth))
        self.residual, self.frame_is_last = cfg.residual_decoder, cfg.decoder_frame == "last"
        if self.residual:
            self.cell_context = nn.Linear(2 * d + cfg.content_dim, d)
            self.head = ResidualHead(d)
            self.warp = PixelWarp(d, cfg.action_dim, cfg.decoder_warp, cfg.warp_patch, cfg.warp_channels, cfg.warp_mode,
                                  border=cfg.warp_border, refine=cfg.warp_refine,
                                  previous=cfg.picker_previous) if cfg.decoder_warp else None
        else:
            self.norm_out = nn.LayerNorm(d)
            self.warp = None

    def forward(self, x: torch.Tensor, first_frame: torch.Tensor, memory: torch.Tensor,
                last_frame: torch.Tensor | None = None, actions: torch.Tensor | None = None,
                previous_frame: torch.Tensor | None = None) -> torch.Tensor:
        """`last_frame` (residual decoders only): the frame the change is rendered onto, by default the first;
        `actions` `b t a` (warping decoders only): the latent actions that lead to the rendered frames
        (without them the decoder does not warp); `previous_frame`: the frames before the last, where known
        (a shift picker with `picker_previous` reads them)."""
        x, last_frame = self.fuse(x, first_frame, memory, last_frame)
        return self.output(x, last_frame, actions, previous_frame)

    def fuse(self, x: torch.Tensor, first_frame: torch.Tensor, memory: torch.Tensor,
             last_frame: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The layers: features `b t h w d`, and the last frame they were fused with (residual decoders)."""
        b, t, h, w, _ = x.shape
        first_frame = first_frame.expand(b, t, -1, -1, -1)
        if self.residual:
            last_frame = first_frame if last_frame is None else last_frame.expand(b, t, -1, -1, -1)
            x = x + self.cell_context(torch.cat((last_frame, first_frame, memory), dim=-1))
        frame = rearrange(last_frame if self.frame_is_last else first_frame, "b t h w d -> (b t) (h w) d")
        context = rearrange(memory, "b t h w k -> (b t) (h w) k")
        bias = self.position_bias(h, w)
        frame_bias = bias if self.frame_is_last else None
        for layer in self.layers:
            x = layer(x, frame, context, bias, frame_bias)
        return x, last_frame

    def output(self, x: torch.Tensor, last_frame: torch.Tensor | None, actions: torch.Tensor | None,
               previous_frame: torch.Tensor | None = None) -> torch.Tensor:
        if not self.residual:
            return self.norm_out(x)
        change = self.head(x)
        if self.warp is not None and actions is not None:
            change = change + self.warp(x, last_frame, actions, previous_frame)
        return last_frame + change

    def show(self, x: torch.Tensor, pixels: torch.Tensor | ShownFrame, actions: torch.Tensor,
             whole: bool = False, previous: torch.Tensor | None = None) -> torch.Tensor | ShownFrame:
        """The next frame in pixels, `(b t) c H W`: the last frame as shown (`pixels`, not its tokens) moved by
        the warp (reading whole pixels with `whole`), plus the residual head's change in the warp's pixel
        view (what the pixel loss term trains). A `ShownFrame` comes back as one, one move further (it keeps
        the frame before it; for plain pixels, `previous` is the frames before them, where known)."""
        hidden, added = self.warp.hidden(x, actions), self.warp.pixels(self.head(x))
        if isinstance(pixels, ShownFrame):
            frame = self.warp.move_shown(pixels, hidden, whole, actions)
            return replace(frame, added=frame.added + added)
        return self.warp.move(pixels, hidden, whole, actions=actions, previous=previous) + added

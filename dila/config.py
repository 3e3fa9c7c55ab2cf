"""Configuration of the DiLA world model: one dataclass that validates itself."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path


@dataclass
class DiLAConfig:
    """Sizes of every part of the world model. Defaults are the paper's configuration.

    Token grids are `b t h w d` with `d = embed_dim`; the grid side (16 in the paper) is not a
    parameter: attention position biases are continuous and the inverse model reduces any side
    up to 16 to a single cell.

    Design options for small models (defaults are the published design):
    - `inverse_input`: what the inverse model sees, "difference" (g_{t+1} - g_t) or "pair"
      (g_t beside g_{t+1} - g_t, so the direction of a motion over texture is recoverable) or
      "correlation" (the pair and a 3x3 local cost volume between g_t and g_{t+1}).
    - `inverse_antisymmetric`: the inverse model is f(g_t, g_{t+1}) - f(g_{t+1}, g_t), so the reversed
      transition has exactly the negated action (the published model asks for this with a loss term).
    - `inverse_even_dims`: 0, or the number k of last action coordinates that are f(g_t, g_{t+1}) +
      f(g_{t+1}, g_t) instead (needs `inverse_antisymmetric`): what a transition is that does not reverse
      with time, such as whether the camera or an object moved, while the others keep its direction.
    - `inverse_time_kernel`: 3 (each latent action also sees its neighbouring transitions) or 1.
    - `inverse_norm`: what the inverse model's GroupNorms pool over, "clip" (published: every transition
      of the clip, so an action depends on the clip's length) or "frame" (each transition alone; needs
      `inverse_time_kernel` 1).
    - `time_padding`: how the causal position convolutions pad the past of the first frame,
      "zeros" (which tells every layer the time step) or "replicate".
    - `residual_decoder`: the fusion decoder also gets each cell's own last-frame token,
      first-frame token and memory, and an MLP head (zero at the start) adds its output to the
      last frame's tokens.
    - `decoder_frame`: the frame that the fusion decoder's frame attention reads, "first" (published:
      the first frame, keys without positions) or "last" (the last frame, with the decoder's relative
      position bias, so that a cell can fetch what moved into it from its neighbours; needs
      `residual_decoder`).
    - `decoder_warp`: 0 (published) or a radius r in pixels: the fusion decoder also moves the last
      frame's pixels, by a distribution over shifts of -r..r pixels per axis predicted for every cell
      from what the cell shows and the latent action (`dila.modules.warp`), seen through the model's
      pixel view of a token (`warp_patch` x `warp_patch` x `warp_channels` values, set from a linear
      codec when training starts); needs `residual_decoder`.
    - `warp_mode`: how the warp moves pixels, "blend" (each pixel a mixture of the shifted images,
      added through a gate) or "flow" (each pixel read from one place: the mixture's mean shift).
    - `render`: how a pipeline shows generated frames by default (`dila.pipeline`), "tokens" (decoded) or
      "pixels" (the warp's move applied to the frame as shown; needs `decoder_warp`).
    - `shown_moves`: how that move reads the frame as shown, "bilinear" (as in training) or "whole" (the
      nearest whole pixel: repeated moves stay sharp where bilinear reads blur a little every step).
    - `shown_from`: where each shown frame reads its pixels, "last" (the last frame shown, as in training)
      or "start" (the first frame shown, through the moves since then composed: however many steps, every
      pixel is read once, so a long rollout does not blur by a little more at every step;
      `dila.modules.warp.ShownFrame`).
    - `warp_border`: what the warp reads beyond the frame's borders, "replicate" or "reflect" (a pan
      brings in mirrored content instead of stretched edge pixels).
    - `warp_refine`: 0 (the cells' shifts interpolated between cell centres) or the width of a small
      convolutional net on the frame's pixels that gives every pixel the shift of its own cell, of one of
      its eight neighbours, none, or the move the action's first two coordinates say in pixels (what the
      readout term trains them to say) (`dila.modules.warp.ShiftPicker`; convex upsampling as in RAFT,
      Teed & Deng 2020): a cell holds an object and some backdrop, and only the object's pixels should
      move; needs `warp_mode` "flow".
    - `picker_previous`: the shift picker also reads the change from the frame before the last (the true one
      in training, the one shown before in a rollout; none at a rollout's first step from one frame): where
      two frames differ, something moved, which one frame does not say; needs `warp_refine` and
      `shown_from` "start" (a rollout's shown frame keeps the one before it).
    """

    embed_dim: int = 768
    structure_dim: int = 32
    content_dim: int = 256
    action_dim: int = 256

    encoder_spatial_depth: int = 4
    encoder_temporal_depth: int = 4
    encoder_heads: int = 8
    encoder_dim_head: int = 64

    mlp_depth: int = 2

    memory_depth: int = 2
    memory_state_dim: int = 32
    memory_conv_width: int = 4
    memory_expand: int = 2

    decoder_depth: int = 3
    decoder_heads: int = 8
    decoder_dim_head: int = 32
    decoder_null_kv: int = 2

    inverse_channels: int = 64
    inverse_blocks: tuple[int, ...] = (2, 2, 2, 1)
    inverse_hidden: int = 1024

    forward_dim: int = 256
    forward_depth: int = 4
    forward_heads: int = 8
    forward_dim_head: int = 32

    inverse_input: str = "difference"
    inverse_antisymmetric: bool = False
    inverse_even_dims: int = 0
    inverse_time_kernel: int = 3
    inverse_norm: str = "clip"
    time_padding: str = "zeros"
    residual_decoder: bool = False
    decoder_frame: str = "first"
    decoder_warp: int = 0
    warp_patch: int = 8
    warp_channels: int = 3
    warp_mode: str = "blend"
    render: str = "tokens"
    shown_moves: str = "bilinear"
    shown_from: str = "last"
    warp_border: str = "replicate"
    warp_refine: int = 0
    picker_previous: bool = False

    ff_mult: float = 4.0
    dropout: float = 0.1
    robot_action_dim: int | None = None

    def __post_init__(self) -> None:
        self.inverse_blocks = tuple(int(n) for n in self.inverse_blocks)
        may_be_zero = ("decoder_warp", "inverse_even_dims", "warp_refine")
        positive = [f.name for f in fields(self) if f.type in ("int", int) and f.name not in may_be_zero]
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"DiLAConfig.{name} must be positive, got {getattr(self, name)}")
        if len(self.inverse_blocks) != 4 or min(self.inverse_blocks) < 1:
            raise ValueError(f"inverse_blocks must be 4 positive counts, got {self.inverse_blocks}")
        if self.inverse_channels % 8:
            raise ValueError(f"inverse_channels must be a multiple of 8 (GroupNorm), got {self.inverse_channels}")
        for prefix in ("encoder", "decoder", "forward"):
            if getattr(self, f"{prefix}_dim_head") % 2:
                raise ValueError(f"{prefix}_dim_head must be even (rotary embedding)")
        choices = {
            "inverse_input": ("difference", "pair", "correlation"),
            "inverse_time_kernel": (1, 3),
            "inverse_norm": ("clip", "frame"),
            "time_padding": ("zeros", "replicate"),
            "decoder_frame": ("first", "last"),
            "warp_mode": ("blend", "flow"),
            "render": ("tokens", "pixels"),
            "shown_moves": ("bilinear", "whole"),
            "shown_from": ("last", "start"),
            "warp_border": ("replicate", "reflect"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.inverse_norm == "frame" and self.inverse_time_kernel != 1:
            raise ValueError("inverse_norm 'frame' needs inverse_time_kernel 1 (each transition seen alone)")
        if not 0 <= self.inverse_even_dims < self.action_dim or (self.inverse_even_dims and not self.inverse_antisymmetric):
            raise ValueError("inverse_even_dims must be 0, or fewer than action_dim with inverse_antisymmetric; "
                             f"got {self.inverse_even_dims}")
        if self.decoder_frame == "last" and not self.residual_decoder:
            raise ValueError("decoder_frame 'last' needs residual_decoder (the decoder gets the last frame)")
        if self.decoder_warp < 0 or (self.decoder_warp and not self.residual_decoder):
            raise ValueError(f"decoder_warp must be 0, or a radius in pixels with residual_decoder; got {self.decoder_warp}")
        if self.warp_refine < 0 or (self.warp_refine and (not self.decoder_warp or self.warp_mode != "flow")):
            raise ValueError(f"warp_refine must be 0, or a width with a warp in 'flow' mode; got {self.warp_refine}")
        if self.picker_previous and (not self.warp_refine or self.shown_from != "start"):
            raise ValueError("picker_previous needs warp_refine and shown_from 'start'")
        if self.render == "pixels" and not self.decoder_warp:
            raise ValueError("render 'pixels' needs decoder_warp (the warp moves the shown frame)")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.robot_action_dim is not None and self.robot_action_dim <= 0:
            raise ValueError(f"robot_action_dim must be positive or None, got {self.robot_action_dim}")

    def to_dict(self) -> dict:
        out = asdict(self)
        out["inverse_blocks"] = list(self.inverse_blocks)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> DiLAConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known - {"model_type"})
        if unknown:
            raise ValueError(f"unknown DiLAConfig fields: {unknown}")
        return cls(**{k: v for k, v in data.items() if k in known})

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"model_type": "dila", **self.to_dict()}, indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> DiLAConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))

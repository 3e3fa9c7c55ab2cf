"""The DiLA world model at token level.

Public methods take and return token grids in the published layout `b t d h w` (a codec's
`b d h w` per frame); inside, everything is `b t h w d`.

    features g, c = encoders(structure_encoder(x))      structure g: `b t h w s`, content c: `b t h w k`
    m, states     = content_memory(c)                    causal in time, per grid cell
    z_t           = inverse_model(g_t, g_{t+1})          one latent action per transition
    g^_{t+1}      = g_t + forward_model(g_t, z_t)
    x^_{t+1}      = fusion_decoder(lift(g^_{t+1}); x_0, m_t)   (+ x_t with a residual decoder, moved by z_t
                                                                 with a warping one)
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from dila.config import DiLAConfig
from dila.modules.forward_model import ForwardModel
from dila.modules.fusion_decoder import FusionDecoder
from dila.modules.inverse_model import InverseModel
from dila.modules.mamba import ContentMemory, State
from dila.modules.mlp import ResidualMLP
from dila.modules.structure_encoder import StructureEncoder
from dila.modules.warp import ShownFrame


def to_grid(x: torch.Tensor) -> torch.Tensor:
    return rearrange(x, "b t d h w -> b t h w d")


def from_grid(x: torch.Tensor) -> torch.Tensor:
    return rearrange(x, "b t h w d -> b t d h w")


def frames_before(x: torch.Tensor) -> torch.Tensor:
    """`b t ...` -> the frame before each, `b t ...`: the first has none and is its own (nothing changed)."""
    return torch.cat((x[:, :1], x[:, :-1]), dim=1)


@dataclass
class Encoding:
    """What the encoders make of a clip: structure and content memory per frame, and the memory
    state after its last frame."""

    structure: torch.Tensor
    memory: torch.Tensor
    states: State


@dataclass
class WorldState:
    """Where an imagined rollout stands: current structure and memory, the first and the latest frame's tokens,
    and the tokens of the frame before the latest (None while there is none)."""

    structure: torch.Tensor
    memory: torch.Tensor
    states: State
    first_frame: torch.Tensor
    last_frame: torch.Tensor
    previous_frame: torch.Tensor | None = None


class ActionAdapter(nn.Module):
    """Phase-3 adapter: real (robot) actions -> latent actions."""

    def __init__(self, robot_action_dim: int, action_dim: int):
        super().__init__()
        self.fc1 = nn.Linear(robot_action_dim, action_dim)
        self.fc2 = nn.Linear(action_dim, action_dim)

    def forward(self, actions: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.silu(self.fc1(actions)))


class DiLAWorldModel(nn.Module):
    def __init__(self, config: DiLAConfig):
        super().__init__()
        cfg = self.config = config
        d = cfg.embed_dim
        self.structure_encoder = StructureEncoder(cfg)
        self.motion_encoder = ResidualMLP(d, d, cfg.structure_dim, cfg.mlp_depth)
        self.content_encoder = ResidualMLP(d, d, cfg.content_dim, cfg.mlp_depth)
        self.content_memory = ContentMemory(
            cfg.content_dim, cfg.memory_depth, cfg.memory_state_dim, cfg.memory_conv_width, cfg.memory_expand
        )
        self.inverse_model = InverseModel(
            cfg.structure_dim, cfg.action_dim, cfg.inverse_channels, cfg.inverse_blocks, cfg.inverse_hidden, cfg.dropout,
            input_mode=cfg.inverse_input, time_kernel=cfg.inverse_time_kernel,
            antisymmetric=cfg.inverse_antisymmetric, per_frame=cfg.inverse_norm == "frame", even_dims=cfg.inverse_even_dims,
        )
        self.forward_model = ForwardModel(cfg)
        self.structure_lift = ResidualMLP(cfg.structure_dim, d, d, cfg.mlp_depth)
        self.fusion_decoder = FusionDecoder(cfg)
        self.action_adapter = ActionAdapter(cfg.robot_action_dim, cfg.action_dim) if cfg.robot_action_dim else None

    @property
    def whole_moves(self) -> bool:
        """Whether frames shown in pixels are moved by whole pixels (`DiLAConfig.shown_moves`)."""
        return self.config.shown_moves == "whole"

    def keep_shown(self, pixels: torch.Tensor, previous: torch.Tensor | None = None) -> torch.Tensor | ShownFrame:
        """A frame shown in pixels (`b c H W`) as rollouts keep it (`DiLAConfig.shown_from`): as it is, or as
        the start of a `ShownFrame` (with the frame shown before it, `previous`, where known)."""
        return ShownFrame.of(pixels, previous) if self.config.shown_from == "start" else pixels

    def shown_image(self, shown: torch.Tensor | ShownFrame, whole: bool | None = None) -> torch.Tensor:
        """The pixels `b c H W` of a frame kept by `keep_shown` (read by whole pixels as `whole` says, by default
        as `shown_moves` says)."""
        if isinstance(shown, ShownFrame):
            return shown.image(self.fusion_decoder.warp.border, self.whole_moves if whole is None else whole)
        return shown

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # building blocks, all on `b t h w *` grids
    def encode_grid(self, x: torch.Tensor, states: State | None = None) -> Encoding:
        features = self.structure_encoder(x)
        memory, states = self.content_memory(self.content_encoder(features), states)
        return Encoding(self.motion_encoder(features), memory, states)

    def infer_actions(self, structure: torch.Tensor) -> torch.Tensor:
        """`b t h w s` -> `b (t-1) a`."""
        return self.inverse_model(structure[:, :-1], structure[:, 1:])

    def advance(self, structure: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return structure + self.forward_model(structure, actions)

    def render(self, structure: torch.Tensor, first_frame: torch.Tensor, memory: torch.Tensor,
               last_frame: torch.Tensor | None = None, actions: torch.Tensor | None = None,
               previous_frame: torch.Tensor | None = None) -> torch.Tensor:
        """`last_frame` is used by residual decoders only: the frame whose change is rendered; `actions`
        (`b t a`) by warping decoders only: the actions that lead from `last_frame` to `structure`;
        `previous_frame` by shift pickers that read it (`picker_previous`): the frames before `last_frame`."""
        return self.fusion_decoder(self.structure_lift(structure), first_frame, memory, last_frame, actions, previous_frame)

    def render_next(self, structure: torch.Tensor, grid: torch.Tensor, memory: torch.Tensor,
                    actions: torch.Tensor) -> torch.Tensor:
        """The frame after each of a clip's frames 0..t-2, teacher-forced: `structure` and `actions`
        (`b (t-1) *`) rendered onto those frames of `grid` (`b t h w d`) with the clip's first frame and
        the memory after each frame: `b (t-1) h w d`."""
        return self.render(structure, grid[:, :1], memory[:, :-1], grid[:, :-1], actions, self.previous_frames(grid[:, :-1]))

    def previous_frames(self, x: torch.Tensor) -> torch.Tensor | None:
        """The frame before each of `x` (`b t ...`, `frames_before`) where the shift picker reads it, else None."""
        warp = self.fusion_decoder.warp
        return frames_before(x) if warp is not None and warp.reads_previous else None

    def last_and_previous(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A clip's frames `b t c H W` -> frames 0..t-2 and the frame before each (`previous_frames`, or None),
        `(b (t-1)) c H W`: what a teacher-forced warp moves and what its picker reads beside them."""
        last, before = frames[:, :-1], self.previous_frames(frames[:, :-1])
        flat = "b t c h w -> (b t) c h w"
        return rearrange(last, flat), None if before is None else rearrange(before, flat)

    def render_along(self, structure: torch.Tensor, first_frame: torch.Tensor, memory: torch.Tensor,
                     actions: torch.Tensor) -> torch.Tensor:
        """Frames `b t h w d` of a structure sequence (`b t h w s`, memory `b t h w k`) over `first_frame`: the
        first rendered onto it, each next onto the one before and moved by the action that leads there
        (`actions` `b (t-1) a`), as a warping decoder renders."""
        frame = self.render(structure[:, :1], first_frame, memory[:, :1])
        frames, before = [frame], None
        for t in range(1, structure.shape[1]):
            before, frame = frame, self.render(structure[:, t : t + 1], first_frame, memory[:, t : t + 1], frame,
                                               actions[:, t - 1 : t], before)
            frames.append(frame)
        return torch.cat(frames, dim=1)

    # interactive rollout
    def start(self, x_context: torch.Tensor) -> WorldState:
        """Encode context tokens `b t d h w`; the rollout continues from their last frame."""
        x = to_grid(x_context)
        enc = self.encode_grid(x)
        return WorldState(enc.structure[:, -1:], enc.memory[:, -1:], enc.states, x[:, :1], x[:, -1:],
                          x[:, -2:-1] if x.shape[1] > 1 else None)

    def preview(self, state: WorldState, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Next structure and tokens (`b 1 h w *`) for an action `b a`, without committing."""
        structure = self.advance(state.structure, action[:, None])
        return structure, self.render(structure, state.first_frame, state.memory, state.last_frame, action[:, None],
                                      state.previous_frame)

    def preview_shown(self, state: WorldState, action: torch.Tensor, shown: torch.Tensor | ShownFrame) -> tuple:
        """`preview`, and the next frame in pixels (`b c H W`, or a `ShownFrame` for one) from the last one as
        shown (`shown`, as `keep_shown` keeps it): the warp's move applied to those pixels
        (`FusionDecoder.show`; warping decoders only)."""
        structure = self.advance(state.structure, action[:, None])
        decoder = self.fusion_decoder
        x, last = decoder.fuse(self.structure_lift(structure), state.first_frame, state.memory, state.last_frame)
        tokens = decoder.output(x, last, action[:, None], state.previous_frame)
        return structure, tokens, decoder.show(x, shown, action[:, None], self.whole_moves)

    def commit(self, state: WorldState, structure: torch.Tensor, tokens: torch.Tensor) -> WorldState:
        """The state after the frame `tokens` (`b 1 h w d`) reached with `structure`: the frame goes back
        through the encoders, and the memory takes one recurrent step."""
        features = self.structure_encoder(tokens)
        memory, states = self.content_memory.step(self.content_encoder(features), state.states)
        return replace(state, structure=structure, memory=memory, states=states, last_frame=tokens,
                       previous_frame=state.last_frame)

    def step(self, state: WorldState, action: torch.Tensor) -> tuple[torch.Tensor, WorldState]:
        """Commit one action `b a`: returns the frame's tokens `b d h w` and the next state."""
        structure, tokens = self.preview(state, action)
        return from_grid(tokens)[:, 0], self.commit(state, structure, tokens)

    # the published semantics
    def latent_actions(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokens `b t d h w` -> latent actions `b (t-1) a` and structure `b t h w s`."""
        structure = self.encode_grid(to_grid(x)).structure
        return self.infer_actions(structure), structure

    def one_step(self, x: torch.Tensor) -> torch.Tensor:
        """Teacher-forced one-step predictions of frames 1..t-1, decoded in parallel: `b (t-1) d h w`."""
        grid = to_grid(x)
        enc = self.encode_grid(grid)
        actions = self.infer_actions(enc.structure)
        predicted = self.advance(enc.structure[:, :-1], actions)
        return from_grid(self.render_next(predicted, grid, enc.memory, actions))

    def one_step_shown(self, x: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
        """`one_step` rendered in pixels (warping decoders): frames 0..t-2 as shown (`pixels` `b t c H W`, the
        clip's frames) moved and changed into predictions of frames 1..t-1, `(b (t-1)) c H W`."""
        grid = to_grid(x)
        enc = self.encode_grid(grid)
        actions = self.infer_actions(enc.structure)
        predicted = self.advance(enc.structure[:, :-1], actions)
        decoder = self.fusion_decoder
        features, _ = decoder.fuse(self.structure_lift(predicted), grid[:, :1], enc.memory[:, :-1], grid[:, :-1])
        last, before = self.last_and_previous(pixels)
        return decoder.show(features, last, actions, self.whole_moves, before)

    def predict(self, x_context: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Roll out `actions` (`b n a`) after the context: tokens `b n d h w`, structure `b n h w s`."""
        state, frames, structures = self.start(x_context), [], []
        for action in actions.unbind(dim=1):
            tokens, state = self.step(state, action)
            frames.append(tokens)
            structures.append(state.structure)
        return torch.stack(frames, dim=1), torch.cat(structures, dim=1)

    def rollout(self, x_first: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Autoregressive rollout from one frame `b 1 d h w` (the published `autoregressive_forward`)."""
        return self.predict(x_first[:, :1], actions)

    def transfer(self, x_source: torch.Tensor, x_target: torch.Tensor) -> torch.Tensor:
        """The published `transfer`: the source's actions applied one step at a time to the target's
        own structure, rendered with the target's first frame and memory: `b (t-1) d h w`."""
        actions, _ = self.latent_actions(x_source)
        grid = to_grid(x_target)
        enc = self.encode_grid(grid)
        predicted = self.advance(enc.structure[:, :-1], actions)
        return from_grid(self.render_next(predicted, grid, enc.memory, actions))

    def robot_to_latent(self, actions: torch.Tensor) -> torch.Tensor:
        if self.action_adapter is None:
            raise ValueError("this model has no action adapter (robot_action_dim is None)")
        return self.action_adapter(actions)

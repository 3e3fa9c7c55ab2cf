"""Codec + world model at pixel level: the operations users need, on uint8 `t h w 3` frames.

Generated frames keep the observed frame's detail: the codec decodes the predicted tokens, and what
the codec lost of the last observed frame (that frame minus its own decoding) is added back, so
what does not move stays exactly as observed instead of at the codec's reconstruction quality.
`Pipeline(..., keep_detail=False)` shows the decoded tokens alone (as do frames at another size than
the codec's).

`Pipeline(..., render="pixels")` (warping decoders) renders generated frames in pixels instead: the
warp's move applied to the last frame as shown (the observed frame, then each generated one), plus the
residual head's change in the codec's pixel view (`FusionDecoder.show`), so that a moved object keeps
its pixels and lands where the warp says, not where the codec's 64-d view of the moved patch puts it.
The model itself goes on from its predicted tokens, as in training (the pixel term, `dila.losses`).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import numpy as np
import torch
from einops import rearrange

from dila.codecs import load_codec
from dila.codecs.base import FrameCodec
from dila.modules.warp import ShownFrame
from dila.world_model import DiLAWorldModel, WorldState

RENDERS = ("tokens", "pixels")


@dataclass
class ClipEncoding:
    """A clip as the model sees it: its tokens, structure per frame and latent action per transition."""

    tokens: torch.Tensor  # 1 t d h w
    structure: torch.Tensor  # 1 t h w s
    actions: np.ndarray  # (t-1) a


@dataclass
class PixelState(WorldState):
    """A rollout's state with the detail (float32 `h w 3`, or None) that its frames get back."""

    detail: np.ndarray | None = None
    shown: torch.Tensor | ShownFrame | None = None  # the last frame as shown (pixel rendering; `keep_shown`)


def with_detail(frames: np.ndarray, detail: np.ndarray | None) -> np.ndarray:
    """uint8 frames plus detail (float32, broadcast), rounded and clipped back to uint8."""
    if detail is None:
        return frames
    return np.clip(frames + detail, 0, 255).round().astype(np.uint8)


class Pipeline:
    def __init__(self, model: DiLAWorldModel, codec: FrameCodec | str, device: str | torch.device = "cpu",
                 keep_detail: bool = True, render: str | None = None):
        """`codec`: a codec object, a light-codec directory, or `"rae"` (see `load_codec`); `render`:
        "tokens" or "pixels" (see above), by default the model's (`DiLAConfig.render`)."""
        render = model.config.render if render is None else render
        if render not in RENDERS:
            raise ValueError(f"render must be one of {RENDERS}, got {render!r}")
        codec = load_codec(codec, device=device)
        if codec.latent_dim != model.config.embed_dim:
            raise ValueError(f"codec makes {codec.latent_dim}-d tokens, the world model expects {model.config.embed_dim}")
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.codec = codec.to(self.device).eval() if isinstance(codec, torch.nn.Module) else codec
        self.keep_detail, self.render = keep_detail, render

    def without_detail(self) -> Pipeline:
        """The same model and codec, showing decoded tokens alone."""
        plain = copy.copy(self)
        plain.keep_detail = False
        return plain

    @classmethod
    def from_pretrained(cls, source=None, codec=None, device: str | torch.device = "cpu", render: str | None = None,
                        **kwargs) -> Pipeline:
        """The bundled model and its light codec by default; any `load_world_model` source and a
        codec (object, directory, or `"rae"` for the published one) otherwise."""
        from dila.hub import BUNDLED, load_world_model

        model = load_world_model(BUNDLED if source is None else source, device=device, **kwargs)
        return cls(model, BUNDLED / "codec" if codec is None else codec, device, render=render)

    @property
    def image_size(self) -> int:
        return self.codec.image_size

    # frames <-> tokens
    @torch.no_grad()
    def tokenize(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 `t h w 3` -> tokens `1 t d h w`."""
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"expected frames as t h w 3, got shape {frames.shape}")
        pixels = torch.from_numpy(frames).to(self.device).float().div(255)
        latents = self.codec.encode(rearrange(pixels, "t h w c -> t c h w"))
        return latents[None]

    @torch.no_grad()
    def detokenize(self, tokens: torch.Tensor) -> np.ndarray:
        """tokens `1 t d h w` (or `1 d h w`) -> uint8 `t h w 3`."""
        tokens = tokens if tokens.ndim == 5 else tokens[:, None]
        pixels = self.codec.decode(rearrange(tokens, "1 t d h w -> t d h w"))
        return rearrange(pixels.clamp(0, 1).mul(255).round().byte(), "t c h w -> t h w c").cpu().numpy()

    def detail(self, frames: np.ndarray, tokens: torch.Tensor) -> np.ndarray | None:
        """What the codec loses of uint8 `frames` (`t h w 3`, tokens `1 t d h w`): float32, or None
        when this pipeline shows decoded tokens alone or the codec decodes at another size."""
        decoded = self.detokenize(tokens) if self.keep_detail else None
        if decoded is None or decoded.shape != np.shape(frames):
            return None
        return np.asarray(frames, np.float32) - decoded

    @property
    def renders_pixels(self) -> bool:
        """Whether generated frames are rendered in pixels (asked for, shown with detail, a warping decoder)."""
        warp = self.model.fusion_decoder.warp
        return self.render == "pixels" and self.keep_detail and warp is not None and warp.ready

    def _pixels(self, frames: np.ndarray) -> torch.Tensor | None:
        """uint8 `n h w 3` at the codec's size -> float `n c h w` in [0, 1]; None at another size or
        without pixel rendering."""
        frames = np.asarray(frames)
        if not self.renders_pixels or frames.shape[1:3] != (self.image_size, self.image_size):
            return None
        return rearrange(torch.from_numpy(frames).to(self.device).float().div(255), "n h w c -> n c h w")

    def _frames(self, shown: torch.Tensor | ShownFrame) -> np.ndarray:
        pixels = self.model.shown_image(shown)
        return rearrange(pixels.clamp(0, 1).mul(255).round().byte(), "n c h w -> n h w c").cpu().numpy()

    def _advance_shown(self, state: WorldState, action: torch.Tensor, shown: torch.Tensor | ShownFrame):
        """Structure, tokens and the shown frame after `action` `b a`."""
        structure, tokens, shown = self.model.preview_shown(state, action, shown)
        return structure, tokens, shown if isinstance(shown, ShownFrame) else shown.clamp(0, 1)

    def _clip_pixels(self, clips: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 clips `b t h w 3` at the codec's size -> their pixels `b t c h w` and tokens `b t d h w`."""
        b = len(clips)
        pixels = self._pixels(rearrange(np.asarray(clips), "b t h w c -> (b t) h w c"))
        if pixels is None:
            raise ValueError("pixel rendering needs a warping decoder and frames at the codec's size")
        tokens = rearrange(self.codec.encode(pixels), "(b t) d h w -> b t d h w", b=b)
        return rearrange(pixels, "(b t) c h w -> b t c h w", b=b), tokens

    @torch.no_grad()
    def shown_one_step(self, frames: np.ndarray) -> np.ndarray:
        """Teacher-forced one-step predictions of clips uint8 `b t h w 3` at the codec's size, rendered in
        pixels: `b (t-1) h w 3`."""
        pixels, tokens = self._clip_pixels(frames)
        shown = self.model.one_step_shown(tokens, pixels)
        return rearrange(self._frames(shown), "(b t) h w c -> b t h w c", b=len(pixels))

    @torch.no_grad()
    def shown_rollout(self, context: np.ndarray, actions: torch.Tensor) -> np.ndarray:
        """Frames after context clips uint8 `b t h w 3` (codec size), one per action of `b n a`, rendered
        in pixels: `b n h w 3`."""
        pixels, tokens = self._clip_pixels(context)
        before = pixels[:, -2] if pixels.shape[1] > 1 else None
        state, shown = self.model.start(tokens), self.model.keep_shown(pixels[:, -1], before)
        frames = []
        for action in actions.unbind(dim=1):
            structure, tokens, shown = self._advance_shown(state, action, shown)
            state = self.model.commit(state, structure, tokens)
            frames.append(self._frames(shown))
        return np.stack(frames, axis=1)

    # operations
    @torch.no_grad()
    def encode_clip(self, frames: np.ndarray) -> ClipEncoding:
        tokens = self.tokenize(frames)
        if tokens.shape[1] < 2:
            raise ValueError("a clip needs at least 2 frames to have a latent action")
        actions, structure = self.model.latent_actions(tokens)
        return ClipEncoding(tokens, structure, actions[0].cpu().numpy())

    @torch.no_grad()
    def predict_next(self, frames: np.ndarray) -> np.ndarray:
        """Teacher-forced one-step predictions of frames 1..t-1 of a clip: uint8 `(t-1) h w 3`."""
        if self._pixels(np.asarray(frames)[:1]) is not None:
            return self.shown_one_step(np.asarray(frames)[None])[0]
        tokens = self.tokenize(frames)
        predicted = self.detokenize(self.model.one_step(tokens))
        return with_detail(predicted, self.detail(np.asarray(frames)[:-1], tokens[:, :-1]))

    @torch.no_grad()
    def start(self, context: np.ndarray) -> PixelState:
        """Begin an imagined rollout after the context frames (uint8 `t h w 3`, t >= 1)."""
        tokens = self.tokenize(context)
        state = self.model.start(tokens)
        shown = self._pixels(np.asarray(context)[-2:])
        detail = None if shown is not None else self.detail(np.asarray(context)[-1:], tokens[:, -1:])
        shown = None if shown is None else self.model.keep_shown(shown[-1:], shown[:1] if len(shown) > 1 else None)
        return PixelState(**vars(state), detail=None if detail is None else detail[0], shown=shown)

    @torch.no_grad()
    def preview(self, state: WorldState, action: np.ndarray) -> np.ndarray:
        """The next frame for `action` (a slider position), without committing: uint8 `h w 3`."""
        if getattr(state, "shown", None) is not None:
            return self._frames(self._advance_shown(state, self._action(action), state.shown)[2])[0]
        _, tokens = self.model.preview(state, self._action(action))
        return with_detail(self.detokenize(tokens.permute(0, 1, 4, 2, 3))[0], getattr(state, "detail", None))

    @torch.no_grad()
    def step(self, state: WorldState, action: np.ndarray) -> tuple[np.ndarray, WorldState]:
        if getattr(state, "shown", None) is not None:
            structure, tokens, shown = self._advance_shown(state, self._action(action), state.shown)
            return self._frames(shown)[0], replace(self.model.commit(state, structure, tokens), shown=shown)
        tokens, state = self.model.step(state, self._action(action))
        return with_detail(self.detokenize(tokens)[0], getattr(state, "detail", None)), state

    @torch.no_grad()
    def rollout(self, context: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Frames after the context, one per action: uint8 `n h w 3`."""
        context = np.asarray(context)
        if self._pixels(context[-1:]) is not None:
            return self.shown_rollout(context[None], self._actions(actions))[0]
        tokens = self.tokenize(context)
        generated, _ = self.model.predict(tokens, self._actions(actions))
        return with_detail(self.detokenize(generated), self.detail(context[-1:], tokens[:, -1:]))

    @torch.no_grad()
    def transfer(self, motion: np.ndarray, appearance: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """The motion of clip `motion` driving the first frame of clip `appearance`."""
        actions = self.encode_clip(motion).actions * scale
        return self.rollout(np.asarray(appearance)[:1], actions)

    @torch.no_grad()
    def rebind(self, structure_clip: np.ndarray, content_clip: np.ndarray) -> np.ndarray:
        """Structure (layout) of one clip rendered with the content (appearance) of another. A warping
        decoder renders frame by frame, each frame moved by the structure clip's own actions."""
        structure = self.model.encode_grid(rearrange(self.tokenize(structure_clip), "b t d h w -> b t h w d")).structure
        content_tokens = rearrange(self.tokenize(content_clip), "b t d h w -> b t h w d")
        memory = self.model.encode_grid(content_tokens).memory
        index = torch.arange(structure.shape[1], device=self.device).clamp(max=memory.shape[1] - 1)
        if self.model.fusion_decoder.warp is not None:
            actions = self.model.infer_actions(structure)
            tokens = self.model.render_along(structure, content_tokens[:, :1], memory[:, index], actions)
        else:
            tokens = self.model.render(structure, content_tokens[:, :1], memory[:, index])
        return self.detokenize(rearrange(tokens, "b t h w d -> b t d h w"))

    def _action(self, action: np.ndarray) -> torch.Tensor:
        return self._actions(np.asarray(action)[None])[0]

    def _actions(self, actions: np.ndarray) -> torch.Tensor:
        actions = torch.as_tensor(np.asarray(actions, dtype=np.float32), device=self.device)
        if actions.ndim != 2 or actions.shape[1] != self.model.config.action_dim:
            raise ValueError(f"expected actions of shape (n, {self.model.config.action_dim}), got {tuple(actions.shape)}")
        return actions[None]

"""Pixel warp: the fusion decoder moves the last frame's pixels instead of redrawing them.

A token holds a `patch x patch` patch of a frame, so a move of a few pixels is a fraction of a cell:
no copy of a neighbouring token is the moved patch, and a decoder that blends tokens ghosts. The warp
works on the model's pixel view of its tokens (`to_pixels`, `to_tokens`: buffers set from a linear
codec by `init_from_codec`) and moves pixels by whole pixels:

    p       = to_pixels(x_t)                                 the last frame, `(b t) c H W`
    h       = gelu(fc(features) + action(z_t))               what the cell shows, and the action
    k_x,k_y = softmax(shifts(h)) per cell                    a distribution over shifts -r..r, per axis
    moved   = shift_y(shift_x(p; k_x); k_y)                  the distributions blended between cell centres
    change  = gate(h) * to_tokens(moved - p)                 zero while the gate is zero (its start)

or, with mode "flow", every pixel is read from where the distributions' expected shift says it came:

    s_x,s_y = sum_i k_i * (i - r) per axis                   a shift of -r..r px, zero at the start
    moved   = bilinear p(x + s_x, y + s_y)                   one source per pixel: a move, never a blend
    change  = to_tokens(moved - p)

With a shift picker (`ShiftPicker`), a pixel's shift is not interpolated between cell centres: a small
net on the frame's pixels picks it among its cell's, its eight neighbours', none and the action's own move,
so that the object's pixels move and the backdrop beside them in the same cell stays. With `previous`, the
picker also reads how the frame changed from the one before it: one frame does not say what is an object,
two frames that differ where it moved do.

The decoder's own features do not say where a cell's content moves (a linear probe of them at a moving
object's cell scores R^2 ~0 for its dx), while the latent action carries the motion: so the warp reads
both.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import einsum, rearrange, repeat
from torch import nn

MODES = ("blend", "flow")
BORDERS = {"replicate": "border", "reflect": "reflection"}  # our names -> grid_sample's
CENTRE_LOGIT = 4.0  # the shift distributions start peaked at "stay" (0.85 of the mass for r = 5)
LOGIT_SCALE = 10.0  # logits = LOGIT_SCALE * linear(features): the shifts learn at 10x the model's rate
PRIOR_FLOOR = 1e-4  # the shift picker's starting weight for candidates bilinear interpolation does not read
PICKER_CELL_CHANNELS = 8  # what the picker hears of each cell's warp features


def shift_along(pixels: torch.Tensor, weights: torch.Tensor, dim: int, border: str = "replicate") -> torch.Tensor:
    """Per-pixel mixture of the image shifted by -r..r pixels along `dim` (-1: x, -2: y), beyond the
    borders replicated or reflected (`border`). pixels: `n c H W`, weights: `n k H W` with k = 2r + 1;
    candidate i reads p(x + i - r)."""
    k = weights.shape[1]
    r = k // 2
    size = pixels.shape[dim]
    if border == "reflect":  # mirrored about the edge, as grid_sample's "reflection" reads
        padded = torch.cat((pixels.narrow(dim, 0, r).flip(dim), pixels, pixels.narrow(dim, size - r, r).flip(dim)), dim)
    else:
        padded = F.pad(pixels, (r, r, 0, 0) if dim == -1 else (0, 0, r, r), mode=border)
    candidates = torch.stack([padded.narrow(dim, i, size) for i in range(k)], dim=1)
    return einsum(candidates, weights, "n k c h w, n k h w -> n c h w")


def follow(pixels: torch.Tensor, shift_x: torch.Tensor, shift_y: torch.Tensor, border: str = "replicate",
           whole: bool = False) -> torch.Tensor:
    """Every pixel read from (x + shift_x, y + shift_y): bilinearly, or from the nearest whole pixel
    (`whole`: a move that never blurs, however often repeated), beyond the borders replicated or
    reflected (`border`). pixels: `n c H W`, shifts in pixels: `n H W`."""
    height, width = pixels.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(height, dtype=pixels.dtype, device=pixels.device),
                            torch.arange(width, dtype=pixels.dtype, device=pixels.device), indexing="ij")
    grid = torch.stack(((2 * (xs + shift_x) + 1) / width - 1, (2 * (ys + shift_y) + 1) / height - 1), dim=-1)
    return F.grid_sample(pixels, grid, mode="nearest" if whole else "bilinear", padding_mode=BORDERS[border],
                         align_corners=False)


@dataclass(frozen=True)
class ShownFrame:
    """A frame shown after some moves, kept as the frame shown first (`start`, `n c H W`), where each pixel
    reads from in it (`reads`, `n 2 H W`: the moves since then composed) and what the residual head added on
    the way (`added`, moved along): however many steps, every pixel is read from `start` once."""

    start: torch.Tensor
    reads: torch.Tensor
    added: torch.Tensor
    previous: torch.Tensor | None = None  # the frame shown before this one, as the warp saw it

    @classmethod
    def of(cls, pixels: torch.Tensor, previous: torch.Tensor | None = None) -> ShownFrame:
        return cls(pixels, pixels.new_zeros(pixels.shape[0], 2, *pixels.shape[-2:]), torch.zeros_like(pixels), previous)

    def image(self, border: str = "replicate", whole: bool = False) -> torch.Tensor:
        """The frame, `n c H W`."""
        return follow(self.start, self.reads[:, 0], self.reads[:, 1], border, whole) + self.added

    def moved(self, shifts: torch.Tensor, border: str = "replicate", image: torch.Tensor | None = None) -> ShownFrame:
        """The frame whose pixel at x reads this one's at x + `shifts` (`n 2 H W`): it reads `start` at
        x + shifts + reads(x + shifts). `image`: this frame as it was seen, the new one's `previous`."""
        reads = shifts + follow(self.reads, shifts[:, 0], shifts[:, 1])
        return ShownFrame(self.start, reads, follow(self.added, shifts[:, 0], shifts[:, 1], border), image)


def bilinear_prior(patch: int) -> torch.Tensor:
    """`11 p p`: the weights with which bilinear upsampling (align_corners False) reads each pixel of a cell
    from the cell's value and its eight neighbours' (offsets dy, dx in -1..1, row-major), then 0 for the
    shift picker's two other candidates (none, and the action's own move)."""
    u = (torch.arange(patch, dtype=torch.float32) + 0.5) / patch - 0.5  # from the cell centre, in cells
    axis = torch.stack((u.clamp(max=0).neg(), 1 - u.abs(), u.clamp(min=0)))  # weights of offsets -1, 0, +1
    weights = einsum(axis, axis, "i p, j q -> i j p q").reshape(9, patch, patch)
    return torch.cat((weights, torch.zeros(2, patch, patch)))


def cell_neighbourhoods(values: torch.Tensor, patch: int) -> torch.Tensor:
    """`n c h w` cell values -> `n c 9 H W`: at every pixel its cell's and eight neighbours' values
    (replicated beyond the borders)."""
    h = values.shape[2]
    around = F.unfold(F.pad(values, (1, 1, 1, 1), mode="replicate"), kernel_size=3)
    around = rearrange(around, "n (c k) (h w) -> n c k h w", k=9, h=h)
    return around.repeat_interleave(patch, dim=-2).repeat_interleave(patch, dim=-1)


class ShiftPicker(nn.Module):
    """Every pixel's shift as a convex combination of eleven candidates: its cell's, its eight neighbours',
    none, and the move the action itself says (`move`, the same for every pixel), weighted by a small
    dilated convolutional net on the frame's pixels, the cells' shifts and what the warp's features say of
    each cell (receptive field 31 px), and with `previous` also on the change from the frame before (its own
    first layer, starting at zero). Its last layer starts at zero, so it starts as bilinear interpolation
    between cell centres (up to `PRIOR_FLOOR`)."""

    def __init__(self, channels: int, hidden: int, width: int, patch: int, previous: bool = False):
        super().__init__()
        self.patch = patch
        self.cells = nn.Linear(hidden, PICKER_CELL_CHANNELS)
        layers = [nn.Conv2d(channels + 2 + PICKER_CELL_CHANNELS, width, 3, padding=1), nn.GELU()]
        for dilation in (2, 4, 8):
            layers += [nn.Conv2d(width, width, 3, padding=dilation, dilation=dilation), nn.GELU()]
        self.net = nn.Sequential(*layers, nn.Conv2d(width, 11, 1))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        self.change = nn.Conv2d(channels, width, 3, padding=1) if previous else None
        if self.change is not None:
            nn.init.zeros_(self.change.weight)
            nn.init.zeros_(self.change.bias)
        self.register_buffer("prior", bilinear_prior(patch).clamp(min=PRIOR_FLOOR).log(), persistent=False)

    def forward(self, guide: torch.Tensor, shifts: torch.Tensor, hidden: torch.Tensor, move: torch.Tensor,
                previous: torch.Tensor | None = None) -> torch.Tensor:
        """guide: pixels `n c H W`; shifts: the cells' `n 2 h w` (x, y); hidden: the warp's `n h w e`; move:
        the action's `n 2`; previous: the frame before the guide's (`n c H W`, or None: unknown, read as
        unchanged) -> every pixel's shift `n 2 H W`."""
        weights = self.logits(guide, shifts, hidden, previous).softmax(dim=1)
        return einsum(self.candidates(shifts, move), weights, "n s k y x, n k y x -> n s y x")

    def logits(self, guide: torch.Tensor, shifts: torch.Tensor, hidden: torch.Tensor,
               previous: torch.Tensor | None = None) -> torch.Tensor:
        """The candidates' logits at every pixel, `n 11 H W`."""
        h, w, p = shifts.shape[-2], shifts.shape[-1], self.patch
        cells = rearrange(self.cells(hidden), "n h w e -> n e h w")
        per_cell = torch.cat((shifts, cells), dim=1).repeat_interleave(p, dim=-2).repeat_interleave(p, dim=-1)
        x = self.net[0](torch.cat((guide, per_cell), dim=1))
        if self.change is not None:
            x = x + self.change(guide - (guide if previous is None else previous))
        return self.net[1:](x) + self.prior_map(h, w)

    def prior_map(self, h: int, w: int) -> torch.Tensor:
        """The log prior over the candidates at every pixel of an `h w` grid of cells, `11 H W`."""
        return repeat(self.prior, "k p q -> k (h p) (w q)", h=h, w=w)

    def candidates(self, shifts: torch.Tensor, move: torch.Tensor) -> torch.Tensor:
        """Every pixel's eleven candidate shifts, `n 2 11 H W`."""
        around = cell_neighbourhoods(shifts, self.patch)
        same = move[:, :, None, None, None].expand(-1, -1, 1, *around.shape[-2:])
        return torch.cat((around, torch.zeros_like(same), same), dim=2)


class PixelWarp(nn.Module):
    def __init__(self, dim: int, action_dim: int, radius: int, patch: int, channels: int, mode: str = "blend",
                 mult: float = 2.0, border: str = "replicate", refine: int = 0, previous: bool = False):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"the warp mode must be one of {MODES}, got {mode!r}")
        if border not in BORDERS:
            raise ValueError(f"the warp border must be one of {tuple(BORDERS)}, got {border!r}")
        self.radius, self.patch, self.mode, self.border = radius, patch, mode, border
        values = patch * patch * channels
        self.register_buffer("to_pixels", torch.zeros(values, dim))
        self.register_buffer("to_tokens", torch.zeros(dim, values))
        hidden = int(mult * dim)
        self.norm = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, hidden)
        self.action = nn.Linear(action_dim, hidden)
        self.shifts = nn.Linear(hidden, 2 * (2 * radius + 1))
        nn.init.zeros_(self.shifts.weight)
        with torch.no_grad():
            self.shifts.bias.zero_()
            self.shifts.bias[[radius, 3 * radius + 1]] = CENTRE_LOGIT / LOGIT_SCALE
        self.picker = ShiftPicker(channels, hidden, refine, patch, previous) if refine else None
        if self.picker is not None:
            self.register_buffer("pixel_offset", torch.zeros(values))
            self.move_gain = nn.Parameter(torch.ones(()))
        self.gate = nn.Linear(hidden, 1) if mode == "blend" else None
        if self.gate is not None:
            nn.init.zeros_(self.gate.weight)
            nn.init.zeros_(self.gate.bias)

    @torch.no_grad()
    def init_from_codec(self, codec) -> None:
        """The pixel view of a light codec (`dila.codecs.light`): its linear decoder and encoder maps
        between standardised tokens and patch pixels (in the codec's `(p q c)` order)."""
        if not hasattr(codec, "decoder_linear"):
            raise ValueError(f"the pixel warp needs a light codec's linear maps; got a {type(codec).__name__}")
        if codec.config.patch_size != self.patch:
            raise ValueError(f"the pixel warp needs {self.patch}-pixel patches; "
                             f"this codec has {codec.config.patch_size}-pixel ones")
        std = codec.latent_std.flatten()
        self.to_pixels.copy_(codec.decoder_linear.weight[:, :, 0, 0] * std)
        self.to_tokens.copy_(codec.encoder_linear.weight[:, :, 0, 0] / std[:, None])
        if self.picker is not None:
            decode = codec.decoder_linear
            self.pixel_offset.copy_(decode.weight[:, :, 0, 0] @ codec.latent_mean.flatten() + decode.bias)

    @property
    def flows(self) -> bool:
        """Whether each pixel is read from one place (`pixel_shifts`): a 'flow' warp, or one with a shift picker."""
        return self.picker is not None or self.mode == "flow"

    @property
    def ready(self) -> bool:
        return bool(self.to_pixels.any()) and (self.picker is None or bool(self.pixel_offset.any()))

    def pixels(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens `b t h w d` -> their pixel view `(b t) c H W` (up to a constant per position in a patch)."""
        return rearrange(tokens @ self.to_pixels.T, "b t h w (p q c) -> (b t) c (h p) (w q)", p=self.patch, q=self.patch)

    def hidden(self, features: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """features `b t h w d`, actions `b t a` -> `b t h w hidden`."""
        return F.gelu(self.fc(self.norm(features)) + rearrange(self.action(actions), "b t c -> b t 1 1 c"))

    def cell_distributions(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each cell's shift distributions along x and y, `(b t) k h w` each."""
        logits = rearrange(LOGIT_SCALE * self.shifts(hidden), "b t h w k -> (b t) k h w")
        return tuple(k.softmax(dim=1) for k in logits.chunk(2, dim=1))

    @property
    def reads_previous(self) -> bool:
        """Whether the shift picker reads the frame before the last (`picker_previous`)."""
        return self.picker is not None and self.picker.change is not None

    def distributions(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-pixel shift distributions along x and y, `(b t) k H W` each: the cells' interpolated."""
        size = (hidden.shape[2] * self.patch, hidden.shape[3] * self.patch)
        return tuple(F.interpolate(k, size=size, mode="bilinear", align_corners=False) for k in self.cell_distributions(hidden))

    def forward(self, features: torch.Tensor, last_frame: torch.Tensor, actions: torch.Tensor,
                previous_frame: torch.Tensor | None = None) -> torch.Tensor:
        """features, last_frame: `b t h w d`, actions: `b t a`, previous_frame: the frames before the last
        (`b t h w d`, or None) -> the change of tokens `b t h w d`."""
        pixels = self.pixels(last_frame)
        reads = previous_frame is not None and self.reads_previous
        previous = self.pixels(previous_frame) + self.offset_image(pixels) if reads else None
        change = self.move(pixels, self.hidden(features, actions), guide=pixels + self.offset_image(pixels),
                           actions=actions, previous=previous) - pixels
        change = rearrange(change, "(b t) c (h p) (w q) -> b t h w (p q c)", b=features.shape[0], p=self.patch, q=self.patch)
        return change @ self.to_tokens.T

    def picker_inputs(self, guide: torch.Tensor, hidden: torch.Tensor, actions: torch.Tensor,
                      previous: torch.Tensor | None = None) -> tuple:
        """What the shift picker reads: the guide, the cells' mean shifts, the hidden features, the action's move
        and the frame before the guide's (or None)."""
        cells = torch.stack([self.expected_shift(k) for k in self.cell_distributions(hidden)], dim=1)
        return guide, cells, rearrange(hidden, "b t h w e -> (b t) h w e"), self.action_move(actions), previous

    def action_move(self, actions: torch.Tensor) -> torch.Tensor:
        """`b t a` -> the shift `(b t) 2` that the actions' first two coordinates say, read as a part's move
        in pixels (the readout term's convention, `dila.losses.readout_loss`) times a learned gain (it starts
        at 1; inferred actions fall short of the readout's target, as any regression does where it is unsure):
        a pixel that moves right by dx is read from dx to its left. Bounded by the warp's radius."""
        return rearrange(-self.move_gain * actions[..., :2], "b t s -> (b t) s").clamp(-self.radius, self.radius)

    def offset_image(self, pixels: torch.Tensor) -> torch.Tensor:
        """What the pixel view of tokens leaves out of the decoded frame (a constant per position in a patch),
        `1 c H W` like `pixels`: zero without a shift picker, which alone needs it."""
        if self.picker is None:
            return torch.zeros_like(pixels[:1])
        h, w = pixels.shape[-2] // self.patch, pixels.shape[-1] // self.patch
        return repeat(self.pixel_offset, "(p q c) -> 1 c (h p) (w q)", p=self.patch, q=self.patch, h=h, w=w)

    def move(self, pixels: torch.Tensor, hidden: torch.Tensor, whole: bool = False,
             guide: torch.Tensor | None = None, actions: torch.Tensor | None = None,
             previous: torch.Tensor | None = None) -> torch.Tensor:
        """Images `(b t) c H W` moved as `hidden` (`b t h w hidden`) says: any pixels at the warp's grid,
        its own view of the last frame's tokens or the frame itself; `whole`: flow reads whole pixels.
        A shift picker places the move by `guide` (the frame those pixels show; by default the pixels) and the
        frame before it (`previous`, where known), and offers every pixel the move that `actions` (`b t a`)
        say (`action_move`)."""
        if self.flows:
            shifts = self.pixel_shifts(pixels if guide is None else guide, hidden, actions, previous)
            return follow(pixels, shifts[:, 0], shifts[:, 1], self.border, whole)
        k_x, k_y = self.distributions(hidden)
        gate = F.interpolate(rearrange(self.gate(hidden), "b t h w 1 -> (b t) 1 h w"), scale_factor=self.patch, mode="nearest")
        moved = shift_along(shift_along(pixels, k_x, -1, self.border), k_y, -2, self.border)
        return pixels + gate * (moved - pixels)

    def move_shown(self, frame: ShownFrame, hidden: torch.Tensor, whole: bool = False,
                   actions: torch.Tensor | None = None) -> ShownFrame:
        """`move` for a frame kept as `ShownFrame` (flow warps): the shifts are placed by the frame as it
        looks, and composed with its moves so far."""
        if not self.flows:
            raise ValueError("a shown frame read from its start needs a flow warp or a shift picker")
        image = frame.image(self.border, whole).clamp(0, 1)
        return frame.moved(self.pixel_shifts(image, hidden, actions, frame.previous), self.border, image)

    def pixel_shifts(self, guide: torch.Tensor, hidden: torch.Tensor, actions: torch.Tensor | None = None,
                     previous: torch.Tensor | None = None) -> torch.Tensor:
        """Every pixel's shift in a 'flow' warp, `(b t) 2 H W` (x, y; a pixel reads from where it points):
        the shift picker's, placed by `guide` (the frame moved, `(b t) c H W`) and the frame before it
        (`previous`, or None), or the cells' interpolated."""
        if self.picker is not None:
            return self.picker(*self.picker_inputs(guide, hidden, actions, previous))
        return torch.stack([self.expected_shift(k) for k in self.distributions(hidden)], dim=1)

    def cell_shifts(self, features: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """The mean shift of each cell's distributions, `b t h w 2` (x then y, in pixels): where the warp
        reads the cell's centre from, for the same inputs as `forward`."""
        shifts = torch.stack([self.expected_shift(k) for k in self.cell_distributions(self.hidden(features, actions))], dim=-1)
        return rearrange(shifts, "(b t) h w s -> b t h w s", b=features.shape[0])

    def expected_shift(self, weights: torch.Tensor) -> torch.Tensor:
        """`n k H W` distributions over shifts -r..r -> their mean shift in pixels, `n H W`."""
        offsets = torch.arange(-self.radius, self.radius + 1, dtype=weights.dtype, device=weights.device)
        return einsum(weights, offsets, "n k h w, k -> n h w")

"""The published training objective (phase 1: teacher-forced one step; phase 2: autoregressive).

    prediction   2.0    MSE of predicted tokens x^_{t+1} against x_{t+1}
    dynamics     0.03   MSE of forward-model deltas against g_{t+1} - g_t
    consistency  0.03   MSE of IDM(g_t, g^_{t+1}) against IDM(g_t, g_{t+1}), plus 0.5 exp(-10 std(z))
    action_norm  0.001  mean l2 norm of the latent actions
    symmetry     0.001  (cos(IDM(g_t, g_{t+1}), IDM(g_{t+1}, g_t)) + 1)^2 where the structure moves

Six terms for small models, off in the published objective:
    oracle             MSE of tokens rendered from the true next structure g_{t+1}: the decoder must use
                       the structure, and the structure must carry the layout
    detached_dynamics  MSE of FDM(g_t, IDM(g_t, g_{t+1})) against g_{t+1} - g_t with the structure detached,
                       over the mean squared change: the latent action must explain the change of structure,
                       and the structure cannot shrink to make that easy
    sharpness          gradient difference (Mathieu et al. 2016) of the predicted frames against the true
                       ones in a warping decoder's pixel view: | |grad p| - |grad t| |, so that a blurred or
                       ghosted frame costs more than MSE alone makes it
    motion             L1 distance of a warping decoder's mean shift per cell from the block-matched shift
                       of the true frames (`dila.block_motion`): the video itself says where each cell's
                       pixels came from, and the warp, given the latent action, must say the same
    stretch            the motion term for the action scaled by k (uniform in `STRETCH`, per transition) against k
                       times the block-matched shifts (within the warp's radius), on the same decoder features:
                       a larger action moves the same cells further, and cells that stay, stay however large
                       the action (what a slider asks beyond the actions seen in training)
    readout            MSE of the latent action's first four coordinates against the content's dominant
                       similarity motion fitted to those block-matched shifts (`dila.block_motion.dominant_motion`:
                       move x, move y, growth, turn, in pixels): the action says the motion along fixed axes
    rest               mean square of the action's other odd coordinates (not `inverse_even_dims`): what it
                       carries beyond that motion (such as whether the camera or the object moved) is paid for
    even               how far the norm of the `inverse_even_dims` coordinates (the same both ways) exceeds a
                       third of the other coordinates' norm, squared: what does not reverse with time stays a
                       small part of an action that does (the cosine of an action with its reversal is then
                       at most -0.8) and is free within that
    pixel              the frame as the pipeline shows it (`dila.pipeline`, pixel rendering): the warp's move
                       applied to the true frame's own pixels plus the residual head's change in the codec's
                       pixel view, against the true next frame (L1 plus gradient difference); in phase 2 each
                       rollout step moves the frame shown before it. Token MSE sees the move through the
                       codec's 64-d view of a patch, and the head learns to take back what that view smears;
                       here the head is paid for the shown frame
    pick               cross-entropy of a shift picker's weights (`DiLAConfig.warp_refine`) against which of its
                       candidate shifts best explains each pixel of the true next frame (the last frame moved by
                       each, its error over 3x3 pixels, softmax at `PICK_TEMPERATURE` over the picker's prior,
                       so that candidates that explain a pixel equally keep their starting shares): the frame itself says
                       which pixels moved with the action and which stayed, where the pixel term's gradient
                       only reaches a pixel's immediate neighbours and pulls a small move back to none.
                       Given the clip's true per-pixel motion (`dila.data.true_motion`, procedural clips), the
                       target is instead the candidates nearest that motion (`PickTarget`): where moving and
                       staying explain a pixel alike (a flat backdrop, a flat object's inside) the frame cannot
                       say which, and the truth can
"""
from __future__ import annotations

from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange

from dila.block_motion import dominant_motion, part_and_whole_motion
from dila.modules.warp import ShiftPicker, follow
from dila.world_model import DiLAWorldModel, from_grid, to_grid

SHIFT_TERMS = ("motion", "stretch", "readout", "rest")
FRAME_TERMS = ("pixel", "pick")
WARP_TERMS = ("motion", "stretch", "pixel", "pick")
STRETCH = (0.5, 2.5)
PICK_TEMPERATURE = 0.001  # of the candidates' mean absolute error (pixels in [0, 1]): nearly the best one, equals
# keeping the picker's prior (at 0.01 the pixels that moved gave the action's move 4% of the target, at 0.001 26%)
TRUTH_TEMPERATURE = 0.05  # px from the true motion: half a pixel outweighs the prior (floor 1e-4 = e^-9.2)


@dataclass(frozen=True)
class PickTarget:
    """How the pick term scores a picker's candidates against the frames (`picking_loss`): each candidate's
    error softmaxed at `temperature`, plus `stillness` per pixel of its shift, so that where moving and
    staying explain the frame alike (a flat or faint backdrop) the target stays."""

    temperature: float = PICK_TEMPERATURE
    stillness: float = 0.0


@dataclass(frozen=True)
class LossWeights:
    prediction: float = 2.0
    dynamics: float = 0.03
    consistency: float = 0.03
    action_norm: float = 0.001
    symmetry: float = 0.001
    oracle: float = 0.0
    detached_dynamics: float = 0.0
    sharpness: float = 0.0
    motion: float = 0.0
    stretch: float = 0.0
    readout: float = 0.0
    rest: float = 0.0
    even: float = 0.0
    pixel: float = 0.0
    pick: float = 0.0

    @property
    def reads_shifts(self) -> bool:
        """Whether a term needs the clip's block-matched shifts (`dila.block_motion.block_shifts`)."""
        return any(getattr(self, term) for term in SHIFT_TERMS)

    @property
    def reads_warp(self) -> bool:
        """Whether a term reads the warp's calls (`warp_calls`)."""
        return any(getattr(self, term) for term in WARP_TERMS)

    @property
    def reads_frames(self) -> bool:
        """Whether a term needs the clip's frames in pixels."""
        return any(getattr(self, term) for term in FRAME_TERMS)


def consistency_loss(model: DiLAWorldModel, structure: torch.Tensor, inferred: torch.Tensor,
                     predicted: torch.Tensor) -> torch.Tensor:
    from_prediction = model.inverse_model(structure[:, :-1], predicted)
    diversity = torch.exp(-10 * inferred.std(dim=(0, 1)).mean())
    return F.mse_loss(from_prediction, inferred) + 0.5 * diversity


def symmetry_loss(model: DiLAWorldModel, structure: torch.Tensor, threshold: float = 0.01) -> torch.Tensor:
    prev, nxt = structure[:, :-1].detach(), structure[:, 1:].detach()
    cosine = F.cosine_similarity(model.inverse_model(prev, nxt), model.inverse_model(nxt, prev), dim=-1)
    moving = ((nxt - prev).flatten(2).norm(dim=-1) > threshold).float()
    return ((cosine + 1) ** 2 * moving).sum() / (moving.sum() + 1e-8)


def detached_dynamics_loss(model: DiLAWorldModel, structure: torch.Tensor) -> torch.Tensor:
    g = structure.detach()
    change = g[:, 1:] - g[:, :-1]
    delta = model.forward_model(g[:, :-1], model.infer_actions(g))
    return F.mse_loss(delta, change) / change.pow(2).mean().clamp_min(1e-8)


def gradient_difference(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean | |grad p| - |grad t| | along x and along y of images `n c H W`, summed over the two axes."""
    return sum((predicted.diff(dim=d).abs() - target.diff(dim=d).abs()).abs().mean() for d in (-1, -2))


def ready_warp(model: DiLAWorldModel, term: str):
    """The model's pixel warp, for a term that reads it; refused with a sentence without one."""
    warp = model.fusion_decoder.warp
    if warp is None or not warp.ready:
        raise ValueError(f"the {term} term needs a warping decoder's pixel view (decoder_warp, set from a light codec)")
    return warp


def sharpness_loss(model: DiLAWorldModel, predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    warp = ready_warp(model, "sharpness")
    return gradient_difference(warp.pixels(to_grid(predicted)), warp.pixels(to_grid(target)))


@contextmanager
def warp_calls(model: DiLAWorldModel):
    """The inputs (features, last frame, actions) of every call of the model's warp in the block."""
    calls = []
    handle = ready_warp(model, "motion").register_forward_hook(lambda _module, args, _output: calls.append(args))
    try:
        yield calls
    finally:
        handle.remove()


def pixel_loss(model: DiLAWorldModel, calls: list, frames: torch.Tensor, phase: int) -> torch.Tensor:
    """`frames` `b t c H W` in [0, 1] against the frames shown: in phase 1 the true frames 0..t-2 moved by the
    one teacher-forced warp call, in phase 2 the first frame moved by each rollout step's call in turn (kept as
    the model's rollouts keep it, `DiLAWorldModel.keep_shown`, and read bilinearly)."""
    if phase == 1:
        features, _, actions, _ = calls[0]
        last, before = model.last_and_previous(frames)
        shown = model.fusion_decoder.show(features, last, actions, previous=before)
    else:
        shown, steps = model.keep_shown(frames[:, 0]), []
        for features, _, actions, _ in calls:
            shown = model.fusion_decoder.show(features, shown, actions)
            steps.append(model.shown_image(shown, whole=False))
        shown = rearrange(torch.stack(steps, dim=1), "b t c h w -> (b t) c h w")
    target = rearrange(frames[:, 1:], "b t c h w -> (b t) c h w")
    return (shown - target).abs().mean() + gradient_difference(shown, target)


def picking_loss(picker: ShiftPicker, inputs: tuple[torch.Tensor, ...], last: torch.Tensor, target: torch.Tensor,
                 border: str = "replicate", settings: PickTarget = PickTarget(),
                 truth: torch.Tensor | None = None) -> torch.Tensor:
    """The pick term for a picker's `inputs` (`PixelWarp.picker_inputs`), frames `last` moved towards `target`
    (`n c H W` each), scored as `settings` say, or against the true per-pixel motion `truth` (`n 2 H W`)."""
    guide, cells, hidden, move, previous = inputs
    logits = picker.logits(guide, cells, hidden, previous)
    with torch.no_grad():
        candidates = picker.candidates(cells, move)
        if truth is None:
            errors = candidate_errors(candidates, last, target, border) + settings.stillness * candidates.norm(dim=1)
            scores = errors / settings.temperature
        else:
            scores = (candidates - truth[:, :, None]).abs().sum(dim=1) / TRUTH_TEMPERATURE
        best = (picker.prior_map(*cells.shape[-2:]) - scores).softmax(dim=1)
    return -(best * logits.log_softmax(dim=1)).sum(dim=1).mean()


def candidate_errors(candidates: torch.Tensor, last: torch.Tensor, target: torch.Tensor, border: str) -> torch.Tensor:
    """How far `last` moved by each candidate (`n 2 k H W`) is from `target`, over 3x3 pixels: `n k H W`."""
    errors = torch.stack([(follow(last, c[:, 0], c[:, 1], border) - target).abs().mean(1)
                          for c in candidates.unbind(dim=2)], dim=1)
    return F.avg_pool2d(errors, 3, 1, 1, count_include_pad=False)


def pick_loss(model: DiLAWorldModel, calls: list, frames: torch.Tensor, settings: PickTarget = PickTarget(),
              motion: torch.Tensor | None = None) -> torch.Tensor:
    """The pick term on every warp call (`warp_calls`), each against the true frame before and after it, or
    against the clip's true motion `motion` (`b (t-1) 2 H W`) where given; the picker sees the true frames."""
    warp = model.fusion_decoder.warp
    if warp.picker is None:
        raise ValueError("the pick term needs a shift picker (warp_refine)")
    features, actions = warp_inputs(calls)
    last, before = model.last_and_previous(frames)
    target = rearrange(frames[:, 1:], "b t c h w -> (b t) c h w")
    truth = None if motion is None else rearrange(motion, "b t s h w -> (b t) s h w")
    inputs = warp.picker_inputs(last, warp.hidden(features, actions), actions, before)
    return picking_loss(warp.picker, inputs, last, target, warp.border, settings, truth)


def warp_inputs(calls: list) -> tuple[torch.Tensor, torch.Tensor]:
    """The features and actions of every warp call (`warp_calls`), joined along time."""
    features, _, actions, _ = zip(*calls)
    return torch.cat(features, dim=1), torch.cat(actions, dim=1)


def motion_loss(model: DiLAWorldModel, calls: list, shifts: torch.Tensor) -> torch.Tensor:
    features, actions = warp_inputs(calls)
    return (model.fusion_decoder.warp.cell_shifts(features, actions) - shifts).abs().mean()


def stretch_loss(model: DiLAWorldModel, calls: list, shifts: torch.Tensor) -> torch.Tensor:
    features, actions = warp_inputs(calls)
    warp = model.fusion_decoder.warp
    k = torch.empty(*actions.shape[:2], 1, device=actions.device).uniform_(*STRETCH)
    target = (k[..., None, None] * shifts).clamp(-warp.radius, warp.radius)
    return (warp.cell_shifts(features, k * actions) - target).abs().mean()


def readout_loss(actions: torch.Tensor, shifts: torch.Tensor, even_dims: int = 0, whole: float | None = None,
                 turn: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(readout, rest): the MSE of the action's first coordinates against the dominant motion (with `whole`,
    a part's and the whole view's, `part_and_whole_motion`), and the mean square of the other coordinates
    but the last `even_dims`. `turn` (`b t 2`, `dila.flow_motion`): the growth and turn to read out instead of
    the block shifts'."""
    if turn is not None and whole is not None:
        raise ValueError("the readout's growth and turn from the flow are for one motion, not a part's and the whole's")
    target = dominant_motion(shifts) if whole is None else part_and_whole_motion(shifts, whole)
    if turn is not None:
        target = torch.cat((target[..., :2], turn), dim=-1)
    n, odd = target.shape[-1], actions.shape[-1] - even_dims
    if odd <= n:
        raise ValueError(f"the readout term needs more than {n} odd latent action dimensions")
    return F.mse_loss(actions[..., :n], target), actions[..., n:odd].pow(2).mean()


EVEN_SHARE = 1 / 3  # |even| <= |odd| / 3 gives cos(z, reversed z) = (|e|^2 - |o|^2) / (|e|^2 + |o|^2) <= -0.8


def even_loss(actions: torch.Tensor, even_dims: int) -> torch.Tensor:
    """relu(|z_even| - |z_odd| / 3)^2, averaged over transitions (`DiLAConfig.inverse_even_dims`)."""
    if not even_dims:
        raise ValueError("the even term needs a model with inverse_even_dims > 0")
    odd, even = actions[..., :-even_dims].norm(dim=-1), actions[..., -even_dims:].norm(dim=-1)
    return F.relu(even - EVEN_SHARE * odd).pow(2).mean()


def world_model_loss(model: DiLAWorldModel, x: torch.Tensor, phase: int = 1, weights: LossWeights = LossWeights(),
                     shifts: torch.Tensor | None = None, action_noise: float = 0.0, frames: torch.Tensor | None = None,
                     readout_whole: float | None = None, pick: PickTarget = PickTarget(),
                     motion: torch.Tensor | None = None, turn: torch.Tensor | None = None):
    """Tokens `b t d h w` -> (total loss, dict of the terms); terms weighted 0 are not computed (the
    readout and rest terms come as a pair).
    `shifts` (`b (t-1) h w 2`, `dila.block_motion.block_shifts` of the clip's frames): the motion term's target.
    `frames` (`b t c H W` in [0, 1], the clip the tokens encode): the pixel and pick terms'.
    `readout_whole`: the readout term's target is a part's and the whole view's motion, the whole's when at
    least this share of the cells moved (`dila.block_motion.part_and_whole_motion`); None: one motion.
    `pick`: how the pick term scores against the frames; `motion` (`b (t-1) 2 H W`, `dila.data.true_motion`):
    the clip's true per-pixel motion, the pick term's target instead where given. `turn` (`b (t-1) 2`,
    `dila.flow_motion.flow_growth_and_turn`): the growth and turn the readout term reads out, where given.
    `action_noise`: the standard deviation of Gaussian noise added to the latent actions that the forward
    model and the decoder read (not to those the inverse-model terms compare), so that a faint signal in
    the action cannot tell the decoder what the frame could.

    The authors evaluate the teacher-forced forward model and the inverse model on (g_t, g_{t+1})
    twice per step; we evaluate each once and reuse it (identical without dropout).
    """
    grid = to_grid(x)
    enc = model.encode_grid(grid)
    structure = enc.structure
    actions = model.infer_actions(structure)
    used = actions + action_noise * torch.randn_like(actions) if action_noise else actions
    delta = model.forward_model(structure[:, :-1], used)
    if phase not in (1, 2):
        raise ValueError(f"phase must be 1 or 2, got {phase}")
    if weights.reads_shifts and shifts is None:
        term = next(term for term in SHIFT_TERMS if getattr(weights, term))
        raise ValueError(f"the {term} term needs the clip's block-matched shifts")
    if weights.reads_frames and frames is None:
        term = next(term for term in FRAME_TERMS if getattr(weights, term))
        raise ValueError(f"the {term} term needs the clip's frames")
    with warp_calls(model) if weights.reads_warp else nullcontext() as calls:
        if phase == 1:
            predicted = structure[:, :-1] + delta
            tokens = from_grid(model.render_next(predicted, grid, enc.memory, used))
        else:
            tokens, predicted = model.rollout(x[:, :1], used)
    terms = {
        "prediction": F.mse_loss(tokens, x[:, 1:]),
        "dynamics": F.mse_loss(delta, structure[:, 1:] - structure[:, :-1]),
        "consistency": consistency_loss(model, structure, actions, predicted),
        "action_norm": actions.norm(dim=-1).mean(),
    }
    if weights.symmetry:
        terms["symmetry"] = symmetry_loss(model, structure)
    if weights.oracle:
        oracle = model.render_next(structure[:, 1:], grid, enc.memory, used)
        terms["oracle"] = F.mse_loss(from_grid(oracle), x[:, 1:])
    if weights.detached_dynamics:
        terms["detached_dynamics"] = detached_dynamics_loss(model, structure)
    if weights.sharpness:
        terms["sharpness"] = sharpness_loss(model, tokens, x[:, 1:])
    if weights.motion:
        terms["motion"] = motion_loss(model, calls, shifts)
    if weights.stretch:
        terms["stretch"] = stretch_loss(model, calls, shifts)
    if weights.readout or weights.rest:
        terms["readout"], terms["rest"] = readout_loss(actions, shifts, model.config.inverse_even_dims,
                                                        readout_whole, turn)
    if weights.even:
        terms["even"] = even_loss(actions, model.config.inverse_even_dims)
    if weights.pixel:
        terms["pixel"] = pixel_loss(model, calls, frames, phase)
    if weights.pick:
        terms["pick"] = pick_loss(model, calls, frames, pick, motion)
    total = sum(getattr(weights, name) * value for name, value in terms.items())
    return total, terms

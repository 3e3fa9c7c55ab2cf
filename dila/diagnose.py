"""Token-level checks of a training run: where the chain clip -> latent action -> frame loses information.

    python -m dila.diagnose --model runs/phase1 --codec checkpoints/codec

On held-out clips, token MSE of: copying the last frame; the one-step prediction; the same with every
latent action replaced by the training mean (how much the actions matter); rendering from the true next
structure ("oracle": what the decoder could do if the actions were perfect). Then the share of the
structure change g_t+1 - g_t that the forward model explains from the inferred action, and linear-probe
R^2 of the true actions (signed, and of their absolute values: a model whose actions carry only the
speed of a motion scores on the second but not the first). Last, in pixels: how much of an object's
first move the decoded one-step prediction and the oracle render show (1: all of it, 0: the object stays),
and, for a warping decoder, how its per-pixel move compares with the true one (`warp_motion`).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage

from dila.data.procedural import Clip
from dila.data.tensors import frames_to_tensor
from dila.data.true_motion import true_motion
from dila.evaluate import (
    _clips,
    _flat,
    apparent_motion,
    detokenize_clips,
    linear_probe,
    tokenize_clips,
)
from dila.hub import BUNDLED, load_world_model
from dila.losses import warp_calls
from dila.pipeline import Pipeline
from dila.planning import locate_object, through_codec
from dila.world_model import DiLAWorldModel, from_grid, to_grid


@torch.no_grad()
def token_errors(model: DiLAWorldModel, tokens: torch.Tensor, mean_action: torch.Tensor) -> dict[str, float]:
    """Token MSEs of clips' tokens `b t d h w`."""
    grid = to_grid(tokens)
    enc = model.encode_grid(grid)
    g, target = enc.structure, tokens[:, 1:]
    actions = model.infer_actions(g)

    def error(structure: torch.Tensor, actions: torch.Tensor) -> float:
        rendered = from_grid(model.render_next(structure, grid, enc.memory, actions))
        return float((rendered - target).pow(2).mean())

    change, delta = g[:, 1:] - g[:, :-1], model.forward_model(g[:, :-1], actions)
    mean_actions = mean_action.expand_as(actions)
    return {
        "copy_last": float((tokens[:, :-1] - target).pow(2).mean()),
        "one_step": error(g[:, :-1] + delta, actions),
        "mean_action": error(model.advance(g[:, :-1], mean_actions), mean_actions),
        "oracle": error(g[:, 1:], actions),
        "change_explained": float(1 - (delta - change).pow(2).mean() / change.pow(2).mean()),
    }


def followed_share(start: np.ndarray, end: np.ndarray, shown: np.ndarray) -> float:
    """The share of the move start -> end (x, y) that `shown` makes: its projection on that move."""
    move = end - start
    length = float(move @ move)
    return float((shown - start) @ move / length) if length > 0 else float("nan")


def moving_objects(clips: list[Clip], min_move: float, transition: int = 0) -> list[Clip]:
    """The object clips whose object's move at `transition` (0: the first) is at least `min_move` px."""
    return [c for c in clips if not c.scene.camera
            and np.linalg.norm(np.diff(c.states[transition : transition + 2, :2], axis=0)) >= min_move]


@torch.no_grad()
def motion_followed(pipeline: Pipeline, clips: list[Clip], min_move: float = 2.0, transition: int = 0) -> dict[str, float]:
    """Median `followed_share` of a transition (0: the first; later ones have a frame before them) of object
    clips that move at least `min_move` px there: for the decoded one-step prediction and the render from the
    true next structure, each seen through the codec and located against the codec's view of the background;
    and, where the pipeline shows frames in pixels, for its one-step prediction as shown ("shown"), located
    against the background itself."""
    clips = moving_objects(clips, min_move, transition)
    if not clips:
        return {"one_step": float("nan"), "oracle": float("nan"), "clips": 0}
    model = pipeline.model
    frames = np.stack([c.frames[: transition + 2] for c in clips])
    grid = to_grid(tokenize_clips(pipeline, frames))
    enc = model.encode_grid(grid)
    g = enc.structure
    actions = model.infer_actions(g)
    rendered = {"one_step": model.advance(g[:, :-1], actions), "oracle": g[:, 1:]}
    views = [np.stack((c.scene.backdrop, *c.frames[transition : transition + 2])) for c in clips]
    coded = [through_codec(pipeline, v) for v in views]
    shares = {name: _followed(coded, detokenize_clips(pipeline, from_grid(
        model.render_next(structure, grid, enc.memory, actions)))[:, transition]) for name, structure in rendered.items()}
    if pipeline.renders_pixels:
        shares["shown"] = _followed(views, pipeline.shown_one_step(frames)[:, transition])
    return {**shares, "clips": len(clips)}


def _followed(views: list[np.ndarray], predicted: np.ndarray) -> float:
    """Median share of each view's move (background, frame before, frame after) that its `predicted` frame makes."""
    shares = [followed_share(*(locate_object(f, view[0]) for f in (*view[1:], frame))) for view, frame in zip(views, predicted)]
    return float(np.nanmedian(shares))


@torch.no_grad()
def warp_motion(pipeline: Pipeline, clips: list[Clip], min_move: float = 2.0, near: int = 6,
                transition: int = 0) -> dict[str, float]:
    """The warp's per-pixel move in the one-step prediction of a transition of object clips that move at
    least `min_move` px there (0: the first; later ones have a frame before them), moving each clip's own
    frame (as the app shows frames), against the true motion (`dila.data.true_motion`): `object_share`, the
    median over clips of the mean share of the true move made at the pixels that move more than a pixel;
    `backdrop_leak_px`, the mean move of the pixels that stay within `near` px of those. Empty for a decoder
    without a 'flow' pixel warp."""
    model, warp = pipeline.model, pipeline.model.fusion_decoder.warp
    clips = moving_objects(clips, min_move, transition)
    if warp is None or not warp.ready or not warp.flows or not clips:
        return {}
    frames = np.stack([c.frames[: transition + 2] for c in clips])
    grid = to_grid(tokenize_clips(pipeline, frames))
    enc = model.encode_grid(grid)
    actions = model.infer_actions(enc.structure)
    with warp_calls(model) as calls:
        model.render_next(model.advance(enc.structure[:, :-1], actions), grid, enc.memory, actions)
    features, _, called, _ = calls[0]
    features, called = features[:, transition : transition + 1], called[:, transition : transition + 1]
    guide, previous = (frames_to_tensor(frames[:, max(i, 0)]).to(features.device) for i in (transition, transition - 1))
    shifts = warp.pixel_shifts(guide, warp.hidden(features, called), called, previous).cpu().numpy()
    truth = np.stack([true_motion(c)[transition] for c in clips])
    moving = np.linalg.norm(truth, axis=1) > 1.0
    still = (np.abs(truth).sum(axis=1) == 0) & ndimage.binary_dilation(moving, np.ones((1, 3, 3)), iterations=near)
    shares = [((s * t).sum(0)[m] / (t * t).sum(0)[m]).mean() for s, t, m in zip(shifts, truth, moving) if m.any()]
    return {"object_share": float(np.median(shares)),
            "backdrop_leak_px": float(np.linalg.norm(shifts, axis=1)[still].mean()), "clips": len(clips)}


@torch.no_grad()
def diagnose(pipeline: Pipeline, clips: int = 32, probe_clips: int = 96, frames: int = 6, seed: int = 0) -> dict:
    size = pipeline.image_size
    train, heldout = _clips("train", probe_clips, frames, size, seed), _clips("heldout", clips, frames, size, seed)
    tokens = [tokenize_clips(pipeline, np.stack([c.frames for c in split])) for split in (train, heldout)]
    latent = [pipeline.model.latent_actions(t)[0] for t in tokens]
    truth = [_flat(np.stack([apparent_motion(c) for c in split])) for split in (train, heldout)]
    z_train, z_test = (_flat(z.cpu().numpy()) for z in latent)
    return {
        "token_mse": token_errors(pipeline.model, tokens[1], latent[0].mean(dim=(0, 1))),
        "probe_r2_signed": linear_probe(z_train, truth[0], z_test, truth[1]),
        "probe_r2_unsigned": linear_probe(z_train, np.abs(truth[0]), z_test, np.abs(truth[1])),
        "motion_followed": motion_followed(pipeline, heldout),
        "motion_followed_second": motion_followed(pipeline, heldout, transition=1),
        "warp_motion": warp_motion(pipeline, heldout),
        "warp_motion_second": warp_motion(pipeline, heldout, transition=1),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(BUNDLED))
    parser.add_argument("--codec", default=str(BUNDLED / "codec"))
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--probe-clips", type=int, default=96)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    results = diagnose(Pipeline(load_world_model(args.model), Path(args.codec)), args.clips, args.probe_clips)
    print(json.dumps({section: {k: round(v, 4) for k, v in values.items()} for section, values in results.items()}, indent=1))
    return results


if __name__ == "__main__":
    main()

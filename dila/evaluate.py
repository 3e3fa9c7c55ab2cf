"""Evaluate a world model and its codec on held-out procedural clips: a table, and JSON.

    python -m dila.evaluate --model checkpoints --clips 64 --out eval.json
    python -m dila.evaluate --model checkpoints --quick

On a busy CPU add `--threads 1`: the batches are small, and a second thread mostly waits.

prediction        PSNR / SSIM of teacher-forced 1-step predictions and of rollouts from frame 0
                  with the clip's own inferred actions, next to copying the last frame (frame 0
                  for rollouts), and the codec's reconstruction. Predictions are scored as the
                  pipeline shows them (rendered in pixels or with the observed frame's detail, see
                  `dila.pipeline`) and as decoded tokens alone (`*_decoded`: capped by the codec).
transfer          clip A's inferred actions drive clip B's first frame (`Pipeline.transfer`),
                  scored against B' = B's scene moved by A's true actions; cycle: the actions
                  re-inferred from the result against A's (mean cosine).
interpretability  a ridge probe from latent actions to true actions as the frames show them
                  (`apparent_motion`), fitted on training-split clips and scored (R^2 per
                  component) on held-out ones; the cosine between IDM(g_t, g_t+1) and
                  IDM(g_t+1, g_t), ideally -1.
disentanglement   A's structure with B's content (`Pipeline.rebind`): motion kept (cosine of the
                  actions re-inferred from the result to A's, with unrelated clips' for scale)
                  and appearance moved (colour histograms nearer B's than A's).
slider            along the latent direction that a probe of the training object clips maps to the object's
                  +dx (its pattern, `probe_direction`; a pan's content motion, which a model may carry
                  elsewhere, is not the object's), +-2 standard deviations of
                  those clips' actions from their mean render held-out object starts
                  (`Pipeline.preview`); a start counts when the object's centroid moves at least
                  `min_shift` px the right way for both signs. `object_move`: the same count for how far
                  the object itself moved (the start's scene re-rendered with its object moved by each of
                  `SHIFT_SEARCH` px, the nearest to the preview; `rendered_shifts`), which a backdrop
                  moved along with the object does not pull as it pulls the centroid. `after_a_frame`:
                  the same from each clip's second frame with its first as context (the app steers
                  from a frame of a clip after the frames before it).
planning          CEM in latent-action space from frame 0 to frame k of held-out clips; success
                  when the object (view) in the last planned frame is within tolerance of the goal.
long_play         `play_steps` steps from held-out first frames with Play's keys held in turn
                  (`dila.long_play`): sharpness against the scene's real frames and colour distance;
                  and a round trip (each key held, then its opposite): PSNR against the first frame
                  after each return (`round_trip`).
"""
from __future__ import annotations

import argparse
import json
import math
import time
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
from einops import rearrange
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dila.data.procedural import (
    KINDS,
    Clip,
    ProceduralVideoDataset,
    render_clip,
    render_pair,
)
from dila.hub import BUNDLED, load_world_model
from dila.long_play import TRIP_HOLD, long_play, play_keys, round_trip
from dila.metrics import (
    colour_histogram,
    cosine,
    frame_psnr,
    histogram_distance,
    pooled_psnr,
    psnr,
    ssim,
)
from dila.pipeline import RENDERS, Pipeline, with_detail
from dila.planning import (
    ActionPrior,
    PlanningTask,
    TaskResult,
    locate_object,
    plan_success,
    planning_tasks,
    through_codec,
)
from dila.world_model import DiLAWorldModel

COMPONENTS = ("dx", "dy", "rotation", "log_scale")
QUICK = {"clips": 4, "steps": 4, "probe_clips": 8, "tasks": 2, "plan_samples": 16, "plan_iterations": 2,
         "play_clips": 2, "play_steps": 10}


# ---------------------------------------------------------------- metrics (pure)


def fidelity(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Mean per-frame PSNR and SSIM, and the PSNR of the pooled squared error (`pooled_psnr`)."""
    return {"psnr": psnr(pred, target), "pooled_psnr": pooled_psnr(pred, target), "ssim": ssim(pred, target)}


def prediction_fidelity(frames: np.ndarray, codec: np.ndarray, one_step: np.ndarray, rollout: np.ndarray,
                        one_step_decoded: np.ndarray, rollout_decoded: np.ndarray) -> dict:
    """`frames` `b t h w 3`; `codec` their reconstruction; `one_step`, `rollout` frames 1.. `b (t-1) h w 3`
    as the pipeline shows them, and `*_decoded` the same tokens decoded alone (without the observed detail)."""
    target = frames[:, 1:]
    first = np.broadcast_to(frames[:, :1], target.shape)
    return {
        "codec": fidelity(codec, frames),
        "one_step": fidelity(one_step, target),
        "one_step_decoded": fidelity(one_step_decoded, target),
        "copy_last": fidelity(frames[:, :-1], target),
        "rollout": fidelity(rollout, target),
        "rollout_decoded": fidelity(rollout_decoded, target),
        "copy_first": fidelity(first, target),
        "rollout_psnr_per_step": frame_psnr(rollout, target).reshape(target.shape[:2]).mean(0).tolist(),
    }


def transfer_scores(target: np.ndarray, generated: np.ndarray, decoded: np.ndarray, source_actions: np.ndarray,
                    cycle_actions: np.ndarray) -> dict:
    """`target` B' `b t h w 3`; `generated` `b (t-1) h w 3` (and `decoded`: without the observed detail);
    actions `b (t-1) a`. For scale, the cycle's cosine with the next pair's source actions (unrelated
    motion) is reported too."""
    truth = target[:, 1:]
    return {
        "model": fidelity(generated, truth),
        "model_decoded": fidelity(decoded, truth),
        "copy_first": fidelity(np.broadcast_to(target[:, :1], truth.shape), truth),
        "cycle_cosine": float(cosine(cycle_actions, source_actions).mean()),
        "cycle_cosine_unrelated": float(cosine(cycle_actions, np.roll(source_actions, -1, axis=0)).mean()),
    }


def linear_probe(train_latent: np.ndarray, train_true: np.ndarray, test_latent: np.ndarray, test_true: np.ndarray,
                 alpha: float = 1.0) -> dict[str, float]:
    """R^2 on the test set of a ridge regression (standardised inputs) latent `n a` -> true `n 4`."""
    probe = make_pipeline(StandardScaler(), Ridge(alpha=alpha)).fit(train_latent, train_true)
    scores = r2_score(test_true, probe.predict(test_latent), multioutput="raw_values")
    return {**dict(zip(COMPONENTS, map(float, scores))), "mean": float(scores.mean())}


def probe_direction(latent: np.ndarray, true: np.ndarray, component: str = "dx", alpha: float = 1.0) -> np.ndarray:
    """Unit vector along which latent actions `n a` move as the ridge probe's `component` grows: the probe's
    pattern cov(latent, prediction), not its weights, which also lean on directions that only cancel
    nuisances and that the actions never take (Haufe et al. 2014, "On the interpretation of weight vectors")."""
    probe = make_pipeline(StandardScaler(), Ridge(alpha=alpha)).fit(latent, true)
    predicted = probe.predict(latent)[:, COMPONENTS.index(component)]
    pattern = (latent - latent.mean(axis=0)).T @ (predicted - predicted.mean()) / len(latent)
    return pattern / np.linalg.norm(pattern)


def along(actions: np.ndarray, direction: np.ndarray, sigmas: float) -> np.ndarray:
    """The mean of `actions` `n a` moved `sigmas` of their standard deviations along unit `direction`."""
    return actions.mean(axis=0) + sigmas * float((actions @ direction).std()) * direction


SHIFT_SEARCH = np.arange(-6.0, 6.01, 0.5)


def rendered_shifts(frames: list[np.ndarray], clip: Clip, pipeline: Pipeline | None = None,
                    search: np.ndarray = SHIFT_SEARCH, index: int = 0) -> list[float]:
    """The x move of `clip`'s object that best explains each of `frames` (uint8 `h w 3`): frame `index`'s
    scene re-rendered with the object moved by each of `search` px (through the pipeline's codec when it
    shows frames that way), the nearest in mean absolute difference."""
    still = np.zeros((0, 4), np.float32)
    renders = np.stack([render_clip(replace(clip.scene, start=clip.states[index] + np.array([dx, 0, 0, 0])), still,
                                    clip.kind).frames[0] for dx in search])
    if pipeline is not None and not pipeline.keep_detail:
        renders = through_codec(pipeline, renders)
    renders = renders.astype(np.float32)
    return [float(search[int(np.argmin(np.abs(renders - frame.astype(np.float32)).mean(axis=(1, 2, 3))))])
            for frame in frames]


def slider_scores(shifts: np.ndarray, min_shift: float) -> dict:
    """`shifts` `n 2`: the centroid's x move at -2 and +2 standard deviations (NaN: not found)."""
    found = np.isfinite(shifts).all(axis=1)
    right_way = (shifts[:, 0] <= -min_shift) & (shifts[:, 1] >= min_shift)
    return {
        "starts": len(shifts),
        "min_shift_px": min_shift,
        "success_rate": float(right_way.mean()),
        "located": float(found.mean()),
        "median_shift_minus_px": float(np.nanmedian(shifts[:, 0])) if found.any() else math.nan,
        "median_shift_plus_px": float(np.nanmedian(shifts[:, 1])) if found.any() else math.nan,
    }


def disentanglement_scores(structure_clips: np.ndarray, content_clips: np.ndarray, rebound: np.ndarray,
                           structure_actions: np.ndarray, content_actions: np.ndarray, rebound_actions: np.ndarray) -> dict:
    """Clips `b t h w 3`, actions `b (t-1) a`; `rebound` is the structure of the first with the
    content of the second."""
    to_structure, to_content = (
        np.array([histogram_distance(colour_histogram(r), colour_histogram(c)) for r, c in zip(rebound, clips)])
        for clips in (structure_clips, content_clips)
    )
    return {
        "motion_cosine": float(cosine(rebound_actions, structure_actions).mean()),
        "motion_cosine_unrelated": float(cosine(content_actions, structure_actions).mean()),
        "colour_distance_to_content": float(to_content.mean()),
        "colour_distance_to_structure": float(to_structure.mean()),
        "appearance_moved": float((to_content < to_structure).mean()),
    }


def planning_summary(results: list[TaskResult], tolerance: float) -> dict:
    errors = np.array([r.error for r in results])
    return {
        "tasks": len(results),
        "tolerance_px": tolerance,
        "success_rate": float(np.mean([r.success for r in results])),
        "do_nothing_success_rate": float(np.mean([r.baseline_error <= tolerance for r in results])),
        "median_error_px": float(np.nanmedian(errors)) if np.isfinite(errors).any() else math.nan,
        "do_nothing_median_error_px": float(np.nanmedian([r.baseline_error for r in results])),
        "locator_error_px": float(np.nanmean([r.locator_error for r in results])),
    }


def apparent_motion(clip: Clip) -> np.ndarray:
    """True actions `(t-1) 4` as the frames show them: a camera's (dx, dy) becomes the content's
    motion in output pixels (pan right = content left) and zooming in is the content growing."""
    if not clip.scene.camera:
        return clip.actions
    zoom = clip.states[:-1, 3:]
    return np.concatenate((-clip.actions[:, :2] * zoom, clip.actions[:, 2:]), axis=1)


def reversal_cosines(model: DiLAWorldModel, structure: torch.Tensor) -> torch.Tensor:
    """cos(IDM(g_t, g_t+1), IDM(g_t+1, g_t)) per transition of structure `b t h w s`: `b (t-1)`."""
    prev, nxt = structure[:, :-1], structure[:, 1:]
    return torch.nn.functional.cosine_similarity(model.inverse_model(prev, nxt), model.inverse_model(nxt, prev), dim=-1)


# ---------------------------------------------------------------- running the model


def tokenize_clips(pipeline: Pipeline, frames: np.ndarray) -> torch.Tensor:
    """uint8 `b t h w 3` -> tokens `b t d h w`."""
    tokens = pipeline.tokenize(rearrange(frames, "b t h w c -> (b t) h w c"))
    return rearrange(tokens, "1 (b t) d h w -> b t d h w", b=len(frames))


def detokenize_clips(pipeline: Pipeline, tokens: torch.Tensor) -> np.ndarray:
    frames = pipeline.detokenize(rearrange(tokens, "b t d h w -> 1 (b t) d h w"))
    return rearrange(frames, "(b t) h w c -> b t h w c", b=len(tokens))


@torch.no_grad()
def predict_clips(pipeline: Pipeline, frames: np.ndarray) -> dict[str, np.ndarray]:
    """The model's view of clips `b t h w 3`: reconstructions, 1-step predictions, rollouts with
    the inferred actions, the actions and the reversal cosines."""
    model = pipeline.model
    tokens = tokenize_clips(pipeline, frames)
    actions, structure = model.latent_actions(tokens)
    rolled, _ = model.rollout(tokens[:, :1], actions)
    codec, one_step, rollout = (detokenize_clips(pipeline, x) for x in (tokens, model.one_step(tokens), rolled))
    lost = frames.astype(np.float32) - codec
    if pipeline.renders_pixels:
        shown_one_step, shown_rollout = pipeline.shown_one_step(frames), pipeline.shown_rollout(frames[:, :1], actions)
    else:
        shown_one_step = with_detail(one_step, lost[:, :-1] if pipeline.keep_detail else None)
        shown_rollout = with_detail(rollout, lost[:, :1] if pipeline.keep_detail else None)
    return {
        "codec": codec,
        "one_step": shown_one_step,
        "one_step_decoded": one_step,
        "rollout": shown_rollout,
        "rollout_decoded": rollout,
        "actions": actions.cpu().numpy(),
        "reversal": reversal_cosines(model, structure).cpu().numpy(),
    }


def batched(fn, frames: np.ndarray, batch: int) -> dict[str, np.ndarray]:
    parts = [fn(frames[i : i + batch]) for i in range(0, len(frames), batch)]
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


@torch.no_grad()
def clip_actions(pipeline: Pipeline, frames: np.ndarray) -> dict[str, np.ndarray]:
    actions, _ = pipeline.model.latent_actions(tokenize_clips(pipeline, frames))
    return {"actions": actions.cpu().numpy()}


def run_transfer(pipeline: Pipeline, pairs: list[tuple[Clip, Clip]]) -> dict:
    generated = np.stack([pipeline.transfer(a.frames, b.frames) for a, b in pairs])
    decoded = np.stack([pipeline.without_detail().transfer(a.frames, b.frames) for a, b in pairs])
    source = np.stack([pipeline.encode_clip(a.frames).actions for a, _ in pairs])
    cycle = np.stack([pipeline.encode_clip(np.concatenate((b.frames[:1], g))).actions
                      for (_, b), g in zip(pairs, generated)])
    return transfer_scores(np.stack([b.frames for _, b in pairs]), generated, decoded, source, cycle)


def run_disentanglement(pipeline: Pipeline, frames: np.ndarray, actions: np.ndarray) -> dict:
    """Each clip's structure with the next clip's content."""
    content, content_actions = np.roll(frames, -1, axis=0), np.roll(actions, -1, axis=0)
    rebound = np.stack([pipeline.rebind(s, c) for s, c in zip(frames, content)])
    rebound_actions = np.stack([pipeline.encode_clip(r).actions for r in rebound])
    return disentanglement_scores(frames, content, rebound, actions, content_actions, rebound_actions)


@torch.no_grad()
def run_slider(pipeline: Pipeline, clips: list[Clip], train_actions: np.ndarray, direction: np.ndarray,
               min_shift: float = 2.0, sigmas: float = 2.0, start: int = 0) -> dict:
    """Move frame `start` of each object clip (0: the first, alone; later ones after the frames before them,
    as the app steers from a frame of a clip) along `direction` by +-`sigmas` standard deviations. The object
    is located against the background as the pipeline shows it (through the codec unless it keeps detail)."""
    minus, plus = (along(train_actions, direction, sign * sigmas) for sign in (-1, 1))
    shifts, own = [], []
    for clip in (c for c in clips if not c.scene.camera):
        state = pipeline.start(clip.frames[: start + 1])
        reference = np.stack((clip.scene.backdrop, clip.frames[start]))
        background, first = reference if pipeline.keep_detail else through_codec(pipeline, reference)
        origin = locate_object(first, background)
        moved = [pipeline.preview(state, action) for action in (minus, plus)]
        shifts.append([locate_object(m, background)[0] - origin[0] for m in moved])
        own.append(rendered_shifts(moved, clip, pipeline, index=start))
    scores = slider_scores(np.array(shifts, dtype=float).reshape(-1, 2), min_shift)
    mine = slider_scores(np.array(own, dtype=float).reshape(-1, 2), min_shift)
    keys = ("success_rate", "median_shift_minus_px", "median_shift_plus_px")
    return {**scores, "object_move": {k: mine[k] for k in keys}}


def run_planning(pipeline: Pipeline, tasks: list[PlanningTask], prior: ActionPrior, tolerance: float,
                 **plan_kwargs) -> dict:
    results = [plan_success(pipeline, task, tolerance, prior=prior, **plan_kwargs) for task in tasks]
    return planning_summary(results, tolerance)


# ---------------------------------------------------------------- the evaluation


@contextmanager
def timer(seconds: dict[str, float], name: str):
    start = time.perf_counter()
    yield
    seconds[name] = round(time.perf_counter() - start, 1)


def evaluate(pipeline: Pipeline, clips: int = 64, steps: int = 8, probe_clips: int = 256, tasks: int = 16,
             horizon: int = 4, tolerance: float = 3.0, plan_samples: int = 64, plan_iterations: int = 8,
             plan_cost: str = "tokens", batch: int = 16, seed: int = 0, play_clips: int = 6, play_steps: int = 100) -> dict:
    size, length = pipeline.image_size, steps + 1
    heldout, train = _clips("heldout", clips, length, size, seed), _clips("train", probe_clips, length, size, seed)
    pairs = [render_pair(np.random.default_rng([seed, 3, i]), "heldout", KINDS[i % len(KINDS)], length, size)
             for i in range(clips)]
    task_list = planning_tasks(tasks, horizon, size, seed, tolerance=tolerance)
    frames = np.stack([c.frames for c in heldout])
    seconds = {}
    with timer(seconds, "prediction"):
        predicted = batched(partial(predict_clips, pipeline), frames, batch)
        prediction = prediction_fidelity(frames, *(predicted[k] for k in (
            "codec", "one_step", "rollout", "one_step_decoded", "rollout_decoded")))
    with timer(seconds, "transfer"):
        transfer = run_transfer(pipeline, pairs)
    with timer(seconds, "interpretability"):
        train_actions = batched(partial(clip_actions, pipeline), np.stack([c.frames for c in train]), batch)["actions"]
        truth = [np.stack([apparent_motion(c) for c in split]) for split in (train, heldout)]
        interpretability = {
            "probe_r2": linear_probe(_flat(train_actions), _flat(truth[0]), _flat(predicted["actions"]), _flat(truth[1])),
            "reversal_cosine": float(predicted["reversal"].mean()),
        }
    with timer(seconds, "slider"):
        objects = np.array([not c.scene.camera for c in train])
        object_actions = _flat(train_actions[objects])
        direction = probe_direction(object_actions, _flat(truth[0][objects]))
        slider = run_slider(pipeline, heldout, object_actions, direction)
        slider["after_a_frame"] = run_slider(pipeline, heldout, object_actions, direction, start=1)
    with timer(seconds, "disentanglement"):
        disentanglement = run_disentanglement(pipeline, frames, predicted["actions"])
    with timer(seconds, "planning"):
        planning = run_planning(pipeline, task_list, ActionPrior.from_actions(train_actions), tolerance,
                                samples=plan_samples, iterations=plan_iterations, cost=plan_cost, seed=seed)
    with timer(seconds, "long_play"):
        keys, starts = play_keys(_flat(predicted["actions"])), list(frames[:play_clips])
        long, _ = long_play(pipeline, starts, keys, play_steps)
        long["round_trip"], _ = round_trip(pipeline, starts, keys, play_steps, hold=min(TRIP_HOLD, play_steps))
    settings = {"clips": clips, "steps": steps, "probe_clips": probe_clips, "tasks": tasks, "horizon": horizon,
                "plan": {"samples": plan_samples, "iterations": plan_iterations, "cost": plan_cost},
                "image_size": size, "seed": seed, "seconds": seconds}
    return {"settings": settings, "prediction": prediction, "transfer": transfer, "interpretability": interpretability,
            "slider": slider, "disentanglement": disentanglement, "planning": planning, "long_play": long}


def _clips(split: str, count: int, length: int, size: int, seed: int) -> list[Clip]:
    data = ProceduralVideoDataset(split, count, length, size, seed=seed)
    return [data.clip(i) for i in range(count)]


def _flat(x: np.ndarray) -> np.ndarray:
    return rearrange(x, "b t c -> (b t) c")


# ---------------------------------------------------------------- report


def rows(results: dict, prefix: str = "") -> list[tuple[str, object]]:
    """Nested results flattened to (dotted name, value)."""
    out = []
    for key, value in results.items():
        name = f"{prefix}{key}"
        out += rows(value, name + ".") if isinstance(value, dict) else [(name, value)]
    return out


def table(results: dict) -> str:
    flat = rows(results)
    width = max(len(name) for name, _ in flat)
    return "\n".join(f"{name:<{width}}  {format_value(value)}" for name, value in flat)


def format_value(value) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(format_value(v) for v in value)
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def to_json(results: dict) -> str:
    """Strict JSON: NaN (a locator that found nothing, say) becomes null."""
    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return None if isinstance(value, float) and math.isnan(value) else value

    return json.dumps(clean(results), indent=2, allow_nan=False) + "\n"


# ---------------------------------------------------------------- command line


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(BUNDLED), help="world model: directory, .pt file or Hub id")
    parser.add_argument("--codec", default=None, help="codec: directory or 'rae' (default: MODEL/codec)")
    parser.add_argument("--out", default=None, help="write the results here as JSON")
    parser.add_argument("--clips", type=int, default=64, help="held-out clips (and transfer pairs)")
    parser.add_argument("--steps", type=int, default=8, help="rollout length; clips have steps + 1 frames")
    parser.add_argument("--probe-clips", type=int, default=256, help="training-split clips for the linear probe")
    parser.add_argument("--tasks", type=int, default=16, help="planning tasks")
    parser.add_argument("--horizon", type=int, default=4, help="planning goals are frames 2..horizon")
    parser.add_argument("--tolerance", type=float, default=3.0, help="planning success radius, px")
    parser.add_argument("--plan-samples", type=int, default=64)
    parser.add_argument("--plan-iterations", type=int, default=8)
    parser.add_argument("--plan-cost", choices=("tokens", "structure"), default="tokens",
                        help="what the planner scores (`dila.planning.plan`)")
    parser.add_argument("--batch", type=int, default=16, help="clips per batched forward pass")
    parser.add_argument("--play-clips", type=int, default=6, help="held-out scenes played for the long-play measure")
    parser.add_argument("--play-steps", type=int, default=100, help="steps of the long-play measure")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--render", choices=RENDERS, default=None,
                        help="how generated frames are shown (`dila.pipeline`; default: the model's `render`)")
    quick = ", ".join(f"{k}={v}" for k, v in QUICK.items())
    parser.add_argument("--quick", action="store_true", help=f"a smoke run: {quick}")
    args = parser.parse_args(argv)
    if args.quick:
        vars(args).update(QUICK)
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_world_model(args.model, device=args.device)
    codec = args.codec or str(Path(args.model) / "codec")
    pipeline = Pipeline(model, codec, device=args.device, render=args.render)
    results = evaluate(pipeline, clips=args.clips, steps=args.steps, probe_clips=args.probe_clips, tasks=args.tasks,
                       horizon=args.horizon, tolerance=args.tolerance, plan_samples=args.plan_samples,
                       plan_iterations=args.plan_iterations, plan_cost=args.plan_cost, batch=args.batch, seed=args.seed,
                       play_clips=args.play_clips, play_steps=args.play_steps)
    results["settings"].update(model=str(args.model), codec=codec, render=pipeline.render)
    print(table(results))
    if args.out:
        Path(args.out).write_text(to_json(results))
    return results


if __name__ == "__main__":
    main()

"""How a model does on clips drawn apart from its training generator (`dila.data.drawn`).

    python -m dila.drawn_clips --model checkpoints --codec checkpoints/codec

For each kind of clip: one-step and rollout PSNR as the pipeline shows them, beside copying the last
(first) frame; for objects, the median share of each move of 2 px or more that the one-step frame shows
(the object located against its backdrop, `dila.planning.locate_object`: 1 all of it, 0 none), and how
the inferred action's first two coordinates (the readout term's move x and y) follow the true move:
the slope and R^2 of a line fitted to each (a model trained with the readout term reads about 1).
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from dila.data.drawn import DrawnClip, drawn_clips
from dila.evaluate import batched, predict_clips
from dila.hub import BUNDLED
from dila.metrics import psnr
from dila.pipeline import Pipeline
from dila.planning import locate_object

MIN_MOVE = 2.0


def shown_share(clip: DrawnClip, predicted: np.ndarray) -> list[float]:
    """The share of each move of at least `MIN_MOVE` px that the predicted next frames (`t-1 h w 3`) show."""
    shares = []
    for t, frame in enumerate(predicted):
        move = clip.centres[t + 1] - clip.centres[t]
        if np.linalg.norm(move) >= MIN_MOVE:
            shown = locate_object(frame, clip.backdrop) - locate_object(clip.frames[t], clip.backdrop)
            shares.append(float(shown @ move / (move @ move)))
    return shares


def fitted_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(slope, R^2) of y on x."""
    slope, intercept = np.polyfit(x, y, 1)
    return float(slope), float(1 - (y - slope * x - intercept).var() / y.var())


def score_kind(pipeline: Pipeline, clips: list[DrawnClip], batch: int = 16) -> dict:
    frames = np.stack([c.frames for c in clips])
    out = batched(lambda f: predict_clips(pipeline, f), frames, batch)
    later = frames[:, 1:]
    scores = {
        "clips": len(clips),
        "one_step_psnr": psnr(out["one_step"], later),
        "copy_last_psnr": psnr(frames[:, :-1], later),
        "rollout_psnr": psnr(out["rollout"], later),
        "copy_first_psnr": psnr(np.broadcast_to(frames[:, :1], later.shape), later),
    }
    if clips[0].centres is not None:
        shares = [s for c, p in zip(clips, out["one_step"]) for s in shown_share(c, p)]
        moves = np.concatenate([np.diff(c.centres, axis=0) for c in clips])
        actions = out["actions"][..., :2].reshape(-1, 2)
        scores["share_shown"] = float(np.nanmedian(shares)) if shares else float("nan")
        scores["action_move"] = {axis: dict(zip(("slope", "r2"), fitted_line(moves[:, i], actions[:, i])))
                                 for i, axis in enumerate("xy")}
    return scores


def drawn_scores(pipeline: Pipeline, seed: int = 0, objects: int = 24, pans: int = 8) -> dict[str, dict]:
    clips = drawn_clips(seed, objects, pans)
    kinds = dict.fromkeys(c.kind for c in clips)
    return {kind: score_kind(pipeline, [c for c in clips if c.kind == kind]) for kind in kinds}


def table(scores: dict[str, dict]) -> str:
    lines = ["| clips | one-step (copy-last) dB | rollout (copy-first) dB | share shown | action x / y: slope, R^2 |",
             "| --- | --- | --- | --- | --- |"]
    for kind, s in scores.items():
        moved = "" if "share_shown" not in s else f"{s['share_shown']:.2f}"
        action = "" if "action_move" not in s else " / ".join(
            f"{s['action_move'][a]['slope']:.2f}, {s['action_move'][a]['r2']:.2f}" for a in "xy")
        lines.append(f"| {kind} ({s['clips']}) | {s['one_step_psnr']:.1f} ({s['copy_last_psnr']:.1f}) | "
                     f"{s['rollout_psnr']:.1f} ({s['copy_first_psnr']:.1f}) | {moved} | {action} |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(BUNDLED))
    parser.add_argument("--codec", default=str(BUNDLED / "codec"))
    parser.add_argument("--objects", type=int, default=24, help="clips over each backdrop")
    parser.add_argument("--pans", type=int, default=8, help="clips over each photo")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", help="also write the scores as JSON here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    pipeline = Pipeline.from_pretrained(args.model, codec=args.codec)
    scores = drawn_scores(pipeline, args.seed, args.objects, args.pans)
    print(table(scores))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(scores, f, indent=2)
    return scores


if __name__ == "__main__":
    main()

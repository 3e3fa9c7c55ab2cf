"""Long play: a hundred imagined steps driven the way the app's Play tab drives them, held against
real frames of the scene.

Play binds the k-means centres of a library's latent actions to keys, and a user holds one key after
another. Here every start clip is played for `steps` steps from its first frame, holding each key for
`hold` steps in turn (pressing keys 20 times and holding one for ~70 steps both fit in 100), and the
frame at each checkpoint is compared with the clip's real frames:

    sharpness  mean gradient magnitude of the frame over that of the real frames (1: as sharp, 0: flat)
    colour     Hellinger distance of the frame's colour histogram to the real frames' (0: same colours)

The keys' moves add up, so a faithful model too carries an object out of a 64-pixel frame within one held
key. The round trip asks what a faithful model must do whatever the scene: each key is held for half of
`hold` steps and its opposite (the negated action: a reversed transition's, `inverse_antisymmetric`) for
the other half, so every `hold` steps the frame should be back where it started (at 10, the objects go 12
to 21 px away at the evaluation's keys, and stay in the frame):

    return     PSNR of the frame after each round trip against the first frame (dB; high: back home)
    away       PSNR of the frame halfway through each round trip against the first (low: it did move)

    python -m dila.long_play --model checkpoints --out docs/strips/long-play.png [--trip-out trip.png]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from dila.data.procedural import ProceduralVideoDataset
from dila.metrics import colour_histogram, histogram_distance, psnr
from dila.pipeline import RENDERS, Pipeline

CHECKPOINTS = (0, 10, 25, 50, 100)


def sharpness(frames: np.ndarray) -> np.ndarray:
    """Mean gradient magnitude of each grey frame of `... h w 3` uint8, in grey levels per pixel."""
    grey = np.asarray(frames, np.float64).mean(axis=-1)
    dy, dx = np.diff(grey, axis=-2)[..., :, :-1], np.diff(grey, axis=-1)[..., :-1, :]
    return np.sqrt(dx**2 + dy**2).mean(axis=(-2, -1))


def play_keys(actions: np.ndarray, keys: int = 6, seed: int = 0) -> np.ndarray:
    """The actions bound to Play's keys: k-means centres of `actions` (`n a`), `keys a` float32."""
    from sklearn.cluster import KMeans

    keys = int(min(keys, len(np.unique(np.round(actions, 6), axis=0))))
    return KMeans(n_clusters=max(keys, 1), n_init=3, random_state=seed).fit(actions).cluster_centers_.astype(np.float32)


def held_keys(centres: np.ndarray, steps: int, hold: int, first: int = 0) -> np.ndarray:
    """`steps` actions: each key held for `hold` steps in turn, starting with key `first`."""
    order = (first + np.arange(steps) // hold) % len(centres)
    return centres[order]


def there_and_back(centres: np.ndarray, steps: int, hold: int, first: int = 0) -> np.ndarray:
    """`held_keys`, each key held for the first half of its `hold` steps and negated for the second."""
    sign = np.where(np.arange(steps) % hold < hold // 2, 1.0, -1.0).astype(np.float32)
    return held_keys(centres, steps, hold, first) * sign[:, None]


def play(pipeline: Pipeline, first_frame: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """The first frame followed by one generated frame per action: uint8 `(n+1) h w 3`."""
    return np.concatenate((first_frame[None], pipeline.rollout(first_frame[None], actions)))


def long_play(pipeline: Pipeline, clips: list[np.ndarray], centres: np.ndarray, steps: int = 100,
              hold: int = 20) -> tuple[dict, np.ndarray]:
    """Play every clip's scene for `steps` steps. Returns the scores at each checkpoint (median over
    clips) and the frames at the checkpoints, `clips checkpoints h w 3`."""
    marks = [c for c in CHECKPOINTS if c <= steps]
    ratios, colours, kept = [], [], []
    for i, real in enumerate(clips):
        frames = play(pipeline, real[0], held_keys(centres, steps, hold, first=i))[marks]
        ratios.append(sharpness(frames) / sharpness(real).mean())
        reference = colour_histogram(real)
        colours.append([histogram_distance(colour_histogram(f), reference) for f in frames])
        kept.append(frames)
    ratios, colours = np.median(ratios, axis=0), np.median(colours, axis=0)
    scores = {"steps": steps, "hold": hold, "keys": len(centres), "clips": len(clips),
              "sharpness": {str(m): float(r) for m, r in zip(marks, ratios)},
              "colour_distance": {str(m): float(c) for m, c in zip(marks, colours)}}
    return scores, np.stack(kept)


TRIP_HOLD = 10  # 5 steps each way: 12-21 px at the evaluation's keys, so objects mostly stay in the frame


def round_trip(pipeline: Pipeline, clips: list[np.ndarray], centres: np.ndarray, steps: int = 100,
               hold: int = TRIP_HOLD) -> tuple[dict, np.ndarray]:
    """Play every clip's scene there and back (`there_and_back`). Returns the return and away PSNR after each
    round trip (median over clips) and the frames at steps 0, hold/2, hold, steps/2, steps - hold/2 and
    steps, `clips 6 h w 3`."""
    if hold < 2 or steps < hold:
        raise ValueError(f"a round trip needs hold >= 2 and steps >= hold; got hold={hold}, steps={steps}")
    returns = np.arange(hold, steps + 1, hold)
    marks = [0, hold // 2, hold, steps // 2, returns[-1] - hold // 2, returns[-1]]
    back, away, kept = [], [], []
    for i, real in enumerate(clips):
        frames = play(pipeline, real[0], there_and_back(centres, steps, hold, first=i))
        back.append([psnr(frames[r], frames[0]) for r in returns])
        away.append([psnr(frames[r - hold // 2], frames[0]) for r in returns])
        kept.append(frames[marks])
    back, away = np.median(back, axis=0), np.median(away, axis=0)
    scores = {"hold": hold, "clips": len(clips),
              "return_psnr": {str(r): float(b) for r, b in zip(returns, back)},
              "away_psnr": {str(r - hold // 2): float(a) for r, a in zip(returns, away)}}
    return scores, np.stack(kept)


def strip(frames: np.ndarray, gap: int = 2) -> np.ndarray:
    """Frames `clips checkpoints h w 3` as one image: a row per clip, a column per checkpoint."""
    n, m, h, w, _ = frames.shape
    out = np.full((n * (h + gap) - gap, m * (w + gap) - gap, 3), 255, np.uint8)
    for i in range(n):
        for j in range(m):
            out[i * (h + gap): i * (h + gap) + h, j * (w + gap): j * (w + gap) + w] = frames[i, j]
    return out


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="world model (default: the bundled one)")
    parser.add_argument("--codec", default=None, help="codec directory (default: MODEL/codec)")
    parser.add_argument("--out", required=True, help="PNG strip: a row per clip, columns at steps 0/10/25/50/100")
    parser.add_argument("--trip-out", default=None, help="PNG strip of the round trip (columns at steps 0/5/10/50/95/100)")
    parser.add_argument("--trip-hold", type=int, default=TRIP_HOLD, help="steps per round trip")
    parser.add_argument("--clips", type=int, default=6)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--hold", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--render", choices=RENDERS, default=None,
                        help="how generated frames are shown (`dila.pipeline`; default: the model's `render`)")
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    codec = args.codec or (str(Path(args.model) / "codec") if args.model else None)
    pipeline = Pipeline.from_pretrained(args.model, codec, render=args.render)
    data = ProceduralVideoDataset("heldout", args.clips, 9, pipeline.image_size, seed=args.seed)
    clips = [data.clip(i).frames for i in range(args.clips)]
    centres = play_keys(np.concatenate([pipeline.encode_clip(c).actions for c in clips]))
    scores, frames = long_play(pipeline, list(clips), centres, args.steps, args.hold)
    Image.fromarray(strip(frames)).save(args.out)
    if args.trip_out:
        scores["round_trip"], frames = round_trip(pipeline, list(clips), centres, args.steps, args.trip_hold)
        Image.fromarray(strip(frames)).save(args.trip_out)
    print(scores)
    return scores


if __name__ == "__main__":
    main()

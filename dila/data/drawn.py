"""Clips drawn apart from the training generator (`dila.data.procedural`), to see how far what a model
learned carries beyond it: OpenCV polygons and ellipses (drawn anti-aliased at 4x and reduced) moving at a
constant velocity and spin over a flat colour, smooth colour noise, or crops of scikit-image photos that no
split uses; and pans over those photos and a checkerboard, resampled with OpenCV. Nothing here is shared with
the training generator but the frame size and the photo loader.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dila.data.textures import photo

SIZE = 64
SUPERSAMPLE = 4
PHOTOS = ("clock", "cell", "checkerboard")  # in no split of `dila.data.textures`
BACKDROPS = ("plain", "noise", "clock", "cell")
MAX_SPEED = 3.0  # px per frame, each axis
MAX_SPIN = 0.1  # rad per frame
MAX_PAN = 2.5  # output px per frame, each axis
MARGIN = 12  # px between an object's centre and the frame's edge


@dataclass(frozen=True)
class DrawnClip:
    frames: np.ndarray  # uint8 `t h w 3`
    backdrop: np.ndarray | None  # uint8 `h w 3` behind the object (None: a pan)
    centres: np.ndarray | None  # float `t 2`, the object's (x, y) in pixels (None: a pan)
    kind: str  # "object on <backdrop>" or "pan over <photo>"


def backdrop(rng: np.random.Generator, kind: str) -> np.ndarray:
    if kind == "plain":
        return np.full((SIZE, SIZE, 3), rng.integers(20, 236, 3), np.uint8)
    if kind == "noise":
        noise = cv2.GaussianBlur(rng.uniform(0, 255, (SIZE, SIZE, 3)).astype(np.float32), (0, 0), rng.uniform(1, 4))
        noise = (noise - noise.mean()) / (noise.std() + 1e-6) * 40 + rng.uniform(60, 200, 3)
        return noise.clip(0, 255).astype(np.uint8)
    image = photo(kind)
    side = int(rng.integers(min(image.shape[:2]) // 3, min(image.shape[:2])))
    top, left = (int(rng.integers(0, n - side + 1)) for n in image.shape[:2])
    return cv2.resize(image[top : top + side, left : left + side], (SIZE, SIZE), interpolation=cv2.INTER_AREA)


def draw(background: np.ndarray, centre: np.ndarray, angle: float, shape: tuple, colour: tuple) -> np.ndarray:
    """`shape`: ("ellipse", half-width, half-height) or ("polygon", corners, radius), in pixels."""
    canvas = cv2.resize(background, (SIZE * SUPERSAMPLE,) * 2, interpolation=cv2.INTER_NEAREST)
    x, y = (centre + 0.5) * SUPERSAMPLE - 0.5
    if shape[0] == "ellipse":
        axes = (2 * shape[1] * SUPERSAMPLE, 2 * shape[2] * SUPERSAMPLE)
        cv2.ellipse(canvas, ((x, y), axes, float(np.degrees(angle))), colour, -1, cv2.LINE_AA)
    else:
        corners = angle + np.arange(shape[1]) * 2 * np.pi / shape[1]
        points = np.stack((x + shape[2] * SUPERSAMPLE * np.cos(corners), y + shape[2] * SUPERSAMPLE * np.sin(corners)), 1)
        cv2.fillPoly(canvas, [np.round(points * 16).astype(np.int32)], colour, cv2.LINE_AA, shift=4)
    return cv2.resize(canvas, (SIZE, SIZE), interpolation=cv2.INTER_AREA)


def object_clip(rng: np.random.Generator, kind: str, frames: int = 9) -> DrawnClip:
    """A shape moving at a constant velocity and spin over a backdrop of `kind` (`BACKDROPS`)."""
    background = backdrop(rng, kind)
    if rng.random() < 0.4:
        shape = ("ellipse", rng.uniform(5, 9), rng.uniform(3, 6))
    else:
        shape = ("polygon", int(rng.integers(3, 7)), rng.uniform(6, 10))
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    velocity, spin = rng.uniform(-MAX_SPEED, MAX_SPEED, 2), rng.uniform(-MAX_SPIN, MAX_SPIN)
    low = MARGIN + np.maximum(0, -velocity) * (frames - 1)
    high = SIZE - MARGIN - np.maximum(0, velocity) * (frames - 1)
    centres = rng.uniform(low, high) + velocity * np.arange(frames)[:, None]
    images = np.stack([draw(background, c, spin * t, shape, colour) for t, c in enumerate(centres)])
    return DrawnClip(images, background, centres, f"object on {kind}")


def pan_clip(rng: np.random.Generator, name: str, frames: int = 9) -> DrawnClip:
    """The view of a photo of `PHOTOS` panning at a constant velocity."""
    image = photo(name)
    side = int(rng.integers(min(image.shape[:2]) // 3, min(image.shape[:2]) // 2))
    zoom = SIZE / side
    velocity = rng.uniform(-MAX_PAN, MAX_PAN, 2) / zoom
    reach = np.abs(velocity) * frames
    left = rng.uniform(reach[0], image.shape[1] - side - reach[0])
    top = rng.uniform(reach[1], image.shape[0] - side - reach[1])
    views = []
    for t in range(frames):
        x, y = left + velocity[0] * t, top + velocity[1] * t
        view = np.array([[zoom, 0, -x * zoom], [0, zoom, -y * zoom]])
        views.append(cv2.warpAffine(image, view, (SIZE, SIZE), flags=cv2.INTER_AREA if zoom < 1 else cv2.INTER_LINEAR))
    return DrawnClip(np.stack(views), None, None, f"pan over {name}")


def drawn_clips(rng: np.random.Generator | int, objects: int = 24, pans: int = 8, frames: int = 9) -> list[DrawnClip]:
    """`objects` clips over each backdrop of `BACKDROPS`, then `pans` over each photo of `PHOTOS`."""
    rng = np.random.default_rng(rng)
    return ([object_clip(rng, kind, frames) for kind in BACKDROPS for _ in range(objects)]
            + [pan_clip(rng, name, frames) for name in PHOTOS for _ in range(pans)])

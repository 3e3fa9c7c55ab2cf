"""Procedural flat illustrations: backdrops whose large shapes, outlines and strokes stay still.

Photos give backdrops texture; an illustration gives them what photos rarely have: large flat regions
with hard, outlined edges and thin strokes, the things a model can mistake for the moving object.
"""

import cv2
import numpy as np

DRAWING = "drawing"
SHAPES_RANGE = (3, 8)
STROKES_RANGE = (0, 4)


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(0, 256, 3))


def _region(rng: np.random.Generator, side: int) -> np.ndarray:
    """The mask (uint8 `side side`) of one large shape: an ellipse, a polygon or a thick curve."""
    mask = np.zeros((side, side), np.uint8)
    centre = rng.uniform(0, side, 2)
    kind = rng.integers(3)
    if kind == 0:
        axes = rng.uniform(0.15, 0.6, 2) * side
        cv2.ellipse(mask, (int(centre[0]), int(centre[1])), (int(axes[0]), int(axes[1])),
                    float(rng.uniform(0, 180)), 0, 360, 255, -1, cv2.LINE_AA)
    elif kind == 1:
        points = centre + rng.uniform(-0.4, 0.4, (int(rng.integers(3, 8)), 2)) * side
        cv2.fillPoly(mask, [cv2.convexHull(points.astype(np.int32))], 255, cv2.LINE_AA)
    else:
        points = np.cumsum(rng.uniform(-0.3, 0.3, (5, 2)) * side, axis=0) + centre
        cv2.polylines(mask, [points.astype(np.int32)], False, 255, int(rng.uniform(0.05, 0.15) * side) + 1, cv2.LINE_AA)
    return mask


def drawing(rng: np.random.Generator, side: int) -> np.ndarray:
    """A random illustration, uint8 `side side 3`: outlined flat shapes over a flat colour, then strokes."""
    image = np.full((side, side, 3), _colour(rng), np.float32)
    outline_width = max(1, side // 48)
    for _ in range(int(rng.integers(*SHAPES_RANGE))):
        mask = _region(rng, side)
        alpha = mask[..., None].astype(np.float32) / 255
        image = image * (1 - alpha) + np.array(_colour(rng), np.float32) * alpha
        edges = cv2.morphologyEx(mask, cv2.MORPH_GRADIENT, np.ones((outline_width + 1,) * 2, np.uint8))
        edge = edges[..., None].astype(np.float32) / 255
        image = image * (1 - edge) + np.array(_colour(rng) if rng.random() < 0.3 else (20, 20, 20), np.float32) * edge
    canvas = np.ascontiguousarray(image.clip(0, 255).astype(np.uint8))
    for _ in range(int(rng.integers(*STROKES_RANGE))):
        steps = rng.uniform(-0.2, 0.2, (int(rng.integers(2, 5)), 2)) * side
        points = (rng.uniform(0, side, 2) + np.cumsum(steps, axis=0)).astype(np.int32)
        cv2.polylines(canvas, [points], False, (20, 20, 20), outline_width, cv2.LINE_AA)
    return canvas

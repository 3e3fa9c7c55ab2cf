"""Object silhouettes: unit polygons rasterised into anti-aliased alpha masks.

Every polygon is centred on its area centroid and scaled so its farthest vertex is at
radius 1, so an object's state (x, y) is its centroid and its size is its circumradius.
Coordinates are image-style: x right, y down.
"""

from functools import cache

import cv2
import numpy as np

SHAPES = {
    "train": ("square", "circle", "triangle", "star", "arrow", "hexagon"),
    "heldout": ("cross", "pentagon", "ell"),
}


def _regular(n: int) -> np.ndarray:
    angles = -np.pi / 2 + 2 * np.pi * np.arange(n) / n
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _star(points: int, inner: float) -> np.ndarray:
    radii = np.where(np.arange(2 * points) % 2 == 0, 1.0, inner)
    return _regular(2 * points) * radii[:, None]


_POLYGONS = {
    "square": [(-1, -1), (1, -1), (1, 1), (-1, 1)],
    "circle": _regular(64),
    "triangle": _regular(3),
    "star": _star(5, 0.45),
    "arrow": [(-1, -0.3), (0.2, -0.3), (0.2, -0.75), (1, 0), (0.2, 0.75), (0.2, 0.3), (-1, 0.3)],
    "hexagon": _regular(6),
    "cross": [(-0.3, -1), (0.3, -1), (0.3, -0.3), (1, -0.3), (1, 0.3), (0.3, 0.3),
              (0.3, 1), (-0.3, 1), (-0.3, 0.3), (-1, 0.3), (-1, -0.3), (-0.3, -0.3)],
    "pentagon": _regular(5),
    "ell": [(0, 0), (0.45, 0), (0.45, 1.1), (1, 1.1), (1, 1.5), (0, 1.5)],
}


def _centroid(poly: np.ndarray) -> np.ndarray:
    x, y = poly.T
    cross = x * np.roll(y, -1) - np.roll(x, -1) * y
    area = cross.sum() / 2
    return np.array([((x + np.roll(x, -1)) * cross).sum(), ((y + np.roll(y, -1)) * cross).sum()]) / (6 * area)


def unit_polygon(name: str) -> np.ndarray:
    """Vertices [n, 2] centred on the area centroid, circumradius 1."""
    poly = np.asarray(_POLYGONS[name], dtype=np.float64)
    poly = poly - _centroid(poly)
    return poly / np.linalg.norm(poly, axis=1).max()


@cache
def shape_mask(name: str, side: int, supersample: int = 8) -> np.ndarray:
    """Alpha mask float32 [side, side] in [0, 1]; circumradius (side - 2) / 2 around the centre.

    Drawn at `supersample` times the resolution and area-averaged: exact coverage, unbiased centroid.
    """
    centre, radius, shift = (side - 1) / 2, (side - 2) / 2, 4
    points = ((centre + radius * unit_polygon(name) + 0.5) * supersample - 0.5) * 2**shift
    fine = np.zeros((side * supersample, side * supersample), np.uint8)
    cv2.fillPoly(fine, [np.round(points).astype(np.int32)], 255, shift=shift)
    mask = cv2.resize(fine, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    mask.flags.writeable = False
    return mask

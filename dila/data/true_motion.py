"""Every pixel's true motion in a procedural clip: where each pixel of a frame was in the frame before.

A shift (x, y) at pixel p of frame t+1 says that p shows what frame t showed at p + shift, the convention
of `dila.modules.warp.follow` and `dila.block_motion.block_shifts`. In an object scene the pixels the
object covers at t+1 follow the object's similarity transform and every other pixel stays (the backdrop
never moves); in a camera scene every pixel follows the camera's pan and zoom.
"""

from itertools import pairwise

import numpy as np

from dila.data.procedural import Clip, Scene, object_alpha, object_radius

COVERED = 0.5  # the share of a pixel the object must cover for the pixel to move with it


def _pixel_grid(size: int) -> np.ndarray:
    """Pixel centres (x, y), float64 [size, size, 2]."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    return np.stack((xs, ys), axis=-1)


def _rotation(theta: float) -> np.ndarray:
    """The on-screen rotation `procedural._layer` draws with (counter-clockwise with y down)."""
    return np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])


def _object_source(points: np.ndarray, before: np.ndarray, after: np.ndarray, scene: Scene) -> np.ndarray:
    """Where `points` on the object at state `after` were at state `before`."""
    body = (points - after[:2]) @ _rotation(after[2]) / object_radius(scene, after)  # the object's own frame
    return before[:2] + object_radius(scene, before) * body @ _rotation(before[2]).T


def _camera_source(points: np.ndarray, before: np.ndarray, after: np.ndarray, size: int) -> np.ndarray:
    """Where the canvas under `points` in the view at state `after` was in the view at state `before`."""
    centre = (size - 1) / 2
    canvas = (points - centre) / after[3] + after[:2]
    return before[3] * (canvas - before[:2]) + centre


def true_motion(clip: Clip) -> np.ndarray:
    """The true per-pixel shifts from each frame to the next, float32 [t - 1, 2, size, size] (x, y), in pixels."""
    size = clip.scene.size
    points = _pixel_grid(size)
    states = clip.states.astype(np.float64)
    shifts = np.zeros((len(states) - 1, size, size, 2))
    for t, (before, after) in enumerate(pairwise(states)):
        if clip.scene.camera:
            shifts[t] = _camera_source(points, before, after, size) - points
        else:
            covered = object_alpha(clip.scene, after) >= COVERED
            shifts[t][covered] = _object_source(points[covered], before, after, clip.scene) - points[covered]
    return shifts.transpose(0, 3, 1, 2).astype(np.float32)

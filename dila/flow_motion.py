"""A transition's growth and turn from dense optical flow, for the readout term.

Block matching (`dila.block_motion`) moves whole 8-pixel cells by whole pixels: a turn of a few degrees
moves a cell's pixels by less than one, so its fitted growth and turn are mostly rounding (on the
procedural training clips, R^2 0.24 for rotation and 0.41 for scale against the true actions). Here the
flow is sub-pixel (OpenCV's Farneback), and the similarity that carries the pixels that moved is fitted
robustly (RANSAC, `cv2.estimateAffinePartial2D`), so the pixels around an object that the flow smooths
over do not pull the fit (R^2 0.58 and 0.62 on the same clips; `tests/test_flow_motion.py`). In the
units of `dila.block_motion.dominant_motion`: how far a point one cell from the centre moves outwards
(growth) and around (turn), in pixels,

    growth = (s cos a - 1) * patch,    turn = s sin a * patch,

for the fitted scale s and angle a (y down; `turn` along J (x, y) = (-y, x)). The flow's smoothing
understates a turn or growth by a fifth to a quarter, the same way every time (a scale a linear readout
absorbs). No labels: any video gives it.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

MOVING_PX = 0.5  # pixels whose flow is shorter are not fitted (the still backdrop)
MIN_PIXELS = 12  # fewer moving pixels: no motion
INLIER_PX = 0.5  # RANSAC's reprojection threshold
LUMA = torch.tensor([0.299, 0.587, 0.114])  # as cv2.COLOR_RGB2GRAY
FARNEBACK = {"pyr_scale": 0.5, "levels": 3, "winsize": 9, "iterations": 5, "poly_n": 5, "poly_sigma": 1.1, "flags": 0}


def growth_and_turn(previous: np.ndarray, following: np.ndarray, patch: int) -> tuple[float, float]:
    """Grey uint8 frames `H W` -> (growth, turn) of the content from the first to the second."""
    flow = cv2.calcOpticalFlowFarneback(previous, following, None, **FARNEBACK)
    moving = np.linalg.norm(flow, axis=-1) > MOVING_PX
    if moving.sum() < MIN_PIXELS:
        return 0.0, 0.0
    ys, xs = np.nonzero(moving)
    source = np.stack((xs, ys), axis=1).astype(np.float32)
    cv2.setRNGSeed(0)
    fitted, _ = cv2.estimateAffinePartial2D(source, source + flow[moving], method=cv2.RANSAC,
                                            ransacReprojThreshold=INLIER_PX)
    if fitted is None:
        return 0.0, 0.0
    (cosine, _, _), (sine, _, _) = fitted  # s cos a, s sin a
    return float((cosine - 1) * patch), float(sine * patch)


@torch.no_grad()
def flow_growth_and_turn(frames: torch.Tensor, patch: int) -> torch.Tensor:
    """Frames `b t c H W` in [0, 1] -> `b (t-1) 2`: each transition's (growth, turn)."""
    grey = torch.einsum("btchw,c->bthw", frames, LUMA.to(frames)) if frames.shape[2] == 3 else frames[:, :, 0]
    grey = (grey.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    motion = [[growth_and_turn(clip[t], clip[t + 1], patch) for t in range(len(clip) - 1)] for clip in grey]
    return torch.tensor(motion, dtype=frames.dtype, device=frames.device).reshape(len(grey), -1, 2)


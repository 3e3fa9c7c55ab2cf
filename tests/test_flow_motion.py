"""The readout's growth and turn from dense optical flow: a known similarity is read back in block-motion
units, still and flat frames give none, and on procedural clips it follows the true rotation and scale
further than block matching does."""
import math

import cv2
import numpy as np
import pytest
import torch

from dila.block_motion import block_shifts, dominant_motion
from dila.data.procedural import KINDS, sample_clip
from dila.evaluate import apparent_motion
from dila.flow_motion import flow_growth_and_turn, growth_and_turn
from dila.losses import readout_loss


def blob_scene(angle: float = 0.0, scale: float = 1.0, move: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """A grey 64x64 frame: a textured disc on a flat backdrop, turned by `angle` (radians, counter-clockwise
    on screen), scaled and moved about the frame's centre."""
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (64, 64)).astype(np.float32), (0, 0), 1.5)
    ys, xs = np.mgrid[0:64, 0:64]
    texture[(xs - 32) ** 2 + (ys - 32) ** 2 > 14**2] = 128
    # warpAffine maps output pixels back to the input: the inverse of the content's similarity
    forward = cv2.getRotationMatrix2D((32, 32), math.degrees(angle), scale)
    forward[:, 2] += move
    return cv2.warpAffine(texture, forward, (64, 64), borderValue=128).round().astype(np.uint8)


@pytest.mark.parametrize(("angle", "scale"), [(0.2, 1.0), (-0.15, 1.0), (0.05, 1.0), (0.0, 1.15), (0.1, 0.9)])
def test_a_known_turn_and_growth_are_read_in_block_units(angle, scale):
    growth, turn = growth_and_turn(blob_scene(), blob_scene(angle, scale), patch=8)
    # cv2's angle turns the content clockwise on screen, which is -angle along J (x, y) = (-y, x) with y down
    expected = (scale * math.cos(angle) - 1) * 8, -scale * math.sin(angle) * 8
    for got, want in zip((growth, turn), expected):
        if abs(want) < 0.2:
            assert abs(got) < 0.2
        else:  # the flow's smoothing understates a move a little, never overstates it
            assert 0.6 < got / want < 1.0, (got, want)


def test_a_move_alone_a_still_frame_and_a_flat_frame_give_no_turn_or_growth():
    growth, turn = growth_and_turn(blob_scene(), blob_scene(move=(2.0, -1.0)), patch=8)
    assert abs(growth) < 0.1 and abs(turn) < 0.1
    assert growth_and_turn(blob_scene(), blob_scene(), patch=8) == (0.0, 0.0)
    flat = np.full((64, 64), 90, np.uint8)
    assert growth_and_turn(flat, flat, patch=8) == (0.0, 0.0)


def test_clips_give_one_growth_and_turn_per_transition_the_same_every_time():
    frames = torch.tensor(np.stack([blob_scene(), blob_scene(0.2), blob_scene(0.4)]), dtype=torch.float32) / 255
    clip = frames[None, :, None].expand(2, 3, 3, 64, 64)  # grey as RGB, two clips
    motion = flow_growth_and_turn(clip, patch=8)
    assert motion.shape == (2, 2, 2)
    assert torch.equal(motion, flow_growth_and_turn(clip, patch=8))
    assert (motion[..., 1] < -1).all()  # both transitions turn the same way


def test_the_readout_reads_the_flow_turn_instead_of_the_blocks():
    actions = torch.zeros(1, 2, 8)
    shifts = torch.zeros(1, 2, 6, 6, 2)
    turn = torch.full((1, 2, 2), 0.5)
    assert readout_loss(actions, shifts)[0] == 0
    assert readout_loss(actions, shifts, turn=turn)[0] == pytest.approx(0.25 * 2 / 4)
    with pytest.raises(ValueError, match="part's and the whole's"):
        readout_loss(actions, shifts, whole=0.4, turn=turn)


def r_squared(estimate: np.ndarray, truth: np.ndarray) -> float:
    design = np.stack((estimate, np.ones_like(estimate)), axis=1)
    coef, *_ = np.linalg.lstsq(design, truth, rcond=None)
    return 1 - (truth - design @ coef).var() / truth.var()


def test_on_procedural_clips_the_flow_follows_rotation_and_scale_further_than_blocks():
    rng = np.random.default_rng(0)
    clips = [sample_clip(rng, "train", KINDS[i % len(KINDS)], frames=4) for i in range(100)]
    frames = torch.tensor(np.stack([c.frames for c in clips]), dtype=torch.float32).permute(0, 1, 4, 2, 3) / 255
    truth = np.concatenate([apparent_motion(c) for c in clips])  # dx, dy, rotation, log scale
    blocks = dominant_motion(block_shifts(frames, 8, 5)).reshape(-1, 4).numpy()
    flow = flow_growth_and_turn(frames, 8).reshape(-1, 2).numpy()
    rotation = r_squared(blocks[:, 3], truth[:, 2]), r_squared(flow[:, 1], truth[:, 2])
    scale = r_squared(blocks[:, 2], truth[:, 3]), r_squared(flow[:, 0], truth[:, 3])
    assert rotation[1] > 0.45 and rotation[1] > rotation[0] + 0.15, rotation
    assert scale[1] > 0.45 and scale[1] > scale[0] + 0.1, scale

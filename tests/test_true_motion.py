import numpy as np
import pytest
import torch

from dila.data.procedural import (
    KINDS,
    ProceduralVideoDataset,
    object_alpha,
    render_clip,
    sample_clip,
    sample_scene,
)
from dila.data.true_motion import true_motion
from dila.modules.warp import follow
from dila.train import make_dataset, parse_args


def moved_by_truth(clip) -> tuple[np.ndarray, np.ndarray]:
    """Each frame but the last moved by the true motion, and the frames it should give: float [t-1, H, W, 3]."""
    frames = torch.from_numpy(clip.frames).permute(0, 3, 1, 2).float() / 255
    motion = torch.from_numpy(true_motion(clip))
    moved = follow(frames[:-1], motion[:, 0], motion[:, 1])
    return moved.permute(0, 2, 3, 1).numpy(), frames[1:].permute(0, 2, 3, 1).numpy()


@pytest.mark.parametrize("kind", ["translate", "rotate", "scale", "compose"])
def test_the_object_moved_by_its_true_motion_is_the_next_frame(kind):
    rng = np.random.default_rng(5)
    moved_error, still_error = [], []
    for _ in range(4):
        clip = sample_clip(rng, "train", kind, 4, 64)
        moved, target = moved_by_truth(clip)
        for t in range(3):
            inside = object_alpha(clip.scene, clip.states[t + 1]) > 0.99
            moved_error.append(np.abs(moved[t] - target[t])[inside].mean())
            still_error.append(np.abs(clip.frames[t] / 255 - target[t])[inside].mean())
    assert np.mean(moved_error) < 0.02 and np.mean(moved_error) < 0.6 * np.mean(still_error)


def test_a_translated_object_reads_its_pixels_from_where_it_was_and_the_backdrop_stays():
    rng = np.random.default_rng(2)
    scene = sample_scene(rng, "train", 64)
    clip = render_clip(scene, np.array([[3.0, -2.0, 0.0, 0.0]], np.float32), "translate")
    motion = true_motion(clip)
    assert motion.shape == (1, 2, 64, 64) and motion.dtype == np.float32
    covered = object_alpha(scene, clip.states[1]) >= 0.5
    np.testing.assert_allclose(motion[0, :, covered].T, np.tile([[-3.0], [2.0]], covered.sum()), atol=1e-5)
    assert np.all(motion[0, :, ~covered] == 0)


def test_a_camera_move_moves_every_pixel_and_explains_the_next_view():
    rng = np.random.default_rng(4)
    clip = sample_clip(rng, "train", "camera", 4, 64)
    moved, target = moved_by_truth(clip)
    inner = (slice(None), slice(8, -8), slice(8, -8))  # what the view held before
    assert np.abs(moved - target)[inner].mean() < 0.25 * np.abs(clip.frames[:-1] / 255 - target)[inner].mean()
    pan = render_clip(sample_scene(rng, "train", 64, camera=True), np.array([[2.0, 1.0, 0.0, 0.0]], np.float32), "camera")
    zoom = pan.states[0, 3]  # one canvas pixel is `zoom` pixels of the view
    np.testing.assert_allclose(true_motion(pan)[0], np.broadcast_to(zoom * np.array([2.0, 1.0])[:, None, None], (2, 64, 64)),
                               atol=1e-4)


def test_the_dataset_carries_the_true_motion_only_when_asked():
    plain = ProceduralVideoDataset("train", num_clips=4, frames=3, size=32, kinds=KINDS)
    assert "motion" not in plain[0]
    item = ProceduralVideoDataset("train", num_clips=4, frames=3, size=32, kinds=KINDS, motion=True)[0]
    assert item["motion"].shape == (2, 2, 32, 32) and item["motion"].dtype == torch.float32
    torch.testing.assert_close(item["frames"], plain[0]["frames"])


def test_training_on_the_true_motion_needs_procedural_data_and_the_pick_term():
    args = parse_args(["--out", "unused", "--pick-truth", "--pick-weight", "5"])
    assert args.pick_truth and make_dataset(args, 32).motion
    assert not parse_args(["--out", "unused"]).pick_truth
    with pytest.raises(ValueError, match="give the term a --pick-weight"):
        make_dataset(parse_args(["--out", "unused", "--pick-truth"]), 32)
    with pytest.raises(ValueError, match="needs procedural data"):
        make_dataset(parse_args(["--out", "unused", "--pick-truth", "--pick-weight", "5", "--data", "videos"]), 32)

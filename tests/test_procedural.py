import time
from dataclasses import replace

import numpy as np
import pytest
import torch

from dila.data.drawings import DRAWING, drawing
from dila.data.procedural import (
    KINDS,
    NOISE,
    SPLITS,
    ProceduralVideoDataset,
    Scene,
    fits,
    render_clip,
    render_pair,
    sample_actions,
    sample_clip,
    sample_scene,
    sprite_levels,
    sprite_side,
)
from dila.data.shapes import SHAPES
from dila.data.textures import BACKGROUNDS, COLOURS, TEXTURES

BACKGROUND, FOREGROUND = 10, 250


def flat_scene(shape: str, start, size: int = 64) -> Scene:
    """A white shape over a near-black background, so alpha can be read back from pixels."""
    sprites = sprite_levels(np.full((sprite_side(size),) * 2 + (3,), FOREGROUND, np.uint8), shape)
    backdrop = np.full((size, size, 3), BACKGROUND, np.uint8)
    return Scene(size, backdrop, np.asarray(start, np.float64), sprites, shape, "white", "black")


def moments(frame: np.ndarray) -> tuple[float, float, float, float]:
    """Area, centroid x, centroid y and principal-axis angle (clockwise on screen) of the object."""
    alpha = (frame[..., 0].astype(np.float64) - BACKGROUND) / (FOREGROUND - BACKGROUND)
    ys, xs = np.mgrid[:frame.shape[0], :frame.shape[1]]
    area = alpha.sum()
    x, y = (alpha * xs).sum() / area, (alpha * ys).sum() / area
    mu20, mu02 = (alpha * (xs - x) ** 2).sum(), (alpha * (ys - y) ** 2).sum()
    mu11 = (alpha * (xs - x) * (ys - y)).sum()
    return area, x, y, 0.5 * np.arctan2(2 * mu11, mu20 - mu02)


def test_items_depend_only_on_seed_split_and_index():
    a, b = ProceduralVideoDataset("train", 10, seed=3), ProceduralVideoDataset("train", 10, seed=3)
    for index in (7, 0):
        for key in ("frames", "actions", "states", "kind"):
            assert torch.equal(a[index][key], b[index][key])
    assert not torch.equal(a[0]["frames"], a[1]["frames"])
    assert not torch.equal(a[0]["frames"], ProceduralVideoDataset("train", 10, seed=4)[0]["frames"])
    assert not torch.equal(a[0]["frames"], ProceduralVideoDataset("heldout", 10, seed=3)[0]["frames"])
    with pytest.raises(IndexError):
        a[10]


def test_item_shapes_and_types():
    item = ProceduralVideoDataset("heldout", 4, frames=6, size=80, kinds=("rotate",))[2]
    assert item["frames"].shape == (6, 3, 80, 80) and item["frames"].dtype == torch.float32
    assert 0 <= item["frames"].min() and item["frames"].max() <= 1 and item["frames"].std() > 0.01
    assert item["actions"].shape == (5, 4) and item["actions"].dtype == torch.float32
    assert item["states"].shape == (6, 4) and item["states"].dtype == torch.float32
    assert KINDS[item["kind"]] == "rotate"
    assert torch.all(item["actions"][:, [0, 1, 3]] == 0)


def test_clip_arrays():
    clip = sample_clip(np.random.default_rng(0), "train", "compose", frames=5, size=96)
    assert clip.frames.shape == (5, 96, 96, 3) and clip.frames.dtype == np.uint8
    assert clip.actions.shape == (4, 4) and clip.states.shape == (5, 4) and clip.kind == "compose"


def test_splits_use_disjoint_assets():
    for table in (SHAPES, TEXTURES, BACKGROUNDS, COLOURS):
        assert not set(table["train"]) & set(table["heldout"])
    photos = [set(TEXTURES[split]) | set(BACKGROUNDS[split]) for split in SPLITS]
    assert not photos[0] & photos[1]
    assert not set(TEXTURES["train"] + TEXTURES["heldout"]) & set(BACKGROUNDS["train"] + BACKGROUNDS["heldout"])
    rng = np.random.default_rng(0)
    for split in SPLITS:
        for i in range(40):
            scene = sample_scene(rng, split, camera=i % 4 == 0)
            assert scene.background in (*BACKGROUNDS[split], *COLOURS[split])
            if not scene.camera:
                assert scene.shape in SHAPES[split]
                assert scene.texture in (*TEXTURES[split], *COLOURS[split])


def test_translation_moves_the_centroid_by_the_recorded_action():
    scene = flat_scene("arrow", [32, 30, 0.5, 1.0])
    actions = sample_actions(np.random.default_rng(1), "translate", [scene], 7)
    clip = render_clip(scene, actions, "translate")
    centroids = np.array([moments(frame)[1:3] for frame in clip.frames])
    assert np.abs(actions[:, :2]).max() > 2
    np.testing.assert_allclose(np.diff(centroids, axis=0), actions[:, :2], atol=1)
    np.testing.assert_allclose(centroids, clip.states[:, :2], atol=0.5)


def test_rotation_and_scaling_match_the_recorded_state():
    scene = flat_scene("arrow", [32, 32, 0.2, 1.0])
    clip = render_clip(scene, np.array([[0, 0, 0.5, 0], [0, 0, 0, np.log(1.3)]], np.float32), "compose")
    np.testing.assert_allclose(clip.states[:, 2:], [[0.2, 1.0], [0.7, 1.0], [0.7, 1.3]], rtol=1e-6)
    (area0, *_, angle0), (area1, *_, angle1), (area2, *_) = map(moments, clip.frames)
    assert angle0 == pytest.approx(-0.2, abs=0.02) and angle1 == pytest.approx(-0.7, abs=0.02)
    assert area1 == pytest.approx(area0, rel=0.02)
    assert area2 / area1 == pytest.approx(1.3**2, rel=0.03)


def test_camera_pan_moves_the_content_the_other_way():
    scene = sample_scene(np.random.default_rng(2), "train", camera=True)
    scene = replace(scene, start=np.array([64.0, 64.0, 0.0, 1.0]))
    frames = render_clip(scene, np.array([[3, 0, 0, 0]], np.float32), "camera").frames
    np.testing.assert_array_equal(frames[1][:, :-3], frames[0][:, 3:])
    assert not np.array_equal(frames[1], frames[0])


@pytest.mark.parametrize("kind", KINDS)
def test_actions_are_bookkept_and_keep_everything_in_bounds(kind):
    rng = np.random.default_rng(3)
    moving_steps = 0
    for _ in range(15):
        clip = sample_clip(rng, "train", kind, frames=16)
        assert all(fits(clip.scene, state) for state in clip.states)
        np.testing.assert_allclose(np.diff(clip.states[:, :3], axis=0), clip.actions[:, :3], atol=1e-4)
        np.testing.assert_allclose(np.diff(np.log(clip.states[:, 3])), clip.actions[:, 3], atol=1e-5)
        moving_steps += np.count_nonzero(np.abs(clip.actions).sum(axis=1))
    assert moving_steps > 0.9 * 15 * 15


def test_objects_stay_fully_in_frame():
    rng = np.random.default_rng(4)
    for shape in SHAPES["train"] + SHAPES["heldout"]:
        scene = flat_scene(shape, [rng.uniform(20, 44), rng.uniform(20, 44), 0.0, 1.4])
        clip = render_clip(scene, sample_actions(rng, "compose", [scene], 30), "compose")
        for frame, (_, _, theta, scale) in zip(clip.frames, clip.states):
            centred = render_clip(replace(scene, start=[31.5, 31.5, theta, scale]), np.zeros((0, 4)), "compose")
            assert moments(frame)[0] == pytest.approx(moments(centred.frames[0])[0], rel=0.04)


@pytest.mark.parametrize("kind", ["compose", "camera"])
def test_pairs_share_actions_and_differ_in_appearance(kind):
    a, b = render_pair(7, "heldout", kind, frames=10)
    assert np.array_equal(a.actions, b.actions) and np.abs(a.actions).sum() > 0
    assert np.abs(a.frames.astype(int) - b.frames).mean() > 10
    for clip in (a, b):
        assert all(fits(clip.scene, state) for state in clip.states)
    again, _ = render_pair(7, "heldout", kind, frames=10)
    assert np.array_equal(a.frames, again.frames)


def test_kind_must_match_the_scene():
    scene = sample_scene(np.random.default_rng(0), camera=False)
    with pytest.raises(ValueError, match="camera"):
        sample_actions(np.random.default_rng(0), "camera", [scene], 3)


def test_renders_thousands_of_clips_per_minute():
    start = time.perf_counter()
    for i in range(200):
        sample_clip(np.random.default_rng(i), "train", KINDS[i % len(KINDS)], frames=8, size=64)
    assert time.perf_counter() - start < 8.0


def test_drawings_are_outlined_flat_illustrations_seen_only_in_training():
    first, again = (drawing(np.random.default_rng(3), 64) for _ in range(2))
    assert first.shape == (64, 64, 3) and first.dtype == np.uint8 and np.array_equal(first, again)
    assert len(np.unique(first.reshape(-1, 3), axis=0)) >= 4  # several flat regions
    assert (np.abs(np.diff(first.astype(int), axis=1)).sum(-1) > 100).mean() > 0.01  # with hard edges
    assert DRAWING in BACKGROUNDS["train"] and DRAWING not in BACKGROUNDS["heldout"]
    rng = np.random.default_rng(0)
    scenes = [sample_scene(rng, "train") for _ in range(120)]
    assert any(scene.background == DRAWING for scene in scenes)


def test_still_objects_are_painted_on_camera_canvases_and_pan_with_them():
    bare = sample_scene(np.random.default_rng(5), "train", camera=True)
    painted = sample_scene(np.random.default_rng(5), "train", camera=True, still_objects=1.0)
    assert painted.camera and painted.backdrop.shape == bare.backdrop.shape
    changed = (np.abs(painted.backdrop.astype(int) - bare.backdrop.astype(int)).sum(-1) > 30).mean()
    assert 0.02 < changed < 0.4  # a few object-sized regions, not the whole canvas
    scene = replace(painted, start=np.array([64.0, 64.0, 0.0, 1.0]))
    frames = render_clip(scene, np.array([[3, 0, 0, 0]], np.float32), "camera").frames
    np.testing.assert_array_equal(frames[1][:, :-3], frames[0][:, 3:])
    objects = sample_scene(np.random.default_rng(5), "train", still_objects=1.0)
    assert np.array_equal(objects.backdrop, sample_scene(np.random.default_rng(5), "train").backdrop)


def test_still_objects_leave_other_data_unchanged_and_are_a_probability():
    plain, some = (ProceduralVideoDataset("train", 20, frames=3, seed=1, still_objects=p) for p in (0.0, 0.5))
    kinds = [plain.clip(i).kind for i in range(20)]
    for i, kind in enumerate(kinds):
        if kind != "camera":
            assert np.array_equal(plain.clip(i).frames, some.clip(i).frames)
    with pytest.raises(ValueError, match="probability"):
        ProceduralVideoDataset("train", 4, still_objects=1.5)


def test_noise_backdrops_put_objects_over_colour_noise_and_leave_pans_alone():
    noisy = [sample_scene(np.random.default_rng(i), "train", noise_backdrops=1.0) for i in range(4)]
    assert all(scene.background == NOISE for scene in noisy)
    for scene in noisy:
        backdrop = scene.backdrop.astype(float)
        assert np.abs(np.diff(backdrop, axis=1)).mean() > 2  # busy, not flat
        assert (backdrop.reshape(-1, 3).std(0) > 5).all()  # every channel varies on its own
    means = np.array([s.backdrop.reshape(-1, 3).mean(0) for s in noisy])
    assert np.ptp(means, axis=0).max() > 20  # around different colours
    pan = sample_scene(np.random.default_rng(5), "train", camera=True, noise_backdrops=1.0)
    assert np.array_equal(pan.backdrop, sample_scene(np.random.default_rng(5), "train", camera=True).backdrop)
    clip = sample_clip(np.random.default_rng(2), "train", "translate", frames=3, noise_backdrops=1.0)
    assert clip.scene.background == NOISE and not np.array_equal(clip.frames[0], clip.frames[1])


def test_noise_backdrops_default_to_none_and_are_a_probability():
    plain = ProceduralVideoDataset("train", 6, frames=3, seed=2, noise_backdrops=0.0)
    default = ProceduralVideoDataset("train", 6, frames=3, seed=2)
    assert all(np.array_equal(plain.clip(i).frames, default.clip(i).frames) for i in range(6))
    some = ProceduralVideoDataset("train", 40, frames=2, seed=2, noise_backdrops=0.5)
    clips = [some.clip(i) for i in range(40)]
    backgrounds = [clip.scene.background for clip in clips if clip.kind != "camera"]
    assert 0.2 < np.mean([b == NOISE for b in backgrounds]) < 0.8
    with pytest.raises(ValueError, match="noise_backdrops is a probability"):
        ProceduralVideoDataset("train", 4, noise_backdrops=-0.1)

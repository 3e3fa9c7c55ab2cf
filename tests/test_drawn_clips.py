"""Clips drawn apart from the training generator, and the check that scores a model on them."""
from itertools import pairwise

import cv2
import numpy as np
import pytest

from dila.data.drawn import (
    BACKDROPS,
    MARGIN,
    PHOTOS,
    SIZE,
    drawn_clips,
    object_clip,
    pan_clip,
)
from dila.data.textures import BACKGROUNDS, TEXTURES
from dila.drawn_clips import fitted_line, score_kind, shown_share
from dila.pipeline import Pipeline
from dila.planning import locate_object


def test_no_photo_of_the_training_generator_is_drawn():
    used = {name for split in (*TEXTURES.values(), *BACKGROUNDS.values()) for name in split}
    assert not used & set(PHOTOS) and not used & set(BACKDROPS)


@pytest.mark.parametrize("kind", BACKDROPS)
def test_an_object_moves_as_its_centres_say_and_stays_in_the_frame(kind):
    clip = object_clip(np.random.default_rng(3), kind)
    assert clip.frames.shape == (9, SIZE, SIZE, 3) and clip.frames.dtype == np.uint8
    steps = np.diff(clip.centres, axis=0)
    assert np.allclose(steps, steps[0])  # a constant velocity
    assert (clip.centres >= MARGIN - 1e-9).all() and (clip.centres <= SIZE - MARGIN + 1e-9).all()
    located = np.array([locate_object(f, clip.backdrop) for f in clip.frames])
    assert np.abs(np.diff(located, axis=0) - steps).max() < 0.75


def test_a_pan_moves_the_whole_view_at_one_speed():
    clip = pan_clip(np.random.default_rng(3), "clock")
    grey = clip.frames.mean(-1).astype(np.float64)
    steps = np.array([cv2.phaseCorrelate(a, b)[0] for a, b in pairwise(grey)])
    median = np.median(steps, axis=0)
    assert np.hypot(*median) > 0.5 and np.abs(steps - median).max() < 0.7


def test_the_clips_are_the_same_for_a_seed():
    first, again = drawn_clips(5, objects=1, pans=1), drawn_clips(5, objects=1, pans=1)
    assert [c.kind for c in first] == [f"object on {k}" for k in BACKDROPS] + [f"pan over {p}" for p in PHOTOS]
    assert all(np.array_equal(a.frames, b.frames) for a, b in zip(first, again))


def test_the_share_shown_is_one_for_the_true_frames_and_zero_for_copies():
    clip = object_clip(np.random.default_rng(2), "plain")  # 3.3 px a frame
    assert np.median(shown_share(clip, clip.frames[1:])) == pytest.approx(1.0, abs=0.1)
    assert np.median(shown_share(clip, clip.frames[:-1])) == pytest.approx(0.0, abs=0.05)


def test_a_line_fitted_to_a_line():
    x = np.arange(10.0)
    assert fitted_line(x, 0.5 * x + 1) == pytest.approx((0.5, 1.0))


def test_the_bundled_model_is_scored_on_objects_and_pans():
    pipeline = Pipeline.from_pretrained()
    clips = drawn_clips(0, objects=2, pans=1)
    objects = score_kind(pipeline, [c for c in clips if c.kind == "object on plain"])
    pans = score_kind(pipeline, [c for c in clips if c.kind == "pan over cell"])
    assert objects["clips"] == 2 and set(objects["action_move"]) == {"x", "y"}
    assert objects["one_step_psnr"] > objects["copy_last_psnr"]  # on a flat backdrop it moves the object
    assert "share_shown" not in pans and np.isfinite(pans["rollout_psnr"])

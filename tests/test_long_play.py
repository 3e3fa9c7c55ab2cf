"""The long-play measure: Play's keys held in turn for many steps, frames held against real ones."""
import numpy as np
import pytest
import torch

from dila.codecs.light import LightCodec, LightCodecConfig
from dila.data.procedural import sample_clip
from dila.long_play import (
    held_keys,
    long_play,
    play_keys,
    round_trip,
    sharpness,
    strip,
    there_and_back,
)
from dila.metrics import MAX_PSNR
from dila.pipeline import Pipeline

pytestmark = pytest.mark.usefixtures("one_thread")


def test_sharpness_is_zero_for_a_flat_frame_and_falls_with_blur():
    rng = np.random.default_rng(0)
    sharp = rng.integers(0, 256, (2, 16, 16, 3)).astype(np.uint8)
    blurred = ((sharp.astype(float) + np.roll(sharp, 1, axis=1) + np.roll(sharp, 1, axis=2)) / 3).astype(np.uint8)
    assert sharpness(np.full((16, 16, 3), 90, np.uint8)) == 0
    assert sharpness(sharp).shape == (2,)
    assert (sharpness(blurred) < 0.8 * sharpness(sharp)).all()
    edge = np.zeros((4, 4, 3), np.uint8)
    edge[:, 2:] = 30
    assert sharpness(edge) == pytest.approx(30 * 3 / 9)


def test_keys_are_cluster_centres_held_in_turn():
    actions = np.concatenate([np.full((5, 2), -1.0), np.full((5, 2), 1.0)]) + np.random.default_rng(0).normal(0, 0.01, (10, 2))
    centres = play_keys(actions, keys=2)
    assert sorted(np.round(centres[:, 0]).tolist()) == [-1.0, 1.0]
    assert play_keys(np.zeros((4, 2)), keys=6).shape == (1, 2)
    sequence = held_keys(np.array([[0.0], [1.0], [2.0]]), steps=7, hold=3, first=1)
    assert sequence[:, 0].tolist() == [1, 1, 1, 2, 2, 2, 0]


def test_long_play_scores_each_checkpoint_and_keeps_its_frames(tiny_model):
    torch.manual_seed(0)
    pipeline = Pipeline(tiny_model, LightCodec(LightCodecConfig(image_size=32, grid_size=8, latent_dim=32)).eval())
    clips = [sample_clip(np.random.default_rng(i), "heldout", "translate", 4, 32).frames for i in range(2)]
    centres = play_keys(np.random.default_rng(0).normal(size=(12, tiny_model.config.action_dim)), keys=3)
    scores, frames = long_play(pipeline, clips, centres, steps=12, hold=4)
    assert frames.shape == (2, 2, 32, 32, 3)
    assert np.array_equal(frames[:, 0], np.stack([c[0] for c in clips]))
    assert set(scores["sharpness"]) == set(scores["colour_distance"]) == {"0", "10"}
    assert scores["colour_distance"]["0"] < 0.3 and scores["keys"] == 3
    image = strip(frames)
    assert image.shape == (66, 66, 3) and np.array_equal(image[34:, 34:], frames[1, 1])


def test_there_and_back_holds_each_key_then_its_opposite():
    sequence = there_and_back(np.array([[1.0], [2.0]]), steps=8, hold=4, first=1)
    assert sequence[:, 0].tolist() == [2, 2, -2, -2, 1, 1, -1, -1]


class Rolling:
    """A pipeline whose action's first coordinate moves the whole frame by that many pixels (np.roll):
    every move undone by its opposite."""

    def rollout(self, context: np.ndarray, actions: np.ndarray) -> np.ndarray:
        shifts = np.cumsum(np.round(actions[:, 0]).astype(int))
        return np.stack([np.roll(context[-1], s, axis=1) for s in shifts])


def test_a_round_trip_comes_home_when_moves_undo_and_scores_each_return():
    rng = np.random.default_rng(0)
    clips = [rng.integers(0, 256, (3, 16, 16, 3)).astype(np.uint8) for _ in range(2)]
    scores, frames = round_trip(Rolling(), clips, np.array([[2.0], [-1.0]]), steps=12, hold=6)
    assert scores["return_psnr"] == {"6": MAX_PSNR, "12": MAX_PSNR}
    assert set(scores["away_psnr"]) == {"3", "9"} and max(scores["away_psnr"].values()) < 15
    assert frames.shape == (2, 6, 16, 16, 3)
    assert np.array_equal(frames[0, 1], np.roll(clips[0][0], 6, axis=1))  # key 0 held 3 steps: 6 px
    assert np.array_equal(frames[1, 1], np.roll(clips[1][0], -3, axis=1))  # clip 1 starts with key 1
    with pytest.raises(ValueError, match="round trip"):
        round_trip(Rolling(), clips, np.ones((1, 1)), steps=4, hold=6)

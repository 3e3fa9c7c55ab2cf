"""The pixel-level operations, with an exact patch codec so that only the world model is tested."""
import numpy as np
import pytest
import torch
from einops import rearrange
from helpers import PatchCodec, free_port, shifting_model

from dila import DiLAConfig, DiLAWorldModel
from dila.pipeline import Pipeline

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def pipeline(tiny_config):
    torch.manual_seed(0)
    cfg = DiLAConfig(**{**tiny_config.to_dict(), "embed_dim": 48})
    return Pipeline(DiLAWorldModel(cfg), PatchCodec())


@pytest.fixture
def clip():
    return np.random.default_rng(0).integers(0, 256, size=(5, 16, 16, 3), dtype=np.uint8)


def test_codec_round_trip_is_lossless(pipeline, clip):
    assert np.array_equal(pipeline.detokenize(pipeline.tokenize(clip)), clip)


def test_encode_clip(pipeline, clip):
    enc = pipeline.encode_clip(clip)
    assert enc.actions.shape == (4, 8) and enc.actions.dtype == np.float32
    assert enc.structure.shape == (1, 5, 4, 4, 4)
    with pytest.raises(ValueError, match="at least 2 frames"):
        pipeline.encode_clip(clip[:1])


def test_rollout_matches_the_token_level_model(pipeline, clip):
    actions = pipeline.encode_clip(clip).actions
    frames = pipeline.rollout(clip[:1], actions)
    assert frames.shape == (4, 16, 16, 3) and frames.dtype == np.uint8
    tokens, _ = pipeline.model.rollout(pipeline.tokenize(clip[:1]), torch.from_numpy(actions)[None])
    assert np.array_equal(frames, pipeline.detokenize(tokens))


def test_preview_then_step_agree_and_step_advances(pipeline, clip):
    state = pipeline.start(clip[:2])
    action = pipeline.encode_clip(clip).actions[1]
    preview = pipeline.preview(state, action)
    frame, next_state = pipeline.step(state, action)
    assert np.array_equal(preview, frame)
    assert not torch.equal(next_state.structure, state.structure)
    assert np.array_equal(pipeline.rollout(clip[:2], action[None])[0], frame)


def test_predict_next_is_the_token_level_one_step(pipeline, clip):
    expected = pipeline.detokenize(pipeline.model.one_step(pipeline.tokenize(clip)))
    assert np.array_equal(pipeline.predict_next(clip), expected)


def test_preview_depends_on_the_action(pipeline, clip):
    state = pipeline.start(clip[:1])
    a = np.zeros(8, np.float32)
    assert not np.array_equal(pipeline.preview(state, a), pipeline.preview(state, a + 3))


def test_transfer_uses_motion_of_one_and_first_frame_of_other(pipeline, clip):
    other = clip[::-1].copy()
    out = pipeline.transfer(clip, other)
    assert out.shape == (4, 16, 16, 3)
    expected = pipeline.rollout(other[:1], pipeline.encode_clip(clip).actions)
    assert np.array_equal(out, expected)
    assert not np.array_equal(pipeline.transfer(clip, other, scale=0.0), out)


class CoarseCodec(PatchCodec):
    """Loses detail: decodes to 16 grey levels."""

    def decode(self, latents):
        return super().decode(latents).mul(15).round().div(15)


def test_generated_frames_keep_what_the_codec_lost_of_the_observed_frame(tiny_config, clip):
    torch.manual_seed(0)
    config = DiLAConfig(**{**tiny_config.to_dict(), "embed_dim": 48, "residual_decoder": True})
    pipeline = Pipeline(DiLAWorldModel(config), CoarseCodec())
    decoded = pipeline.detokenize(pipeline.tokenize(clip[:2]))[1]
    assert not np.array_equal(decoded, clip[1])
    action = np.zeros(config.action_dim, np.float32)
    state = pipeline.start(clip[:2])
    assert np.array_equal(pipeline.preview(state, action), clip[1])  # a new residual decoder changes nothing
    assert np.array_equal(pipeline.step(state, action)[0], clip[1])
    assert np.array_equal(pipeline.rollout(clip[:2], action[None].repeat(3, 0)), clip[[1, 1, 1]])
    assert np.array_equal(pipeline.predict_next(clip), clip[:-1])
    plain = pipeline.without_detail()
    assert np.array_equal(plain.preview(plain.start(clip[:2]), action), decoded)
    assert pipeline.keep_detail


def test_a_warping_decoder_is_shown_in_pixels_the_last_frame_moved(tiny_config, clip):
    patch = PatchCodec()
    pixel_of_token = torch.arange(48).reshape(3, 4, 4).permute(1, 2, 0).flatten()  # (c p q) token -> (p q c) pixel
    model = shifting_model(tiny_config, 4, to_pixels=torch.eye(48)[pixel_of_token])
    assert not Pipeline(model, patch).renders_pixels and Pipeline(model, patch).render == "tokens"
    model.config.render = "pixels"  # the model's own choice is the default
    pipeline = Pipeline(model, patch)
    assert pipeline.renders_pixels and not pipeline.without_detail().renders_pixels
    with pytest.raises(ValueError, match="render must be one of"):
        Pipeline(model, patch, render="splat")
    right = lambda frame, k: np.concatenate((np.repeat(frame[:, :1], k, axis=1), frame[:, :-k]), axis=1)
    action = np.zeros(pipeline.model.config.action_dim, np.float32)
    state = pipeline.start(clip[:2])
    assert np.array_equal(pipeline.preview(state, action), right(clip[1], 2))
    frame, state = pipeline.step(state, action)
    assert np.array_equal(frame, right(clip[1], 2))
    assert np.array_equal(pipeline.detokenize(rearrange(state.last_frame, "1 t h w d -> 1 t d h w"))[0], frame)
    assert np.array_equal(pipeline.step(state, action)[0], right(clip[1], 4))
    assert np.array_equal(pipeline.rollout(clip[:2], np.stack([action] * 3)), [right(clip[1], k) for k in (2, 4, 6)])
    assert np.array_equal(pipeline.predict_next(clip), [right(f, 2) for f in clip[:-1]])
    larger = np.repeat(np.repeat(clip, 2, axis=1), 2, axis=2)  # frames at another size: tokens, decoded
    assert pipeline.start(larger[:1]).shown is None


def test_a_warping_decoder_rebinds_frame_by_frame_moving_the_content(tiny_config, clip):
    pixel_of_token = torch.arange(48).reshape(3, 4, 4).permute(1, 2, 0).flatten()
    pipeline = Pipeline(shifting_model(tiny_config, 4, to_pixels=torch.eye(48)[pixel_of_token]), PatchCodec())
    right = lambda frame, k: np.concatenate((np.repeat(frame[:, :1], k, axis=1), frame[:, :-k]), axis=1)
    other = np.random.default_rng(1).integers(0, 256, size=(4, 16, 16, 3), dtype=np.uint8)
    assert np.array_equal(pipeline.rebind(clip[:4], other), [other[0]] + [right(other[0], 2 * t) for t in (1, 2, 3)])


def test_rebind_shapes_and_dependence(pipeline, clip):
    other = np.random.default_rng(1).integers(0, 256, size=(3, 16, 16, 3), dtype=np.uint8)
    out = pipeline.rebind(clip, other)
    assert out.shape == (5, 16, 16, 3)
    assert not np.array_equal(out, pipeline.rebind(clip, clip))


def test_bad_inputs(pipeline, clip):
    with pytest.raises(ValueError, match="t h w 3"):
        pipeline.tokenize(clip[..., 0])
    with pytest.raises(ValueError, match="actions of shape"):
        pipeline.rollout(clip[:1], np.zeros((2, 5)))


def test_codec_must_fit_the_model(tiny_model):
    with pytest.raises(ValueError, match="48-d tokens"):
        Pipeline(tiny_model, PatchCodec())


@pytest.fixture(scope="module")
def rae_codec(fixtures):
    from dila.codecs.rae import RAECodec

    parts = torch.load(fixtures / "rae_tiny.pt", weights_only=True)
    keys = ("encoder_config", "encoder_state_dict", "decoder_config", "decoder_state_dict", "stats", "image_mean", "image_std",
            "encoder_input_size")
    return RAECodec.from_parts(*(parts[k] for k in keys))


def test_published_codec_path(rae_codec, tiny_model):
    """The published family at tiny size: RAE tokens (32-d, 8x8) through a world model."""
    pipeline = Pipeline(tiny_model, rae_codec)
    clip = np.random.default_rng(2).integers(0, 256, size=(3, 40, 40, 3), dtype=np.uint8)
    enc = pipeline.encode_clip(clip)
    assert enc.tokens.shape == (1, 3, 32, 8, 8) and enc.actions.shape == (2, 8)
    assert pipeline.rollout(clip[:1], enc.actions).shape == (2, 32, 32, 3)


def test_published_codec_fails_fast_when_the_hub_is_unreachable(tmp_path, monkeypatch):
    import time

    from dila.codecs import load_codec
    from dila.codecs.rae import CodecLoadError

    port = free_port()
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    start = time.perf_counter()
    with pytest.raises(CodecLoadError, match="Download it first"):
        load_codec("rae")
    assert time.perf_counter() - start < 5.0

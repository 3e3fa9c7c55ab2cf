import json
import math
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from dila.codecs.light import LightCodec, LightCodecConfig
from dila.data.procedural import render_clip, render_pair, sample_clip, sample_scene
from dila.evaluate import (
    apparent_motion,
    detokenize_clips,
    disentanglement_scores,
    linear_probe,
    main,
    planning_summary,
    predict_clips,
    prediction_fidelity,
    probe_direction,
    rendered_shifts,
    reversal_cosines,
    rows,
    run_disentanglement,
    run_transfer,
    slider_scores,
    table,
    to_json,
    tokenize_clips,
    transfer_scores,
)
from dila.hub import save_world_model
from dila.metrics import MAX_PSNR
from dila.pipeline import Pipeline
from dila.planning import TaskResult

SECTIONS = {"settings", "prediction", "transfer", "interpretability", "slider", "disentanglement", "planning", "long_play"}


def db(error: float) -> float:
    return 10 * math.log10(255**2 / error**2)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def codec():
    torch.manual_seed(0)
    return LightCodec(LightCodecConfig(image_size=32, grid_size=8, latent_dim=32)).eval()


@pytest.fixture
def pipeline(tiny_model, codec):
    return Pipeline(tiny_model, codec)


@pytest.fixture
def clips():
    return np.stack([sample_clip(np.random.default_rng(i), "heldout", kind, 4, 32).frames
                     for i, kind in enumerate(("compose", "camera", "translate"))])


def flat_clip(values) -> np.ndarray:
    return np.stack([np.full((8, 8, 3), v, np.uint8) for v in values])[None]


def test_prediction_fidelity_known_values():
    frames = flat_clip([100, 110, 120, 130])
    predicted = frames[:, 1:] + 5
    out = prediction_fidelity(frames, frames, frames[:, 1:], predicted, frames[:, :-1], frames[:, 1:])
    assert out["codec"] == {"psnr": MAX_PSNR, "pooled_psnr": MAX_PSNR, "ssim": pytest.approx(1.0)}
    assert out["one_step"]["psnr"] == MAX_PSNR and out["rollout_decoded"]["psnr"] == MAX_PSNR
    assert out["one_step_decoded"]["psnr"] == pytest.approx(db(10))
    assert out["copy_last"]["psnr"] == pytest.approx(db(10))
    assert out["rollout"]["psnr"] == pytest.approx(db(5))
    assert out["copy_first"]["psnr"] == pytest.approx(np.mean([db(10), db(20), db(30)]))
    assert out["copy_first"]["pooled_psnr"] == pytest.approx(db(np.sqrt((10**2 + 20**2 + 30**2) / 3)))
    assert out["rollout_psnr_per_step"] == pytest.approx([db(5)] * 3)


def test_transfer_scores():
    target = flat_clip([50, 60, 70]).repeat(2, axis=0)
    actions = np.random.default_rng(0).normal(size=(2, 2, 4))
    out = transfer_scores(target, target[:, 1:], target[:, :-1], actions, actions)
    assert out["model"]["psnr"] == MAX_PSNR and out["cycle_cosine"] == pytest.approx(1)
    assert out["model_decoded"]["psnr"] == pytest.approx(db(10))
    assert out["copy_first"]["psnr"] == pytest.approx(np.mean([db(10), db(20)]))
    assert transfer_scores(target, target[:, 1:], target[:, 1:], actions, -actions)["cycle_cosine"] == pytest.approx(-1)
    swapped = transfer_scores(target, target[:, 1:], target[:, 1:], actions, actions[::-1])
    assert swapped["cycle_cosine_unrelated"] == pytest.approx(1)


def test_linear_probe():
    rng = np.random.default_rng(0)
    true = rng.normal(size=(600, 4))
    latent = true @ rng.normal(size=(4, 16)) + 0.01 * rng.normal(size=(600, 16))
    good = linear_probe(latent[:400], true[:400], latent[400:], true[400:])
    assert set(good) == {"dx", "dy", "rotation", "log_scale", "mean"}
    assert min(good.values()) > 0.99
    noise = rng.normal(size=(600, 16))
    bad = linear_probe(noise[:400], true[:400], noise[400:], true[400:])
    assert max(bad.values()) < 0.1


def test_probe_direction_points_where_the_component_grows():
    rng = np.random.default_rng(0)
    mixing = np.linalg.qr(rng.normal(size=(8, 8)))[0]
    true = rng.normal(size=(5000, 4)) * [3.0, 1.0, 0.2, 0.1]
    latent = np.concatenate((true, rng.normal(size=(5000, 4))), axis=1) @ mixing
    direction = probe_direction(latent, true, "dx")
    assert np.isclose(np.linalg.norm(direction), 1.0)
    assert direction @ mixing[0] > 0.99
    assert abs(probe_direction(latent, true, "dy") @ mixing[0]) < 0.1


def test_probe_direction_is_the_pattern_not_the_filter():
    """x1 = dx + d, x2 = d: the probe reads dx as x1 - x2, but the actions move along x1 alone as dx grows."""
    rng = np.random.default_rng(0)
    dx, distractor = rng.normal(size=(2, 2000))
    latent = np.stack((dx + distractor, distractor), axis=1)
    true = np.stack((dx, *rng.normal(size=(3, 2000))), axis=1)
    np.testing.assert_allclose(probe_direction(latent, true, "dx"), [1, 0], atol=0.05)


def test_slider_scores_need_both_signs_to_move_the_right_way():
    shifts = np.array([[-2.5, 3.0], [-3.0, 1.0], [1.0, 3.0], [np.nan, 4.0]])
    out = slider_scores(shifts, min_shift=2.0)
    assert out["success_rate"] == 0.25 and out["located"] == 0.75 and out["starts"] == 4
    assert out["median_shift_plus_px"] == 3.0 and out["median_shift_minus_px"] == -2.5


def test_rendered_shift_is_how_far_the_object_itself_moved():
    clip = sample_clip(np.random.default_rng(4), "heldout", "translate", frames=2)
    still = np.zeros((0, 4), np.float32)
    moved = lambda dx: render_clip(replace(clip.scene, start=clip.states[0] + np.array([dx, 0, 0, 0])), still,
                                   "translate").frames[0]
    half_way = ((moved(3.0).astype(int) + clip.frames[0]) // 2).astype(np.uint8)  # a ghost: not a move of 3
    still_frame, right, left, ghost = rendered_shifts([clip.frames[0], moved(2.5), moved(-4.0), half_way], clip)
    assert still_frame == 0.0 and right == 2.5 and left == -4.0
    assert abs(ghost) < 3.0
    second = rendered_shifts([clip.frames[1]], clip, index=1)[0]
    assert second == 0.0 and rendered_shifts([clip.frames[1]], clip)[0] != 0.0  # measured from that frame's scene


def test_disentanglement_scores():
    structure, content = flat_clip([200, 210, 220]), flat_clip([20, 30, 40])
    actions = np.random.default_rng(0).normal(size=(1, 2, 4))
    out = disentanglement_scores(structure, content, content, actions, -actions, actions)
    assert out["motion_cosine"] == pytest.approx(1) and out["motion_cosine_unrelated"] == pytest.approx(-1)
    assert out["colour_distance_to_content"] == 0 and out["colour_distance_to_structure"] == pytest.approx(1)
    assert out["appearance_moved"] == 1
    kept = disentanglement_scores(structure, content, structure, actions, -actions, -actions)
    assert kept["appearance_moved"] == 0 and kept["motion_cosine"] == pytest.approx(-1)


def test_planning_summary():
    results = [TaskResult(True, 1.0, 5.0, 0.5, 0.1), TaskResult(False, 7.0, 2.0, 1.5, 0.2),
               TaskResult(False, math.nan, 6.0, 0.5, 0.3)]
    out = planning_summary(results, 3.0)
    assert out["tasks"] == 3 and out["success_rate"] == pytest.approx(1 / 3)
    assert out["do_nothing_success_rate"] == pytest.approx(1 / 3)
    assert out["median_error_px"] == 4.0 and out["do_nothing_median_error_px"] == 5.0
    assert out["locator_error_px"] == pytest.approx(2.5 / 3)


def test_apparent_motion():
    clip = sample_clip(np.random.default_rng(0), "heldout", "compose", 3, 32)
    assert np.array_equal(apparent_motion(clip), clip.actions)
    scene = sample_scene(np.random.default_rng(0), "heldout", 32, camera=True)
    camera = render_clip(scene, np.array([[2.0, -1.0, 0.0, 0.1]]), "camera")
    zoom = scene.start[3]
    np.testing.assert_allclose(apparent_motion(camera), [[-2 * zoom, zoom, 0.0, 0.1]], rtol=1e-6)


def test_reversal_cosines(tiny_model):
    odd = SimpleNamespace(inverse_model=lambda prev, nxt: (nxt - prev).flatten(2))
    structure = torch.randn(2, 5, 3, 3, 4)
    assert torch.allclose(reversal_cosines(odd, structure), -torch.ones(2, 4))
    with torch.no_grad():
        cosines = reversal_cosines(tiny_model, structure)
    assert cosines.shape == (2, 4) and cosines.abs().max() <= 1 + 1e-6


def test_batched_codec_helpers(pipeline, clips):
    tokens = tokenize_clips(pipeline, clips)
    assert tokens.shape == (3, 4, 32, 8, 8)
    assert torch.allclose(tokens[1], pipeline.tokenize(clips[1])[0], atol=1e-5)
    assert detokenize_clips(pipeline, tokens).shape == clips.shape


def test_predict_clips_matches_the_pipeline(pipeline, clips):
    out = predict_clips(pipeline, clips)
    assert out["codec"].shape == clips.shape
    assert out["one_step"].shape == out["rollout"].shape == (3, 3, 32, 32, 3)
    assert out["actions"].shape == (3, 3, 8) and out["reversal"].shape == (3, 3)
    np.testing.assert_allclose(out["actions"][2], pipeline.encode_clip(clips[2]).actions, atol=1e-4)
    rolled = pipeline.rollout(clips[2, :1], pipeline.encode_clip(clips[2]).actions)
    assert np.abs(out["rollout"][2].astype(int) - rolled).max() <= 1


def test_transfer_and_disentanglement_runs(pipeline, clips):
    pairs = [render_pair(i, "heldout", kind, 4, 32) for i, kind in enumerate(("translate", "camera"))]
    transfer = run_transfer(pipeline, pairs)
    assert transfer["model"]["psnr"] < MAX_PSNR and -1 <= transfer["cycle_cosine"] <= 1
    actions = predict_clips(pipeline, clips)["actions"]
    out = run_disentanglement(pipeline, clips, actions)
    assert 0 <= out["appearance_moved"] <= 1 and -1 <= out["motion_cosine"] <= 1
    assert 0 < out["colour_distance_to_content"] <= 1


def test_report_formats():
    results = {"a": {"b": 1.23456, "c": {"d": math.nan}}, "e": [1.0, 2.0], "f": 3}
    assert rows(results) == [("a.b", 1.23456), ("a.c.d", results["a"]["c"]["d"]), ("e", [1.0, 2.0]), ("f", 3)]
    assert table(results).splitlines() == ["a.b    1.235", "a.c.d  n/a", "e      1.000 2.000", "f      3"]
    assert json.loads(to_json(results))["a"]["c"]["d"] is None


def test_cli_quick_writes_every_section(tmp_path, tiny_model, codec, capsys):
    save_world_model(tiny_model, tmp_path / "model")
    codec.save_pretrained(tmp_path / "model" / "codec")
    out = tmp_path / "eval.json"
    main(["--model", str(tmp_path / "model"), "--quick", "--out", str(out)])
    results = json.loads(out.read_text())
    assert set(results) == SECTIONS
    assert results["settings"]["clips"] == 4 and results["settings"]["image_size"] == 32
    assert set(results["prediction"]) >= {"codec", "one_step", "copy_last", "rollout", "copy_first"}
    assert len(results["prediction"]["rollout_psnr_per_step"]) == 4
    assert set(results["interpretability"]["probe_r2"]) == {"dx", "dy", "rotation", "log_scale", "mean"}
    assert results["planning"]["tasks"] == 2 and 0 <= results["planning"]["success_rate"] <= 1
    assert results["settings"]["plan"] == {"samples": 16, "iterations": 2, "cost": "tokens"}
    assert results["slider"]["min_shift_px"] == 2.0 and 0 <= results["slider"]["success_rate"] <= 1
    assert 0 <= results["slider"]["object_move"]["success_rate"] <= 1
    assert results["slider"]["after_a_frame"]["starts"] == results["slider"]["starts"]
    assert 0 < results["prediction"]["codec"]["psnr"] < MAX_PSNR
    assert results["long_play"]["steps"] == 10 and set(results["long_play"]["sharpness"]) == {"0", "10"}
    assert results["long_play"]["sharpness"]["0"] == pytest.approx(1.0, abs=0.5)
    assert set(results["long_play"]["round_trip"]["return_psnr"]) == {"10"}
    assert 0 < results["long_play"]["round_trip"]["away_psnr"]["5"] <= MAX_PSNR
    assert "planning.success_rate" in capsys.readouterr().out


def test_diagnose_reports_where_information_is_lost(tiny_model, codec, one_thread):
    from dila.diagnose import diagnose

    out = diagnose(Pipeline(tiny_model, codec), clips=3, probe_clips=6, frames=3)
    errors = out["token_mse"]
    assert set(errors) == {"copy_last", "one_step", "mean_action", "oracle", "change_explained"}
    assert all(math.isfinite(v) for v in errors.values()) and errors["copy_last"] > 0
    assert set(out["probe_r2_signed"]) == set(out["probe_r2_unsigned"]) == {"dx", "dy", "rotation", "log_scale", "mean"}
    assert set(out["motion_followed"]) == {"one_step", "oracle", "clips"}


def test_warp_motion_scores_the_warps_pixel_move_against_the_true_one(tiny_model, codec, one_thread, monkeypatch):
    from dila.data.true_motion import true_motion
    from dila.diagnose import moving_objects, warp_motion
    from dila.evaluate import _clips

    pipeline = Pipeline.from_pretrained()
    clips = [c for c in _clips("heldout", 12, 2, pipeline.image_size, 0) if c.kind in ("translate", "compose")]
    measured = warp_motion(pipeline, clips)
    assert measured["clips"] >= 3 and 0.1 < measured["object_share"] < 1.0 and 0 < measured["backdrop_leak_px"] < 2
    moving = moving_objects(clips, 2.0)
    truth = torch.from_numpy(np.stack([true_motion(c)[0] for c in moving]))
    warp = pipeline.model.fusion_decoder.warp
    monkeypatch.setattr(warp, "pixel_shifts", lambda guide, hidden, actions, previous=None: truth)
    assert warp_motion(pipeline, clips) == {"object_share": pytest.approx(1.0), "backdrop_leak_px": 0.0, "clips": len(moving)}
    monkeypatch.setattr(warp, "pixel_shifts", lambda guide, hidden, actions, previous=None: torch.ones_like(truth))
    assert warp_motion(pipeline, clips)["backdrop_leak_px"] == pytest.approx(2**0.5)  # (1, 1) everywhere
    assert warp_motion(Pipeline(tiny_model, codec), clips) == {}  # no pixel warp


def test_warp_motion_at_a_later_transition_moves_that_frame_and_shows_the_one_before(one_thread, monkeypatch):
    from dila.data.tensors import frames_to_tensor
    from dila.data.true_motion import true_motion
    from dila.diagnose import moving_objects, warp_motion
    from dila.evaluate import _clips

    pipeline = Pipeline.from_pretrained()
    clips = [c for c in _clips("heldout", 12, 3, pipeline.image_size, 0) if c.kind in ("translate", "compose")]
    moving = moving_objects(clips, 2.0, transition=1)
    truth = torch.from_numpy(np.stack([true_motion(c)[1] for c in moving]))
    seen = {}

    def shifts(guide, hidden, actions, previous=None):  # the prediction's own warp too, then the measured call
        seen.update(guide=guide, previous=previous)
        return truth if len(guide) == len(truth) else guide.new_zeros(len(guide), 2, *guide.shape[-2:])

    monkeypatch.setattr(pipeline.model.fusion_decoder.warp, "pixel_shifts", shifts)
    assert warp_motion(pipeline, clips, transition=1) == {"object_share": pytest.approx(1.0), "backdrop_leak_px": 0.0,
                                                           "clips": len(moving)}
    for name, index in (("guide", 1), ("previous", 0)):
        torch.testing.assert_close(seen[name], frames_to_tensor(np.stack([c.frames[index] for c in moving])))


def test_followed_share_is_the_projection_on_the_true_move():
    from dila.diagnose import followed_share

    start, end = np.array([10.0, 10.0]), np.array([14.0, 10.0])
    assert followed_share(start, end, end) == 1.0
    assert followed_share(start, end, start) == 0.0
    assert followed_share(start, end, np.array([11.0, 30.0])) == 0.25
    assert followed_share(start, end, np.array([6.0, 10.0])) == -1.0
    assert math.isnan(followed_share(start, start, end))


def test_strip_has_a_labelled_row_per_view_and_slider(pipeline):
    from dila.strips import LABEL_WIDTH, make_strip

    image = make_strip(pipeline, clips=1, frames=4)
    size = pipeline.image_size
    assert image.shape == (9 * size, LABEL_WIDTH + 5 * size, 3) and image.dtype == np.uint8
    assert (image[:, :LABEL_WIDTH] < 128).any() and (image[:, :LABEL_WIDTH] == 255).mean() > 0.8

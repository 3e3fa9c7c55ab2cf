"""The bundled default model: present, small, quick to load, and working at pixel level."""
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from dila.codecs.light import LightCodec
from dila.config import DiLAConfig
from dila.data.procedural import ProceduralVideoDataset
from dila.evaluate import (
    apparent_motion,
    clip_actions,
    linear_probe,
    predict_clips,
    reversal_cosines,
    tokenize_clips,
)
from dila.hub import BUNDLED
from dila.long_play import long_play, play_keys
from dila.metrics import pooled_psnr, psnr
from dila.pipeline import Pipeline
from dila.train import small_config

PROBE_MARGIN = 0.2
WARP_DESIGN = replace(small_config(64), inverse_norm="frame", decoder_warp=5, warp_patch=8, warp_channels=3)
PIXEL_DESIGN = replace(WARP_DESIGN, warp_mode="flow", inverse_even_dims=2, render="pixels")
PICKER_DESIGN = replace(PIXEL_DESIGN, warp_refine=16)
SHIPPED_DESIGN = replace(PICKER_DESIGN, shown_from="start", warp_border="reflect")


def test_loads_quickly_and_runs():
    start = time.perf_counter()
    pipeline = Pipeline.from_pretrained()
    assert time.perf_counter() - start < 2.0
    assert pipeline.model.config == SHIPPED_DESIGN and pipeline.model.fusion_decoder.warp.ready and pipeline.renders_pixels
    assert isinstance(pipeline.codec, LightCodec) and pipeline.image_size == 64
    clip = np.random.default_rng(0).integers(0, 256, size=(3, 64, 64, 3), dtype=np.uint8)
    actions = pipeline.encode_clip(clip).actions
    assert actions.shape == (2, 16) and np.isfinite(actions).all()
    assert pipeline.rollout(clip[:1], actions).shape == (2, 64, 64, 3)


def test_the_recipe_moves_one_design_through_its_stages():
    """README's recipe: stage 1 in `configs/bundled-stage1.json` (a one-way inverse model), stages 2-3 in
    `small_config(64)`, stage 4 in `configs/bundled-frame.json` (per-frame norm), stages 5-9 in
    `configs/bundled-warp.json`, stages 10-12 in `configs/bundled-pixel.json`, stages 13-14 in
    `configs/bundled-picker.json` (the shift picker), stage 15 in `configs/bundled-shown.json` (frames shown
    from their start), the shipped design."""
    configs = Path(__file__).parents[1] / "configs"
    assert DiLAConfig.load(configs / "bundled-stage1.json") == replace(small_config(64), inverse_antisymmetric=False)
    assert DiLAConfig.load(configs / "bundled-frame.json") == replace(small_config(64), inverse_norm="frame")
    assert DiLAConfig.load(configs / "bundled-warp.json") == WARP_DESIGN
    assert DiLAConfig.load(configs / "bundled-pixel.json") == PIXEL_DESIGN
    assert DiLAConfig.load(configs / "bundled-picker.json") == PICKER_DESIGN
    assert DiLAConfig.load(configs / "bundled-shown.json") == SHIPPED_DESIGN
    assert DiLAConfig.load(BUNDLED / "config.json") == SHIPPED_DESIGN


def test_files_are_small():
    sizes = [p.stat().st_size for p in BUNDLED.rglob("*.safetensors")]
    assert len(sizes) == 2 and sum(sizes) < 20 * 1024**2


def test_prediction_quality_matches_its_evaluation(one_thread):
    """One-step predictions on a few held-out clips score what `checkpoints/eval.json` reports, and beat
    copying the last frame (mean per-frame PSNR and pooled error)."""
    reported = json.loads((BUNDLED / "eval.json").read_text())["prediction"]
    pipeline = Pipeline.from_pretrained()
    data = ProceduralVideoDataset("heldout", num_clips=8, frames=5, seed=0)
    frames = np.stack([data.clip(i).frames for i in range(len(data))])
    predicted = predict_clips(pipeline, frames)
    one_step = psnr(predicted["one_step"], frames[:, 1:])
    grey = psnr(np.full_like(frames[:, 1:], 128), frames[:, 1:])
    assert one_step > grey + 6
    assert abs(one_step - reported["one_step"]["psnr"]) < 1.5
    assert psnr(predicted["codec"], frames) >= 32.0
    assert one_step > psnr(frames[:, :-1], frames[:, 1:])
    assert pooled_psnr(predicted["one_step"], frames[:, 1:]) > pooled_psnr(frames[:, :-1], frames[:, 1:])


def test_latent_actions_carry_the_motion_its_evaluation_reports(one_thread):
    """A fast subset of `checkpoints/eval.json`: a probe fitted on training clips reads the signed
    motion from held-out latent actions, and reversing a transition negates its action (all but its two
    even coordinates, bounded to a third of the rest)."""
    reported = json.loads((BUNDLED / "eval.json").read_text())["interpretability"]
    pipeline = Pipeline.from_pretrained()
    splits = [ProceduralVideoDataset(split, num_clips=n, frames=6, seed=0) for split, n in (("train", 64), ("heldout", 24))]
    clips = [[data.clip(i) for i in range(len(data))] for data in splits]
    actions = [clip_actions(pipeline, np.stack([c.frames for c in split]))["actions"] for split in clips]
    truth = [np.stack([apparent_motion(c) for c in split]) for split in clips]
    probe = linear_probe(*(a.reshape(-1, a.shape[-1]) for a in (actions[0], truth[0], actions[1], truth[1])))
    assert all(probe[c] > reported["probe_r2"][c] - PROBE_MARGIN for c in ("dx", "dy"))
    with torch.no_grad():
        structure = pipeline.model.latent_actions(tokenize_clips(pipeline, np.stack([c.frames for c in clips[1]])))[1]
        reversal = float(reversal_cosines(pipeline.model, structure).mean())
    assert reversal < -0.9 and abs(reversal - reported["reversal_cosine"]) < 0.05


def test_an_action_does_not_depend_on_the_clip_around_it(one_thread):
    """The shipped inverse model normalises each transition alone (`inverse_norm="frame"`): the first
    action of a clip is the same whether the clip has 2 frames or 6."""
    pipeline = Pipeline.from_pretrained()
    data = ProceduralVideoDataset("heldout", num_clips=4, frames=6, seed=0)
    for i in range(len(data)):
        frames = data.clip(i).frames
        whole, pair = (pipeline.encode_clip(f).actions[0] for f in (frames, frames[:2]))
        np.testing.assert_allclose(whole, pair, atol=1e-5)


def test_play_keeps_the_frame_sharp_as_its_evaluation_reports(one_thread):
    """A short Play (`dila.long_play`, 3 held-out scenes, 25 steps of the evaluation's keys held 10 steps each)
    stays nearly as sharp as the real frames: each shown frame is read from the start once
    (`shown_from="start"`: 0.93 and colour distance 0.14 at step 25), where re-reading the last frame (the model
    before, k3p) blurred it to 0.61 (0.22)."""
    reported = json.loads((BUNDLED / "eval.json").read_text())["long_play"]
    pipeline = Pipeline.from_pretrained()
    data = ProceduralVideoDataset("heldout", num_clips=3, frames=9, seed=0)
    clips = [data.clip(i).frames for i in range(len(data))]
    keys = play_keys(np.concatenate([pipeline.encode_clip(c).actions for c in clips]))
    scores, frames = long_play(pipeline, clips, keys, steps=25, hold=10)
    assert frames.shape == (3, 3, 64, 64, 3)
    assert scores["sharpness"]["25"] > 0.7 and reported["sharpness"]["100"] > 0.7
    assert scores["colour_distance"]["25"] < 0.2

"""Training runs end to end at tiny sizes: phase 1, resume, phase 2 from phase 1, and 2 processes."""
import json
import os
import subprocess
import sys

import pytest
import torch

from dila.codecs.light import LightCodec, LightCodecConfig
from dila.hub import load_world_model
from dila.train import STATE_NAME, init_output_norm, make_dataset, parse_args, train
from dila.world_model import DiLAWorldModel


@pytest.fixture
def setup(tmp_path, tiny_config):
    torch.manual_seed(0)
    codec_dir = tmp_path / "codec"
    LightCodec(LightCodecConfig(image_size=32, grid_size=4, latent_dim=32, width=16, decoder_blocks=1)).save_pretrained(codec_dir)
    tiny_config.save(tmp_path / "model.json")
    common = ["--codec", str(codec_dir), "--model-config", str(tmp_path / "model.json"), "--batch-size", "2",
              "--frames", "3", "--num-clips", "8", "--log-every", "1", "--warmup", "1"]
    return tmp_path, common


def log_steps(run):
    return [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()]


def test_phase1_resume_then_phase2(setup):
    tmp, common = setup
    run = tmp / "p1"
    train(parse_args(["--out", str(run), "--steps", "2", "--save-every", "2", *common]))
    first = load_world_model(run).state_dict()
    assert torch.load(run / STATE_NAME, weights_only=True)["step"] == 2
    train(parse_args(["--out", str(run), "--steps", "3", "--save-every", "2", *common]))
    assert log_steps(run) == [1, 2, 3]
    assert torch.load(run / STATE_NAME, weights_only=True)["step"] == 3
    resumed = load_world_model(run).state_dict()
    assert any(not torch.equal(first[k], resumed[k]) for k in first)
    record = json.loads((run / "log.jsonl").read_text().splitlines()[-1])
    assert set(record) >= {"loss", "prediction", "dynamics", "consistency", "action_norm", "symmetry", "lr"}
    assert all(torch.isfinite(torch.tensor(v)) for k, v in record.items() if k != "step")
    phase2 = tmp / "p2"
    train(parse_args(["--out", str(phase2), "--phase", "2", "--steps", "1", "--init", str(run), *common]))
    assert load_world_model(phase2).config == load_world_model(run).config


def test_stop_after_ends_early_and_a_resume_with_other_weights_finishes_the_schedule(setup):
    tmp, common = setup
    run = tmp / "staged"
    train(parse_args(["--out", str(run), "--steps", "3", "--stop-after", "1", *common]))
    assert torch.load(run / STATE_NAME, weights_only=True)["step"] == 1
    train(parse_args(["--out", str(run), "--steps", "3", "--symmetry-weight", "0.5", "--oracle-weight", "1", *common]))
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3]
    assert "oracle" not in records[0] and "oracle" in records[-1]
    assert records[-1]["lr"] < records[0]["lr"]


@torch.no_grad()
def test_output_norm_starts_at_the_token_statistics(tiny_config):
    torch.manual_seed(0)
    scale = torch.logspace(1, -1, tiny_config.embed_dim)
    tokens = torch.randn(4, 3, tiny_config.embed_dim, 4, 4) * scale[:, None, None] + 0.5
    model = DiLAWorldModel(tiny_config).eval()
    before = model.one_step(tokens)
    init_output_norm(model, tokens)
    after = model.one_step(tokens)
    channel_std = lambda x: x.transpose(0, 2).flatten(1).std(1)
    torch.testing.assert_close(model.fusion_decoder.norm_out.weight, channel_std(tokens))
    torch.testing.assert_close(after.mean(), tokens.mean(), atol=0.05, rtol=0)
    ratio_before, ratio_after = (channel_std(x) / channel_std(tokens[:, 1:]) for x in (before, after))
    assert ratio_before.max() / ratio_before.min() > 20
    assert ratio_after.max() / ratio_after.min() < 5


@pytest.mark.slow
def test_two_processes_on_cpu(setup):
    tmp, common = setup
    run = tmp / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               "-m", "dila.train", "--out", str(run), "--steps", "2", *common]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "ACCELERATE_USE_CPU": "1", "PYTHONPATH": os.getcwd()}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert torch.load(run / STATE_NAME, weights_only=True)["step"] == 2
    assert log_steps(run) == [1, 2]
    assert {json.loads(line)["processes"] for line in (run / "log.jsonl").read_text().splitlines()} == {2}


def test_init_weights_move_into_a_design_option_without_parameters_and_misfits_are_refused(tiny_config):
    from dataclasses import replace

    from dila.train import initial_weights

    torch.manual_seed(0)
    source = DiLAWorldModel(replace(tiny_config, inverse_input="pair"))
    moved = initial_weights(source, replace(source.config, inverse_antisymmetric=True))
    assert moved.config.inverse_antisymmetric
    assert all(torch.equal(v, moved.state_dict()[k]) for k, v in source.state_dict().items())
    assert initial_weights(source, None) is source
    with pytest.raises(ValueError, match="do not fit --model-config"):
        initial_weights(source, replace(source.config, structure_dim=source.config.structure_dim + 1))


def test_still_objects_reach_the_training_data():
    args = parse_args(["--out", "unused", "--still-objects", "0.6"])
    assert make_dataset(args, 32).still_objects == 0.6
    assert make_dataset(parse_args(["--out", "unused"]), 32).still_objects == 0.0

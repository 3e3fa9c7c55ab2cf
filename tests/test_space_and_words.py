"""What a Space needs from the repository, and the app's numbers said in words."""
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from dila.video import letterbox
from explorer import words
from explorer.clips import Clip, aspect_name
from explorer.quality import VIEWS, Quality, from_dict, read_quality

ROOT = Path(__file__).resolve().parent.parent
BINARY = re.compile(r"\.(safetensors|pt|webm|png|gif|mp4|npy|npz)$")


def test_every_binary_file_is_stored_with_lfs_and_the_licence_matches_the_card():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    binaries = [p for p in tracked if BINARY.search(p)]
    assert binaries, "the repository ships model weights and example clips"
    out = subprocess.run(["git", "check-attr", "filter", "--", *binaries], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert [line for line in out if not line.endswith(": filter: lfs")] == []
    assert "license: mit" in (ROOT / "README.md").read_text() and "MIT License" in (ROOT / "LICENSE").read_text()


def test_the_space_installs_only_what_the_app_needs_and_the_readme_commands_hold():
    app = (ROOT / "requirements.txt").read_text()
    dev = (ROOT / "requirements-dev.txt").read_text()
    for tool in ("pytest", "playwright", "accelerate"):
        assert not re.search(rf"^{tool}\b", app, re.M) and re.search(rf"^{tool}\b", dev, re.M)
    assert "-r requirements.txt" in dev
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^    (pip install .*)$", readme, re.M)
    assert commands == ["pip install -r requirements.txt && python app.py",
                        "pip install -r requirements-dev.txt && python -m pytest"]
    assert commands[1] in (ROOT / ".ci" / "run").read_text()


def test_app_module_has_a_demo_for_reload_mode():
    source = (ROOT / "app.py").read_text()
    assert re.search(r"^demo = build\(", source, re.M) and "if gr.NO_RELOAD:" in source


def test_quality_from_the_models_evaluation_file(tmp_path):
    assert read_quality(str(tmp_path)).line() == "Model quality: not evaluated (no eval.json beside the model)."
    (tmp_path / "eval.json").write_text(json.dumps({
        "prediction": {"one_step": {"psnr": 27.2}, "copy_last": {"psnr": 30.04}, "rollout": {"psnr": 21.0},
                       "copy_first": {"psnr": 27.5}},
        "interpretability": {"probe_r2": {"dx": 0.5, "dy": 0.7, "rotation": 0.0, "log_scale": 0.1, "mean": 0.3}},
        "slider": {"success_rate": 0.13, "min_shift_px": 2.0}, "planning": {"success_rate": 0.25, "tasks": 16}}))
    quality = read_quality(str(tmp_path / "model.pt"))
    assert quality == Quality(27.2, 30.04, 21.0, 27.5, moves=0.6, turns=0.1, slider=0.13, planning=0.25)
    assert quality.line("steer").startswith("Model quality: It predicts the next frame no better than simply repeating")
    well, badly = quality.markdown().split("**What it does not do well yet**")
    assert "sideways and up-down movement: a simple read-out recovers 60% of it" in well
    assert "no better than" in badly and "8 frames ahead" in badly and "(21.0 against 27.5 dB, higher is closer)" in badly
    assert "almost nothing of turning" in badly and "4 of 16 tasks" in badly and "13% of tests" in badly
    assert "dB (its PSNR) says how close" in badly
    better = from_dict({"prediction": {"one_step": {"psnr": 33}, "copy_last": {"psnr": 30}}})
    assert "better than simply repeating" in better.line("plan")  # a view without its measurement: the next frame
    (tmp_path / "eval.json").write_text("{not json")
    assert not read_quality(str(tmp_path)).evaluated


def test_bundled_model_card_says_what_it_does_well_and_not(tmp_path):
    quality = read_quality(str(ROOT / "checkpoints"))
    data = json.loads((ROOT / "checkpoints" / "eval.json").read_text())
    assert quality.one_step == pytest.approx(data["prediction"]["one_step"]["psnr"])
    assert f"{data['prediction']['one_step']['psnr']:.1f} against" in quality.line("steer")
    lines = dict(zip(VIEWS, quality.lines()))
    assert "sideways" in lines["map"] and "turning" in lines["map"]  # the first view's line: a pass and a fail
    assert f"{data['slider']['success_rate']:.0%} of tests" in lines["steer"]
    tasks = data["planning"]["tasks"]
    assert f"{data['planning']['success_rate'] * tasks:.0f} of {tasks} tasks" in lines["plan"]
    transfer = data["transfer"]
    closer = transfer["model"]["psnr"] > transfer["copy_first"]["psnr"] + 1
    assert f"{'closer' if closer else 'no closer'} to the truth than a still copy" in lines["transfer"]
    assert f"({transfer['model']['psnr']:.1f} against {transfer['copy_first']['psnr']:.1f} dB" in lines["transfer"]
    assert "appearance" in lines["rebind"]


@pytest.mark.parametrize("cosine, error, verdict", [(0.98, 0.2, "follows this action well"),
                                                    (0.7, 0.9, "only in part"), (-0.8, 1.5, "does not follow")])
def test_controllability_in_words(cosine, error, verdict):
    sentence = words.controllability(cosine, error)
    assert verdict in sentence and f"(cosine {cosine:.2f})" in sentence and f"{error:.0%} off in size" in sentence


def test_plan_result_and_shares_in_words():
    close = words.plan_result(4, 1.0, 0.2)
    assert "gets close to the goal" in close and "80% closer to the goal" in close and "went from" not in close
    assert "does not get closer" in words.plan_result(4, 1.0, 1.3)
    assert [words.share(v) for v in (0, 0.0004, 0.003, 0.38)] == ["0%", "<0.1%", "0.3%", "38%"]
    sizes = np.arange(1, 101, dtype=float)
    assert [words.action_size(v, sizes) for v in (2, 50, 99)] == ["small action", "typical action", "large action"]


def test_letterbox_keeps_the_whole_frame_and_the_card_says_how():
    frame = np.full((30, 40, 3), 200, np.uint8)
    boxed = letterbox(frame, 64)
    assert boxed.shape == (64, 64, 3) and boxed[:7].max() == 0 and boxed[-7:].max() == 0 and boxed[32].min() == 200
    clip = Clip("c1", "wide", np.zeros((2, 8, 8, 3), np.uint8), 8.0, np.zeros((1, 4), np.float32), None, "crop", 16 / 9)
    assert clip.shape_note() == "16:9, centre-cropped (44% of the width not shown)"
    assert aspect_name(4 / 3) == "4:3" and aspect_name(1.1) == "1.10:1"

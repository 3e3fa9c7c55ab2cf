"""`dila.compare`: evaluation files side by side."""
import json

import pytest

from dila.compare import column_name, compare, main

FIRST = {"settings": {"clips": 64}, "prediction": {"one_step": {"psnr": 32.3351, "ssim": 0.92}},
         "slider": {"success_rate": 0.30, "starts": 53}, "long_play": {"sharpness": {"100": 0.79}}}
SECOND = {"settings": {"clips": 32}, "prediction": {"one_step": {"psnr": 32.7002, "ssim": 0.92}},
          "slider": {"success_rate": 0.25, "starts": 53}, "planning": {"success_rate": 0.6875}}


def body(table: str) -> dict[str, list[str]]:
    lines = table.splitlines()
    assert lines[1].count("---") == len(lines[0].split("|")) - 2
    return {cells[0]: cells[1:] for cells in ([c.strip() for c in line.strip("|").split("|")] for line in lines[2:])}


def test_every_result_in_a_row_and_a_missing_one_as_a_dash():
    out = body(compare([FIRST, SECOND], ["a", "b"]))
    assert out["prediction.one_step.psnr"] == ["32.335", "32.700"]
    assert out["long_play.sharpness.100"] == ["0.790", "-"] and out["planning.success_rate"] == ["-", "0.688"]
    assert out["slider.starts"] == ["53", "53"] and not any(k.startswith("settings.") for k in out)
    assert list(out)[:2] == ["prediction.one_step.psnr", "prediction.one_step.ssim"]


def test_only_and_changed_pick_the_rows():
    out = body(compare([FIRST, SECOND], ["a", "b"], only=("prediction", "slider"), changed=0.01))
    assert list(out) == ["prediction.one_step.psnr", "slider.success_rate"]
    assert list(body(compare([FIRST, SECOND], ["a", "b"], only=("settings",)))) == ["settings.clips"]
    assert list(body(compare([FIRST, SECOND], ["a", "b"], only=("slider",), changed=0.1))) == []


def test_the_command_names_columns_after_folders_and_refuses_a_bad_file(tmp_path, capsys):
    (tmp_path / "k3").mkdir()
    (tmp_path / "k3" / "eval.json").write_text(json.dumps(FIRST))
    (tmp_path / "k4.json").write_text(json.dumps(SECOND))
    assert column_name(tmp_path / "k3" / "eval.json") == "k3" and column_name(tmp_path / "k4.json") == "k4"
    out = main([str(tmp_path / "k3" / "eval.json"), str(tmp_path / "k4.json"), "--only", "slider.success"])
    assert out.splitlines()[0] == "| result | k3 | k4 |" and out == capsys.readouterr().out.strip()
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(SystemExit, match="broken.json: not an evaluation file"):
        main([str(tmp_path / "broken.json")])
    with pytest.raises(SystemExit):
        main([str(tmp_path / "k4.json"), "--names", "a", "b"])

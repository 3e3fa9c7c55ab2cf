"""The bundled model's recipe script (`scripts/train_bundled.sh`) runs commands that parse, in designs
that load, each stage starting from one made before it (its commands as `RUN=echo` prints them)."""
from pathlib import Path

import pytest

from benchmarks.bench_recipe import recipe_commands, recipe_runs, trained_steps
from dila.config import DiLAConfig

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def commands(tmp_path_factory) -> list[list[str]]:
    return recipe_commands(tmp_path_factory.mktemp("recipe") / "run")


def test_the_recipe_trains_the_codec_then_fifteen_stages_in_order_then_evaluates(commands):
    modules = [c[2] for c in commands]
    assert modules[0] == "dila.codecs.train_light" and modules[-1] == "dila.evaluate"
    runs = recipe_runs(commands)
    outs = list(dict.fromkeys(Path(r.out).name for r in runs))
    assert outs == [f"stage{i}" for i in range(1, 16)]
    assert [r.phase for r in runs].count(2) == 6  # stages 3, 4, 6, 9, 12 and 15
    assert commands[-1][commands[-1].index("--model") + 1] == runs[-1].out
    steps = {Path(out).name: n for out, n in trained_steps(runs).items()}
    assert steps["stage1"] == 2800 and steps["stage13"] == 900 and sum(steps.values()) == 15_600


def test_every_stage_starts_from_an_earlier_one_in_a_design_that_loads(commands):
    runs = recipe_runs(commands)
    made = set()
    for run in runs:
        assert run.init is None or run.init in made, f"{run.out} starts from {run.init}, not made before it"
        if run.model_config:
            DiLAConfig.load(ROOT / run.model_config)
        assert Path(run.codec).parent == Path(run.out).parent  # the codec the recipe trains
        made.add(run.out)
    assert runs[0].init is None and runs[0].model_config == "configs/bundled-stage1.json"
    shipped = DiLAConfig.load(ROOT / "checkpoints" / "config.json")
    assert DiLAConfig.load(ROOT / runs[-1].model_config) == shipped

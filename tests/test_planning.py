import numpy as np
import pytest
import torch
from helpers import PatchCodec, shifting_model

from dila import DiLAConfig, DiLAWorldModel
from dila.data.procedural import render_clip, sample_clip, sample_scene
from dila.pipeline import Pipeline
from dila.planning import (
    ActionPrior,
    PlanningTask,
    displacement,
    locate_object,
    locate_view,
    plan,
    plan_success,
    planning_tasks,
    search,
    structure_cost,
    token_cost,
    true_position,
)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def pipeline(tiny_config):
    torch.manual_seed(0)
    return Pipeline(DiLAWorldModel(DiLAConfig(**{**tiny_config.to_dict(), "embed_dim": 48})), PatchCodec(image_size=32))


@pytest.fixture
def prior():
    return ActionPrior(np.zeros(8, np.float32), np.ones(8, np.float32))


@pytest.fixture
def task():
    return planning_tasks(1, horizon=3, size=32, seed=0)[0]


def quadratic(target):
    return lambda candidates: (candidates - target).pow(2).flatten(1).sum(1)


@pytest.mark.parametrize("method", ["cem", "mppi"])
def test_search_minimises_a_quadratic(method):
    target = torch.tensor([[1.0, -2.0], [0.5, 3.0]])
    found = search(quadratic(target), torch.zeros(2, 2), torch.full((2, 2), 2.0), iterations=12, samples=64,
                   method=method, seed=0)
    assert found.actions.shape == (2, 2)
    assert found.cost < 0.2 < quadratic(target)(torch.zeros(1, 2, 2)).item()
    assert found.history[-1] < found.history[0] / 10
    assert torch.allclose(found.actions, target, atol=0.4)


def test_search_is_deterministic_by_seed():
    def run(seed):
        return search(quadratic(torch.ones(3, 2)), torch.zeros(3, 2), torch.ones(3, 2), iterations=2, seed=seed)

    assert torch.equal(run(0).actions, run(0).actions) and run(0).history == run(0).history
    assert not torch.equal(run(0).actions, run(1).actions)


def test_search_checks_its_arguments():
    with pytest.raises(ValueError, match="method"):
        search(quadratic(torch.ones(1, 1)), torch.zeros(1, 1), torch.ones(1, 1), method="random")
    with pytest.raises(ValueError, match="elites"):
        search(quadratic(torch.ones(1, 1)), torch.zeros(1, 1), torch.ones(1, 1), samples=4, elites=8)


def test_prior_from_reference_actions():
    actions = np.random.default_rng(0).normal(3.0, [1.0, 2.0], size=(500, 2))
    centred, fitted = ActionPrior.from_actions(actions), ActionPrior.from_actions(actions, centred=False)
    assert (centred.mean == 0).all() and np.allclose(centred.std, [1, 2], atol=0.15)
    assert np.allclose(fitted.mean, 3, atol=0.2) and np.array_equal(fitted.std, centred.std)


def test_costs_score_what_the_rollout_predicts(pipeline, task):
    model = pipeline.model
    start, goal = (pipeline.tokenize(f[None]) for f in (task.start, task.goal))
    actions = torch.randn(3, 2, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        tokens, structure = model.predict(start.expand(3, -1, -1, -1, -1), actions)
        target = model.latent_actions(torch.cat((start, goal), dim=1))[1][:, 1:]
    expected_structure = (structure[:, -1:] - target).pow(2).flatten(1).mean(1)
    expected_tokens = (tokens[:, -1:] - goal).pow(2).flatten(1).mean(1)
    assert torch.allclose(structure_cost(model, start, goal)(actions), expected_structure, atol=1e-6)
    assert torch.allclose(token_cost(model, start, goal)(actions), expected_tokens, atol=1e-6)


def test_plan_shapes_determinism_and_progress(pipeline, task, prior):
    kwargs = dict(horizon=3, iterations=4, samples=16, elites=4, prior=prior)
    result = plan(pipeline, task.start, task.goal, seed=0, **kwargs)
    assert result.actions.shape == (3, 8) and result.actions.dtype == np.float32
    assert result.frames.shape == (3, 32, 32, 3) and result.frames.dtype == np.uint8
    assert len(result.cost_history) == 4 and result.cost_history[-1] < result.cost_history[0]
    assert np.array_equal(result.frames, pipeline.rollout(task.start[None], result.actions))
    again = plan(pipeline, task.start, task.goal, seed=0, **kwargs)
    assert np.array_equal(again.actions, result.actions) and again.cost_history == result.cost_history
    assert not np.array_equal(plan(pipeline, task.start, task.goal, seed=1, **kwargs).actions, result.actions)


def test_a_pixel_rendering_pipeline_plans_with_the_frames_it_shows(tiny_config, task, prior):
    pipeline = Pipeline(shifting_model(tiny_config, 4), PatchCodec(image_size=32), render="pixels")
    result = plan(pipeline, task.start, task.goal, horizon=3, iterations=2, samples=8, elites=2, prior=prior)
    right = lambda frame, k: np.concatenate((np.repeat(frame[:, :1], k, axis=1), frame[:, :-k]), axis=1)
    assert np.array_equal(result.frames, [right(task.start, k) for k in (2, 4, 6)])


def test_plan_with_token_cost_mppi_and_reference_actions(pipeline, task):
    reference = np.random.default_rng(0).normal(size=(20, 8)).astype(np.float32)
    result = plan(pipeline, task.start, task.goal, horizon=2, iterations=2, samples=8, elites=2, prior=reference,
                  method="mppi", cost="tokens")
    assert result.actions.shape == (2, 8) and len(result.cost_history) == 2
    with pytest.raises(ValueError, match="cost"):
        plan(pipeline, task.start, task.goal, prior=reference, cost="pixels")


@pytest.mark.parametrize("split", ["heldout", "train"])
def test_locate_object_on_ground_truth_frames(split):
    for i in range(6):
        clip = sample_clip(np.random.default_rng([i, 1]), split, "compose", 4, 64)
        for t in range(4):
            found = locate_object(clip.frames[t], clip.scene.backdrop)
            assert np.linalg.norm(found - clip.states[t, :2]) < 1.0


def test_locate_object_finds_nothing_in_the_background():
    scene = sample_scene(np.random.default_rng(0), "heldout", 32)
    assert np.isnan(locate_object(scene.backdrop, scene.backdrop)).all()


def test_locate_view_on_ground_truth_frames():
    for i in range(4):
        clip = sample_clip(np.random.default_rng([i, 2]), "heldout", "camera", 4, 64)
        for t in range(4):
            zoom, truth = clip.states[t, 3], clip.states[t, :2]
            assert np.linalg.norm(locate_view(clip.frames[t], clip.scene.backdrop, [zoom]) - truth) * zoom < 0.5
            assert np.linalg.norm(locate_view(clip.frames[t], clip.scene.backdrop) - truth) * zoom < 1.0


def test_planning_tasks():
    tasks = planning_tasks(6, horizon=4, size=32, seed=3, tolerance=2.0)
    assert len(tasks) == 6 and all(2 <= t.goal_index <= 4 and t.clip.frames.shape == (5, 32, 32, 3) for t in tasks)
    assert all(displacement(t.clip, t.goal_index) > 2.0 for t in tasks)
    assert all(t.clip.kind in ("translate", "compose", "camera") for t in tasks)
    again = planning_tasks(6, horizon=4, size=32, seed=3, tolerance=2.0)
    assert all(np.array_equal(a.goal, b.goal) for a, b in zip(tasks, again))
    with pytest.raises(ValueError, match="horizon"):
        planning_tasks(1, horizon=1)


def test_displacement_and_true_position_of_a_camera_clip():
    scene = sample_scene(np.random.default_rng(0), "heldout", 32, camera=True)
    clip = render_clip(scene, np.array([[2.0, 0.0, 0.0, np.log(1.1)], [0.0, 1.0, 0.0, 0.0]]), "camera")
    zoom = scene.start[3] * 1.1
    assert displacement(clip, 2) == pytest.approx(np.sqrt(5) * zoom, rel=1e-5)
    assert np.allclose(true_position(clip, 2), (scene.start[:2] + [2, 1]) * zoom, rtol=1e-5)


def test_plan_success_measures_on_pixels(pipeline, prior):
    """With a lossless codec the locator sees the goal where it truly is, and doing nothing is off
    by the distance the object (view) moved."""
    for task in planning_tasks(3, horizon=3, size=32, seed=1):
        result = plan_success(pipeline, task, prior=prior, samples=8, iterations=2, elites=2)
        assert result.locator_error < 1.0
        assert result.baseline_error == pytest.approx(displacement(task.clip, task.goal_index), abs=1.0)
        assert result.success == (result.error <= 3.0) and np.isfinite(result.cost)


def test_plan_success_needs_frames_of_the_codec_size(pipeline, prior):
    task = PlanningTask(sample_clip(np.random.default_rng(0), "heldout", "translate", 3, 64), 2)
    with pytest.raises(ValueError, match="32 px"):
        plan_success(pipeline, task, prior=prior)

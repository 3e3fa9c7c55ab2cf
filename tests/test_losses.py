"""The training objective against the authors' `total_loss`, evaluated (eval mode, float32) on the
fixture's weights and inputs with the published loss weights."""
import pytest
import torch

from dila import DiLAWorldModel
from dila.losses import world_model_loss
from dila.published import infer_config, to_our_layout

REFERENCE = {
    1: (3.9903548, {"prediction": 1.984333, "dynamics": 0.182426, "consistency": 0.424777, "action_norm": 0.120065,
                    "symmetry": 3.352582}),
    2: (4.0229559, {"prediction": 2.000634, "dynamics": 0.182426, "consistency": 0.424716, "action_norm": 0.120065,
                    "symmetry": 3.352582}),
}


@pytest.fixture(scope="module")
def model_and_input(fixtures):
    state = to_our_layout(torch.load(fixtures / "dila_tiny.pt", weights_only=True)["model"])
    model = DiLAWorldModel(infer_config(state)).eval()
    model.load_state_dict(state)
    return model, torch.load(fixtures / "dila_tiny_io.pt", weights_only=True)["inputs"]["x"]


@pytest.mark.parametrize("phase", [1, 2])
@torch.no_grad()
def test_matches_published_loss(model_and_input, phase):
    model, x = model_and_input
    total, terms = world_model_loss(model, x, phase=phase)
    expected_total, expected_terms = REFERENCE[phase]
    assert total.item() == pytest.approx(expected_total, abs=2e-5)
    for name, value in expected_terms.items():
        assert terms[name].item() == pytest.approx(value, abs=2e-6), name


def test_gradients_reach_every_part(model_and_input, tiny_model):
    x = torch.randn(2, 4, 32, 4, 4)
    tiny_model.train()
    total, _ = world_model_loss(tiny_model, x, phase=2)
    total.backward()
    for part in ("structure_encoder", "motion_encoder", "content_encoder", "content_memory", "inverse_model",
                 "forward_model", "structure_lift", "fusion_decoder"):
        grads = [p.grad for p in getattr(tiny_model, part).parameters() if p.grad is not None]
        assert grads and any(g.abs().sum() > 0 for g in grads), part


def test_unknown_phase(tiny_model):
    with pytest.raises(ValueError, match="phase"):
        world_model_loss(tiny_model, torch.randn(1, 3, 32, 4, 4), phase=3)

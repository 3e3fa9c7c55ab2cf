"""Our world model against outputs of the authors' code (tests/fixtures, see its README)."""
import json

import pytest
import torch

from dila import DiLAConfig, DiLAWorldModel
from dila.published import infer_config, to_our_layout

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def reference(fixtures):
    state = torch.load(fixtures / "dila_tiny.pt", weights_only=True)["model"]
    ours = to_our_layout(state)
    model = DiLAWorldModel(infer_config(ours)).eval()
    model.load_state_dict(ours, strict=True)
    io = torch.load(fixtures / "dila_tiny_io.pt", weights_only=True)
    return model, io["inputs"], io["outputs"]


def max_error(a, b):
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a - b).abs().max().item()


@torch.no_grad()
def test_latent_actions(reference):
    model, inputs, outputs = reference
    z, g = model.latent_actions(inputs["x"])
    assert max_error(z, outputs["latent_actions"]) <= TOLERANCE
    assert max_error(g, outputs["structure_inf"]) <= TOLERANCE


@torch.no_grad()
def test_one_step(reference):
    model, inputs, outputs = reference
    assert max_error(model.one_step(inputs["x"]), outputs["one_step_embedding_gen"]) <= TOLERANCE


@torch.no_grad()
def test_rollout(reference):
    model, inputs, outputs = reference
    tokens, structure = model.rollout(inputs["x"][:, :1], outputs["latent_actions"])
    assert max_error(tokens, outputs["ar_embedding_gen"]) <= TOLERANCE
    assert max_error(structure, outputs["ar_structure_gen"]) <= TOLERANCE


@torch.no_grad()
def test_predict(reference):
    model, inputs, outputs = reference
    tokens, _ = model.predict(inputs["x"][:, :2], outputs["latent_actions"][:, :3])
    assert max_error(tokens, outputs["pred_embedding_gen"]) <= TOLERANCE


@torch.no_grad()
def test_transfer(reference):
    model, inputs, outputs = reference
    expected = outputs["transfer_embedding_gen"].permute(0, 1, 4, 2, 3)  # published: b t h w d
    assert max_error(model.transfer(inputs["x"], inputs["x_b"]), expected) <= TOLERANCE


def test_tiny_config_read_from_shapes(reference):
    cfg = reference[0].config
    assert (cfg.embed_dim, cfg.structure_dim, cfg.content_dim, cfg.action_dim) == (64, 4, 32, 16)
    assert (cfg.encoder_spatial_depth, cfg.encoder_temporal_depth, cfg.encoder_heads, cfg.encoder_dim_head) == (2, 2, 4, 16)
    assert (cfg.decoder_depth, cfg.decoder_heads, cfg.decoder_dim_head) == (2, 4, 16)
    assert (cfg.memory_depth, cfg.memory_state_dim, cfg.memory_conv_width, cfg.memory_expand) == (2, 8, 4, 2)
    assert (cfg.forward_dim, cfg.forward_depth, cfg.inverse_channels) == (64, 2, 8)


def test_paper_manifest_rebuilds_exactly(fixtures):
    manifest = json.loads((fixtures / "manifest_paper_config.json").read_text())
    ours = to_our_layout({k: torch.empty(shape) for k, shape in manifest.items()})
    cfg = infer_config(ours)
    assert cfg == DiLAConfig()
    with torch.device("meta"):
        model = DiLAWorldModel(cfg)
    built = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert len(built) == len(manifest) == 533
    assert built == {k: tuple(v.shape) for k, v in ours.items()}
    assert model.num_parameters() == sum(torch.Size(s).numel() for s in manifest.values()) == 123_037_272

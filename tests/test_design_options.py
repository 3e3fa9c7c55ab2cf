"""The small-model design options of `DiLAConfig` and the two extra loss terms: each does what it says,
and each is off by default (the published design; `test_parity.py` pins its numerics)."""
from dataclasses import replace

import pytest
import torch

from dila import DiLAConfig, DiLAWorldModel
from dila.losses import LossWeights, world_model_loss
from dila.train import init_output_norm
from dila.world_model import to_grid

SMALL_OPTIONS = {"inverse_input": "pair", "inverse_antisymmetric": True, "inverse_time_kernel": 1, "time_padding": "replicate",
                 "residual_decoder": True}


def build(config: DiLAConfig, **options) -> DiLAWorldModel:
    torch.manual_seed(0)
    return DiLAWorldModel(replace(config, **options)).eval()


def test_defaults_are_the_published_design():
    config = DiLAConfig()
    assert (config.inverse_input, config.inverse_time_kernel, config.time_padding, config.residual_decoder,
            config.inverse_antisymmetric, config.decoder_frame) == ("difference", 3, "zeros", False, False, "first")


@pytest.mark.parametrize("name, value", [("inverse_input", "sum"), ("inverse_time_kernel", 2), ("time_padding", "reflect"),
                                         ("decoder_frame", "middle"), ("inverse_norm", "batch")])
def test_unknown_choices_are_refused(tiny_config, name, value):
    with pytest.raises(ValueError, match=name):
        replace(tiny_config, **{name: value})


@torch.no_grad()
def test_decoder_frame_last_reads_the_last_frame_by_position(tiny_config):
    """With each cell's own first-frame token cut from the cell context, a decoder that reads the last
    frame ignores the first frame; the published one does not. The published frame attention has no
    positions (shuffling the frame's cells changes nothing); the last frame is read by position."""
    with pytest.raises(ValueError, match="residual_decoder"):
        replace(tiny_config, decoder_frame="last")
    d = tiny_config.embed_dim
    x, memory = torch.randn(1, 1, 4, 4, d), torch.randn(1, 1, 4, 4, tiny_config.content_dim)
    last, first, other_first = (torch.randn(1, 1, 4, 4, d) for _ in range(3))
    for frame, reads_first in (("first", True), ("last", False)):
        decoder = build(tiny_config, residual_decoder=True, decoder_frame=frame).fusion_decoder
        decoder.cell_context.weight[:, d : 2 * d] = 0
        decoder.head.fc2.weight.normal_()
        changed = (decoder(x, first, memory, last) - decoder(x, other_first, memory, last)).abs().max()
        assert (changed > 1e-4) == reads_first
    for frame in ("first", "last"):
        decoder = build(tiny_config, residual_decoder=True, decoder_frame=frame).fusion_decoder
        decoder.cell_context.weight.zero_()
        decoder.head.fc2.weight.normal_()
        read = first if frame == "first" else last
        shuffled = read.flatten(2, 3)[:, :, torch.randperm(16)].view_as(read)
        frames = (shuffled, last) if frame == "first" else (first, shuffled)
        change = decoder(x, frames[0], memory, frames[1]) - frames[1] - (decoder(x, first, memory, last) - last)
        assert (change.abs().max() > 1e-4) == (frame == "last")


@torch.no_grad()
def test_replicate_padding_gives_a_static_clip_the_same_structure_at_every_step(tiny_config):
    """Zero padding of the past tells every frame how far it is from the first; replicate does not."""
    static = torch.randn(1, 1, tiny_config.embed_dim, 4, 4).expand(1, 5, -1, -1, -1)
    _, published = build(tiny_config).latent_actions(static)
    _, small = build(tiny_config, time_padding="replicate").latent_actions(static)
    torch.testing.assert_close(small, small[:, :1].expand_as(small), atol=1e-5, rtol=0)
    assert (published - published[:, :1]).abs().max() > 1e-3


@torch.no_grad()
def test_time_kernel_one_makes_each_action_blind_to_the_order_of_transitions(tiny_config):
    """With a time kernel of 1 (and no padding in time) the inverse model commutes with shuffling time."""
    g_prev, g_next = torch.randn(2, 2, 5, 4, 4, tiny_config.structure_dim).unbind(0)
    order = torch.tensor([3, 0, 4, 1, 2])
    for kernel, commutes in ((1, True), (3, False)):
        idm = build(tiny_config, inverse_time_kernel=kernel).inverse_model
        shuffled = idm(g_prev[:, order], g_next[:, order])
        assert torch.allclose(shuffled, idm(g_prev, g_next)[:, order], atol=1e-5) == commutes


@torch.no_grad()
def test_frame_norm_makes_an_action_independent_of_the_clip_around_it(tiny_config):
    """The clip-wide GroupNorm lets the first action change when more transitions follow; per frame it does not."""
    with pytest.raises(ValueError, match="inverse_time_kernel"):
        replace(tiny_config, inverse_norm="frame")
    g = torch.randn(2, 6, 4, 4, tiny_config.structure_dim) * torch.linspace(0.2, 3.0, 6).view(1, 6, 1, 1, 1)
    for norm, independent in (("frame", True), ("clip", False)):
        idm = build(tiny_config, inverse_time_kernel=1, inverse_norm=norm).inverse_model
        short, long = idm(g[:, :1], g[:, 1:2]), idm(g[:, :-1], g[:, 1:])
        assert torch.allclose(short, long[:, :1], atol=1e-5) == independent


@torch.no_grad()
def test_pair_input_sees_where_the_structure_is(tiny_config):
    """A difference-only inverse model cannot tell g -> g' from g + c -> g' + c; the pair input can."""
    g = torch.randn(2, 3, 4, 4, tiny_config.structure_dim)
    shifted = g + torch.randn(1, 1, 4, 4, tiny_config.structure_dim)
    difference = build(tiny_config).inverse_model
    pair = build(tiny_config, inverse_input="pair").inverse_model
    torch.testing.assert_close(difference(g[:, :-1], g[:, 1:]), difference(shifted[:, :-1], shifted[:, 1:]))
    assert (pair(g[:, :-1], g[:, 1:]) - pair(shifted[:, :-1], shifted[:, 1:])).abs().max() > 1e-3
    assert pair.stem.conv.in_channels == 2 * tiny_config.structure_dim


@torch.no_grad()
@pytest.mark.parametrize("kernel", [1, 3])
def test_antisymmetric_inverse_model_negates_reversed_transitions_and_stills_a_still_clip(tiny_config, kernel):
    g_prev, g_next = torch.randn(2, 2, 3, 4, 4, tiny_config.structure_dim).unbind(0)
    idm = build(tiny_config, inverse_input="pair", inverse_time_kernel=kernel, inverse_antisymmetric=True).inverse_model
    forward = idm(g_prev, g_next)
    torch.testing.assert_close(idm(g_next, g_prev), -forward)
    assert forward.abs().min() > 0
    assert torch.equal(idm(g_prev, g_prev), torch.zeros_like(forward))
    published = build(tiny_config).inverse_model
    assert (published(g_next, g_prev) + published(g_prev, g_next)).abs().max() > 1e-3


@torch.no_grad()
def test_even_dims_keep_what_a_transition_is_both_ways_and_the_rest_its_direction(tiny_config):
    g_prev, g_next = torch.randn(2, 2, 3, 4, 4, tiny_config.structure_dim).unbind(0)
    antisymmetric = build(tiny_config, inverse_input="pair", inverse_time_kernel=1, inverse_antisymmetric=True)
    idm = build(tiny_config, inverse_input="pair", inverse_time_kernel=1, inverse_antisymmetric=True,
                inverse_even_dims=2).inverse_model
    idm.load_state_dict(antisymmetric.inverse_model.state_dict())  # the option adds no parameters
    forward, backward = idm(g_prev, g_next), idm(g_next, g_prev)
    torch.testing.assert_close(backward[..., :-2], -forward[..., :-2])
    torch.testing.assert_close(backward[..., -2:], forward[..., -2:])
    torch.testing.assert_close(forward[..., :-2], antisymmetric.inverse_model(g_prev, g_next)[..., :-2])
    assert forward[..., -2:].abs().min() > 0
    for options in ({"inverse_even_dims": 2}, {"inverse_even_dims": tiny_config.action_dim, "inverse_antisymmetric": True}):
        with pytest.raises(ValueError, match="inverse_even_dims"):
            replace(tiny_config, **options)


@torch.no_grad()
def test_residual_decoder_starts_at_no_change(tiny_config):
    model = build(tiny_config, residual_decoder=True)
    tokens = torch.randn(2, 4, tiny_config.embed_dim, 4, 4)
    torch.testing.assert_close(model.one_step(tokens), tokens[:, :-1])
    actions, _ = model.latent_actions(tokens)
    rolled, _ = model.rollout(tokens[:, :1], actions)
    torch.testing.assert_close(rolled, tokens[:, :1].expand_as(rolled))
    before = model.fusion_decoder.state_dict()
    init_output_norm(model, tokens)
    assert all(torch.equal(before[k], v) for k, v in model.fusion_decoder.state_dict().items())


@torch.no_grad()
def test_residual_decoder_renders_onto_the_latest_frame_while_stepping(tiny_config):
    model = build(tiny_config, residual_decoder=True)
    torch.nn.init.normal_(model.fusion_decoder.head.fc2.weight, std=0.1)
    context = torch.randn(1, 3, tiny_config.embed_dim, 4, 4)
    state = model.start(context)
    torch.testing.assert_close(state.last_frame, to_grid(context)[:, -1:])
    action = torch.zeros(1, tiny_config.action_dim)
    tokens, state = model.step(state, action)
    assert torch.equal(to_grid(tokens[:, None]), state.last_frame)
    _, preview = model.preview(state, action)
    _, from_first = model.preview(replace(state, last_frame=state.first_frame), action)
    assert (preview - from_first).abs().max() > 1e-3


def test_extra_loss_terms_only_when_weighted_and_detached_dynamics_leaves_the_structure_alone(tiny_config):
    model = build(tiny_config, **SMALL_OPTIONS).train()
    tokens = torch.randn(2, 4, tiny_config.embed_dim, 4, 4)
    _, published_terms = world_model_loss(model, tokens)
    assert "oracle" not in published_terms and "detached_dynamics" not in published_terms
    _, terms = world_model_loss(model, tokens, weights=LossWeights(oracle=1.0, detached_dynamics=1.0))
    assert torch.isfinite(terms["oracle"]) and torch.isfinite(terms["detached_dynamics"])
    terms["detached_dynamics"].backward()
    encoder_grads = [p.grad for p in model.structure_encoder.parameters()]
    assert all(g is None or not g.any() for g in encoder_grads)
    assert any(p.grad is not None and p.grad.any() for p in model.inverse_model.parameters())
    assert any(p.grad is not None and p.grad.any() for p in model.forward_model.parameters())


def test_local_correlation_peaks_at_the_offset_the_structure_moved_by():
    """g_{t+1} is g_t moved one cell right: g_{t+1}(p) matches g_t(p - (0, 1)), offset index 3 of 3x3."""
    from dila.modules.inverse_model import local_correlation

    g_prev = torch.randn(1, 1, 6, 6, 16)
    g_next = torch.roll(g_prev, shifts=1, dims=3)
    corr = local_correlation(g_prev, g_next)
    assert corr.shape == (1, 1, 6, 6, 9)
    inner = corr[:, :, 1:-1, 2:-1]
    assert (inner.argmax(dim=-1) == 3).all()
    torch.testing.assert_close(inner[..., 3], g_next[:, :, 1:-1, 2:-1].pow(2).mean(-1))

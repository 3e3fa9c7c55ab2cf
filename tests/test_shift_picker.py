"""The warp's shift picker: every pixel's shift picked among its cell's, its neighbours', none and the action's move."""
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from dila import DiLAWorldModel
from dila.codecs.light import LightCodec, LightCodecConfig
from dila.losses import LossWeights, PickTarget, picking_loss, world_model_loss
from dila.modules.warp import (
    PixelWarp,
    ShiftPicker,
    bilinear_prior,
    cell_neighbourhoods,
    follow,
)
from dila.train import initial_weights, parameter_groups, parse_args

PATCH = 8
PICKER_EXTRAS = ("fusion_decoder.warp.pixel_offset", "fusion_decoder.warp.move_gain")


@pytest.mark.parametrize("size", [(2, 3), (4, 4)])
def test_the_prior_over_neighbours_is_bilinear_upsampling(size):
    cells = torch.randn(2, 2, *size)
    h, w = size
    prior = bilinear_prior(PATCH).repeat(1, h, w)
    upsampled = torch.einsum("nskyx,kyx->nsyx", cell_neighbourhoods(cells, PATCH), prior[:9])
    expected = F.interpolate(cells, scale_factor=PATCH, mode="bilinear", align_corners=False)
    torch.testing.assert_close(upsampled, expected)
    assert torch.all(prior[9:] == 0)


@torch.no_grad()
def test_the_picker_starts_as_bilinear_and_can_pick_a_cell_none_or_the_actions_move():
    torch.manual_seed(0)
    picker = ShiftPicker(3, 16, 8, PATCH)
    guide, cells, hidden = torch.rand(1, 3, 24, 24), torch.randn(1, 2, 3, 3), torch.randn(1, 3, 3, 16)
    move = torch.tensor([[1.5, -0.5]])
    pick = lambda k: picker.net[-1].bias.copy_(100.0 * F.one_hot(torch.tensor(k), 11).float())
    expected = F.interpolate(cells, scale_factor=PATCH, mode="bilinear", align_corners=False)
    assert (picker(guide, cells, hidden, move) - expected).abs().max() < 0.01
    pick(4)
    per_pixel = cells.repeat_interleave(PATCH, -1).repeat_interleave(PATCH, -2)
    torch.testing.assert_close(picker(guide, cells, hidden, move), per_pixel)
    pick(9)
    assert picker(guide, cells, hidden, move).abs().max() < 1e-6
    pick(10)
    torch.testing.assert_close(picker(guide, cells, hidden, move), move[:, :, None, None].expand(-1, -1, 24, 24))


def object_scenes(n: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """Noise backdrops (32x32) with a bright 4x4 square somewhere; the square moves 2 px right and the
    backdrop stays. Returns the frames and the moved frames."""
    frames = torch.rand(n, 3, 32, 32, generator=generator) * 0.5
    moved = frames.clone()
    for i in range(n):
        y, x = torch.randint(2, 24, (2,), generator=generator).tolist()
        frames[i, :, y : y + 4, x : x + 4] = 1.0
        moved[i, :, y : y + 4, x + 2 : x + 6] = 1.0
    return frames, moved


def test_the_picker_learns_which_pixels_take_the_actions_move():
    """The cells say nothing moves (a decoder unsure where the object is); the action says a part moves
    2 px right: from the pick term the picker learns which pixels move, and the backdrop around them stays.
    (The pixel error's own gradient only teaches it to take the move back everywhere.)"""
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    picker = ShiftPicker(3, 16, 16, PATCH)
    hidden, cells, move = torch.zeros(1, 4, 4, 16), torch.zeros(1, 2, 4, 4), torch.tensor([[-2.0, 0.0]])
    optimizer = torch.optim.Adam(picker.parameters(), lr=3e-3)

    inputs = lambda n: (cells.expand(n, -1, -1, -1), hidden.expand(n, -1, -1, -1), move.expand(n, -1))

    def error(frames, moved):
        shifts = picker(frames, *inputs(len(frames)))
        return (follow(frames, shifts[:, 0], shifts[:, 1]) - moved).abs().mean()

    held_out = object_scenes(16, generator)
    with torch.no_grad():
        bilinear = error(*held_out).item()
    for _ in range(150):
        frames, moved = object_scenes(16, generator)
        loss = picking_loss(picker, (frames, *inputs(16), None), frames, moved)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        picked = error(*held_out).item()
    assert picked < 0.5 * bilinear


def test_the_option_needs_a_flowing_warp_and_starts_a_trained_model_unchanged(tiny_config):
    warping = replace(tiny_config, residual_decoder=True, decoder_warp=2, warp_patch=2, warp_channels=4, dropout=0.0)
    with pytest.raises(ValueError, match="warp_refine"):
        replace(warping, warp_refine=8)
    with pytest.raises(ValueError, match="warp_refine"):
        replace(tiny_config, warp_refine=8)
    flowing = replace(warping, warp_mode="flow")
    torch.manual_seed(0)
    source = DiLAWorldModel(flowing).eval()
    source.fusion_decoder.warp.shifts.weight.data.normal_(std=0.1)
    picking = initial_weights(source, replace(flowing, warp_refine=8)).eval()
    added = set(picking.state_dict()) - set(source.state_dict())
    assert added and all(k.startswith("fusion_decoder.warp.picker.") or k in PICKER_EXTRAS for k in added)
    d = tiny_config.embed_dim
    for model in (source, picking):
        model.fusion_decoder.warp.to_pixels.copy_(torch.eye(2 * 2 * 4, d))
        model.fusion_decoder.warp.to_tokens.copy_(torch.eye(d, 2 * 2 * 4))
    x = torch.randn(1, 3, d, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(picking.one_step(x), source.one_step(x), atol=0.01, rtol=0)


@torch.no_grad()
def test_the_picker_sees_the_frame_the_tokens_decode_to():
    torch.manual_seed(0)
    codec = LightCodec(LightCodecConfig(image_size=16, grid_size=2, latent_dim=40, width=16, groups=4,
                                        decoder_branch=False)).eval()
    codec.latent_std.uniform_(0.5, 2.0)
    codec.latent_mean.normal_()
    warp = PixelWarp(40, 4, 2, PATCH, 3, "flow", refine=8)
    warp.to_pixels.normal_()
    assert not warp.ready
    warp.init_from_codec(codec)
    assert warp.ready
    z = torch.randn(1, 40, 2, 2)
    tokens = z.permute(0, 2, 3, 1)[:, None]
    view = warp.pixels(tokens)
    torch.testing.assert_close(view + warp.offset_image(view), codec.reconstruct(z * codec.latent_std + codec.latent_mean))


def test_the_pick_term_reaches_the_picker_and_needs_one(tiny_config):
    torch.manual_seed(0)
    codec = LightCodec(LightCodecConfig(image_size=16, grid_size=2, latent_dim=40, width=16, groups=4)).eval()
    warping = replace(tiny_config, embed_dim=40, residual_decoder=True, decoder_warp=3, warp_patch=PATCH, warp_channels=3,
                      warp_mode="flow", dropout=0.0)
    frames = torch.stack(object_scenes(2, torch.Generator().manual_seed(1)), dim=1)[..., :16, :16]
    with torch.no_grad():
        tokens = codec.encode(frames.flatten(0, 1)).unflatten(0, (2, 2))
    weights = LossWeights(pick=1.0)
    plain = DiLAWorldModel(warping)
    plain.fusion_decoder.warp.init_from_codec(codec)
    with pytest.raises(ValueError, match="needs a shift picker"):
        world_model_loss(plain, tokens, 1, weights, frames=frames)
    model = DiLAWorldModel(replace(warping, warp_refine=8))
    model.fusion_decoder.warp.init_from_codec(codec)
    with pytest.raises(ValueError, match="pick term needs the clip's frames"):
        world_model_loss(model, tokens, 1, weights)
    loss, terms = world_model_loss(model, tokens, 1, weights, frames=frames)
    loss.backward()
    assert torch.isfinite(terms["pick"]) and terms["pick"] > 0
    assert model.fusion_decoder.warp.picker.net[-1].weight.grad.abs().sum() > 0
    with torch.no_grad():
        warmer = world_model_loss(model, tokens, 1, weights, frames=frames, pick=PickTarget(temperature=0.1))[1]["pick"]
    assert abs(warmer - terms["pick"]) > 1e-4  # the temperature reaches the term
    assert parse_args(["--out", "x", "--pick-temperature", "0.01"]).pick_temperature == 0.01


def test_the_actions_move_is_its_first_two_coordinates_in_pixels_times_a_gain_within_the_radius():
    warp = PixelWarp(16, 4, 3, PATCH, 3, "flow", refine=8)
    actions = torch.tensor([[[1.0, -2.0, 9.0, 9.0]], [[-2.5, 0.5, 0.0, 0.0]]])
    torch.testing.assert_close(warp.action_move(actions), torch.tensor([[-1.0, 2.0], [2.5, -0.5]]))
    with torch.no_grad():
        warp.move_gain.fill_(1.5)
    torch.testing.assert_close(warp.action_move(actions), torch.tensor([[-1.5, 3.0], [3.0, -0.75]]))


def test_the_picker_can_learn_at_its_own_rate(tiny_config):
    warping = replace(tiny_config, residual_decoder=True, decoder_warp=2, warp_patch=2, warp_channels=4, dropout=0.0,
                      warp_mode="flow")
    model = DiLAWorldModel(replace(warping, warp_refine=8))
    rest, picker = parameter_groups(model, 1e-3, 10.0)
    assert picker["lr"] == pytest.approx(1e-2) and "lr" not in rest
    assert {id(p) for p in picker["params"]} == {id(p) for p in model.fusion_decoder.warp.picker.parameters()}
    assert len(rest["params"]) + len(picker["params"]) == len(list(model.parameters()))
    assert len(parameter_groups(model, 1e-3)) == 1
    with pytest.raises(ValueError, match="needs a model with a shift picker"):
        parameter_groups(DiLAWorldModel(warping), 1e-3, 10.0)
    assert parse_args(["--out", "x", "--picker-lr-scale", "10"]).picker_lr_scale == 10


OWN_CELL, NONE = 4, 9


@torch.no_grad()
def loss_when_picking(k: int, last: torch.Tensor, target: torch.Tensor, **scoring) -> float:
    """The pick term of a picker that picks candidate `k` everywhere, every cell saying (2, 2) and the action (2, 0)."""
    torch.manual_seed(0)
    picker = ShiftPicker(3, 16, 8, PATCH)
    cells, hidden, move = torch.full((1, 2, 3, 3), 2.0), torch.randn(1, 3, 3, 16), torch.tensor([[2.0, 0.0]])
    picker.net[-1].bias.copy_(100.0 * F.one_hot(torch.tensor(k), 11).float())
    return picking_loss(picker, (last, cells, hidden, move, None), last, target, **scoring).item()


def test_stillness_makes_the_pick_target_stay_where_moving_explains_nothing_more():
    def loss(k: int, last: torch.Tensor, target: torch.Tensor, stillness: float) -> float:
        return loss_when_picking(k, last, target, settings=PickTarget(stillness=stillness))

    flat = torch.full((1, 3, 24, 24), 0.4)
    assert loss(OWN_CELL, flat, flat, 0.0) < loss(NONE, flat, flat, 0.0)  # a tie: the prior moves
    assert loss(NONE, flat, flat, 0.005) < loss(OWN_CELL, flat, flat, 0.005)  # a tie: stay
    noise = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(3))
    panned = follow(noise, torch.full((1, 24, 24), 2.0), torch.full((1, 24, 24), 2.0))
    assert loss(OWN_CELL, noise, panned, 0.005) < loss(NONE, noise, panned, 0.005)  # a move shown
    assert parse_args(["--out", "x", "--pick-stillness", "0.005"]).pick_stillness == 0.005


def test_the_true_motion_decides_the_pick_target_where_the_frames_cannot():
    flat = torch.full((1, 3, 24, 24), 0.4)  # every candidate explains a flat frame alike
    still, moved = torch.zeros(1, 2, 24, 24), torch.full((1, 2, 24, 24), 2.0)  # moved: as every cell says
    assert loss_when_picking(NONE, flat, flat, truth=still) < 0.01 < loss_when_picking(OWN_CELL, flat, flat, truth=still)
    assert loss_when_picking(OWN_CELL, flat, flat, truth=moved) < loss_when_picking(NONE, flat, flat, truth=moved)

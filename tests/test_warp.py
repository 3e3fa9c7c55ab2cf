"""The pixel warp design option (`decoder_warp`): it moves pixels by whole pixels, starts as no change,
learns a shift from the loss, and takes its pixel view from a light codec."""
from dataclasses import replace

import helpers
import pytest
import torch
from einops import rearrange

from dila import DiLAWorldModel
from dila.codecs.light import LightCodec, LightCodecConfig
from dila.losses import LossWeights, gradient_difference, world_model_loss
from dila.modules.warp import LOGIT_SCALE, PixelWarp, follow, shift_along
from dila.train import initial_weights

PATCH, CHANNELS, ACTION_DIM = 4, 3, 2


def one_hot(k: int, index: int, shape) -> torch.Tensor:
    weights = torch.zeros(shape[0], k, *shape[2:])
    weights[:, index] = 1
    return weights


def test_a_one_hot_shift_moves_the_image_by_whole_pixels_and_replicates_the_border():
    image = torch.rand(2, 3, 8, 8)
    r = 3
    right_by_two = shift_along(image, one_hot(2 * r + 1, r - 2, image.shape), -1)
    assert torch.equal(right_by_two[..., 2:], image[..., :-2])
    assert torch.equal(right_by_two[..., :2], image[..., :1].expand(-1, -1, -1, 2))
    up_by_one = shift_along(image, one_hot(2 * r + 1, r + 1, image.shape), -2)
    assert torch.equal(up_by_one[..., :-1, :], image[..., 1:, :])
    assert torch.equal(shift_along(image, one_hot(2 * r + 1, r, image.shape), -1), image)


def test_a_flow_reads_each_pixel_from_one_place_whole_or_between_pixels():
    image = torch.rand(2, 3, 8, 8)
    zero = torch.zeros(2, 8, 8)
    torch.testing.assert_close(follow(image, zero, zero), image)
    right_by_two = follow(image, zero - 2, zero)
    torch.testing.assert_close(right_by_two[..., 2:], image[..., :-2])
    torch.testing.assert_close(right_by_two[..., :2], image[..., :1].expand(-1, -1, -1, 2))
    torch.testing.assert_close(follow(image, zero, zero + 1)[..., :-1, :], image[..., 1:, :])
    half = follow(image, zero + 0.5, zero)
    torch.testing.assert_close(half[..., :-1], (image[..., :-1] + image[..., 1:]) / 2)


def test_a_flow_can_read_the_nearest_whole_pixel_and_reflect_beyond_the_border():
    image = torch.rand(2, 3, 8, 8)
    zero = torch.zeros(2, 8, 8)
    torch.testing.assert_close(follow(image, zero + 0.4, zero, whole=True), image)
    torch.testing.assert_close(follow(image, zero + 0.6, zero, whole=True)[..., :-1], image[..., 1:])
    right_by_two = follow(image, zero - 2, zero, border="reflect")
    torch.testing.assert_close(right_by_two[..., 2:], image[..., :-2])
    torch.testing.assert_close(right_by_two[..., :2], image[..., [1, 0]])
    blended = shift_along(image, one_hot(7, 1, image.shape), -1, border="reflect")  # right by two, as a mixture
    torch.testing.assert_close(blended, right_by_two)
    with pytest.raises(ValueError, match="warp border"):
        PixelWarp(8, 2, 3, PATCH, CHANNELS, "flow", border="wrap")


def identity_warp(radius: int = 3, mode: str = "blend") -> PixelWarp:
    """A warp whose tokens are the patch pixels themselves."""
    dim = PATCH * PATCH * CHANNELS
    warp = PixelWarp(dim, ACTION_DIM, radius, PATCH, CHANNELS, mode)
    warp.to_pixels.copy_(torch.eye(dim))
    warp.to_tokens.copy_(torch.eye(dim))
    return warp


def as_tokens(image: torch.Tensor) -> torch.Tensor:
    return rearrange(image, "b c (h p) (w q) -> b 1 h w (p q c)", p=PATCH, q=PATCH)


@pytest.mark.parametrize("mode", ["blend", "flow"])
@torch.no_grad()
def test_the_change_is_zero_at_the_start_and_a_whole_pixel_move_once_chosen(mode):
    warp = identity_warp(mode=mode)
    image = torch.rand(1, CHANNELS, 16, 16)
    features, actions = torch.randn(1, 1, 4, 4, warp.to_pixels.shape[1]), torch.randn(1, 1, ACTION_DIM)
    assert warp(features, as_tokens(image), actions).abs().max() < 1e-5
    r = warp.radius
    if mode == "blend":
        warp.gate.bias.fill_(1.0)
    warp.shifts.bias.fill_(-1e3)
    warp.shifts.bias[[r - 2, 2 * r + 1 + r]] = 0.0  # x: read p(x - 2), content moves right by 2; y: stay
    moved = as_tokens(image) + warp(features, as_tokens(image), actions)
    expected = torch.cat((image[..., :1].expand(-1, -1, -1, 2), image[..., :-2]), dim=-1)
    torch.testing.assert_close(moved, as_tokens(expected))


@pytest.mark.parametrize("mode", ["blend", "flow"])
def test_the_loss_teaches_the_warp_to_move_as_the_action_says(mode):
    """Two images, one moved 2 px right and one 2 px left, told apart by their actions alone (the same
    features): the warp learns each move from the loss."""
    torch.manual_seed(0)
    warp = identity_warp(mode=mode)
    images = torch.nn.functional.avg_pool2d(torch.rand(2, CHANNELS, 36, 36), 3, 1)[..., :32, :32]
    targets = torch.stack((torch.roll(images[0], 2, dims=-1), torch.roll(images[1], -2, dims=-1)))
    features = torch.randn(1, 1, 8, 8, warp.to_pixels.shape[1]).expand(2, -1, -1, -1, -1)
    actions = torch.tensor([[[1.0, 0.0]], [[-1.0, 0.0]]])
    optimizer = torch.optim.Adam(warp.parameters(), lr=0.01)
    for _ in range(150):
        error = as_tokens(images) + warp(features, as_tokens(images), actions) - as_tokens(targets)
        loss = error[..., 1:-1, :].pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        k_x, k_y = warp.distributions(warp.hidden(features, actions))
    mean_shift_x, mean_shift_y = warp.expected_shift(k_x), warp.expected_shift(k_y)
    assert loss.item() < 0.1 * (images - targets).pow(2).mean().item()
    assert mean_shift_x[0, 8:-8, 8:-8].median().item() == pytest.approx(-2.0, abs=0.3)
    assert mean_shift_x[1, 8:-8, 8:-8].median().item() == pytest.approx(2.0, abs=0.3)
    assert mean_shift_y[:, 8:-8, 8:-8].abs().median().item() < 0.3


@torch.no_grad()
def test_the_pixel_view_is_the_light_codecs_linear_maps():
    torch.manual_seed(0)
    codec = LightCodec(LightCodecConfig(image_size=16, grid_size=4, latent_dim=40, width=16, groups=4)).eval()
    codec.latent_std.uniform_(0.5, 2.0)
    codec.latent_mean.normal_()
    warp = PixelWarp(40, ACTION_DIM, 2, PATCH, CHANNELS)
    assert not warp.ready
    warp.init_from_codec(codec)
    assert warp.ready
    z1, z2 = torch.randn(2, 1, 40, 4, 4)
    linear_decode = lambda z: codec.decoder_linear(z * codec.latent_std + codec.latent_mean)
    pixels = lambda z: rearrange(z, "1 d h w -> 1 h w d") @ warp.to_pixels.T
    torch.testing.assert_close(pixels(z1) - pixels(z2), rearrange(linear_decode(z1) - linear_decode(z2), "1 v h w -> 1 h w v"))
    p1, p2 = torch.rand(2, 1, PATCH * PATCH * CHANNELS, 4, 4)
    linear_encode = lambda p: codec.encoder_linear(p) / codec.latent_std
    tokens = lambda p: rearrange(p, "1 v h w -> 1 h w v") @ warp.to_tokens.T
    torch.testing.assert_close(tokens(p1) - tokens(p2), rearrange(linear_encode(p1) - linear_encode(p2), "1 d h w -> 1 h w d"))
    with pytest.raises(ValueError, match="needs 8-pixel patches; this codec has 4-pixel ones"):
        PixelWarp(40, ACTION_DIM, 2, 8, CHANNELS).init_from_codec(codec)


def test_the_option_needs_a_residual_decoder_and_starts_a_trained_model_unchanged(tiny_config):
    with pytest.raises(ValueError, match="decoder_warp"):
        replace(tiny_config, decoder_warp=2)
    with pytest.raises(ValueError, match="decoder_warp"):
        replace(tiny_config, residual_decoder=True, decoder_warp=-1)
    with pytest.raises(ValueError, match="warp_mode"):
        replace(tiny_config, residual_decoder=True, decoder_warp=2, warp_mode="smear")
    with pytest.raises(ValueError, match="render 'pixels' needs decoder_warp"):
        replace(tiny_config, render="pixels")
    with pytest.raises(ValueError, match="render must be one of"):
        replace(tiny_config, residual_decoder=True, decoder_warp=2, render="splat")
    torch.manual_seed(0)
    base = replace(tiny_config, residual_decoder=True, dropout=0.0)
    source = DiLAWorldModel(base).eval()
    source.fusion_decoder.head.fc2.weight.data.normal_()
    warped = initial_weights(source, replace(base, decoder_warp=2, warp_patch=2, warp_channels=4)).eval()
    assert all(torch.equal(v, warped.state_dict()[k]) for k, v in source.state_dict().items())
    assert {k for k in warped.state_dict()} - set(source.state_dict()) == {
        f"fusion_decoder.warp.{n}.{p}" for n in ("norm", "fc", "action", "shifts", "gate") for p in ("weight", "bias")
    } | {"fusion_decoder.warp.to_pixels", "fusion_decoder.warp.to_tokens"}
    d = tiny_config.embed_dim
    warped.fusion_decoder.warp.to_pixels.copy_(torch.randn(2 * 2 * 4, d))
    warped.fusion_decoder.warp.to_tokens.copy_(torch.randn(d, 2 * 2 * 4))
    x = torch.randn(1, 3, d, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(warped.one_step(x), source.one_step(x))


def test_a_blending_warp_moves_into_a_flowing_one_without_its_gate(tiny_config):
    base = replace(tiny_config, residual_decoder=True, decoder_warp=2, warp_patch=2, warp_channels=4, dropout=0.0)
    source = DiLAWorldModel(base)
    source.fusion_decoder.warp.shifts.weight.data.normal_()
    flowing = initial_weights(source, replace(base, warp_mode="flow"))
    gate = {"fusion_decoder.warp.gate.weight", "fusion_decoder.warp.gate.bias"}
    assert set(source.state_dict()) - set(flowing.state_dict()) == gate
    assert torch.equal(flowing.fusion_decoder.warp.shifts.weight, source.fusion_decoder.warp.shifts.weight)


def test_the_gradient_difference_prefers_a_sharp_near_miss_where_mse_prefers_a_blur():
    image = torch.zeros(1, 3, 16, 16)
    image[..., 4:10, 5:11] = 1.0  # a square
    blurred = torch.nn.functional.avg_pool2d(image, 3, 1, padding=1)
    near_miss = torch.roll(image, 1, dims=-1)
    mse = lambda p: (p - image).pow(2).mean()
    assert gradient_difference(image, image) == 0
    assert mse(blurred) < mse(near_miss)
    assert gradient_difference(blurred, image) > gradient_difference(near_miss, image)


def test_the_sharpness_term_needs_a_warping_decoder_and_trains_it(tiny_config):
    torch.manual_seed(0)
    x = torch.randn(2, 3, tiny_config.embed_dim, 4, 4)
    weights = LossWeights(sharpness=1.0)
    with pytest.raises(ValueError, match="sharpness term needs a warping decoder"):
        world_model_loss(DiLAWorldModel(tiny_config), x, 1, weights)
    model = DiLAWorldModel(replace(tiny_config, residual_decoder=True, decoder_warp=2, warp_patch=2, warp_channels=4)).eval()
    warp = model.fusion_decoder.warp
    warp.to_pixels.copy_(torch.randn(2 * 2 * 4, tiny_config.embed_dim))
    warp.to_tokens.copy_(torch.randn(tiny_config.embed_dim, 2 * 2 * 4))
    _, terms = world_model_loss(model, x, 1, weights)
    with torch.no_grad():
        predicted = model.one_step(x)  # the phase-1 prediction the loss scores
    expected = gradient_difference(warp.pixels(rearrange(predicted, "b t d h w -> b t h w d")),
                                   warp.pixels(rearrange(x[:, 1:], "b t d h w -> b t h w d")))
    torch.testing.assert_close(terms["sharpness"], expected)
    terms["sharpness"].backward()
    assert model.fusion_decoder.head.fc2.weight.grad.abs().sum() > 0
    assert "sharpness" not in world_model_loss(model, x, 1, LossWeights())[1]



def shifting_model(tiny_config, shift: int = 2, mode: str = "flow") -> DiLAWorldModel:
    return helpers.shifting_model(tiny_config, PATCH, shift, mode)


def test_the_pixel_term_scores_the_true_frame_moved_by_the_warp(tiny_config):
    torch.manual_seed(0)
    images = torch.nn.functional.avg_pool2d(torch.rand(2, CHANNELS, 20, 20), 3, 1)[..., :16, :16]
    frames = torch.stack((images, torch.roll(images, 2, dims=-1)), dim=1)  # b t c H W: moved right 2 px
    x = rearrange(frames, "b t c (h p) (w q) -> b t (p q c) h w", p=PATCH, q=PATCH)
    weights = LossWeights(pixel=1.0)
    interior = lambda m: world_model_loss(m, x, 1, weights, frames=frames)[1]["pixel"]
    moving = shifting_model(tiny_config, shift=2)
    assert interior(moving) < 0.25 * interior(shifting_model(tiny_config, shift=0))  # what is left is the rolled-in border
    still = shifting_model(tiny_config, shift=0)
    still.fusion_decoder.warp.shifts.bias.data.zero_()  # an undecided warp, which the term can teach
    interior(still).backward()
    assert still.fusion_decoder.head.fc2.weight.grad.abs().sum() > 0
    assert still.fusion_decoder.warp.shifts.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="pixel term needs the clip's frames"):
        world_model_loss(moving, x, 1, weights)
    three = torch.cat((frames, torch.roll(frames[:, 1:], 2, dims=-1)), dim=1)  # a rollout: each step moves on
    rolled = rearrange(three, "b t c (h p) (w q) -> b t (p q c) h w", p=PATCH, q=PATCH)
    phase2 = lambda m: world_model_loss(m, rolled, 2, weights, frames=three)[1]["pixel"]
    assert phase2(moving) < 0.25 * phase2(shifting_model(tiny_config, shift=0))


@pytest.mark.parametrize("mode", ["blend", "flow"])
@torch.no_grad()
def test_the_shown_frame_is_the_last_one_moved_and_agrees_with_lossless_tokens(tiny_config, mode):
    model = shifting_model(tiny_config, mode=mode)
    decoder = model.fusion_decoder
    decoder.head.fc2.bias.normal_()  # a head that changes something
    image = torch.rand(1, CHANNELS, 16, 16)
    tokens = rearrange(image, "b c (h p) (w q) -> b 1 h w (p q c)", p=PATCH, q=PATCH)
    features = torch.randn(1, 1, 4, 4, model.config.embed_dim)
    action = torch.randn(1, 1, model.config.action_dim)
    moved = torch.cat((image[..., :1].expand(-1, -1, -1, 2), image[..., :-2]), dim=-1)
    shown = decoder.show(features, image, action)
    torch.testing.assert_close(shown, moved + decoder.warp.pixels(decoder.head(features)))
    torch.testing.assert_close(decoder.warp.pixels(decoder.output(features, tokens, action)), shown)


@torch.no_grad()
def test_frames_shown_with_whole_moves_read_the_nearest_whole_pixel(tiny_config):
    image = torch.rand(1, 1, CHANNELS, 16, 16)
    tokens = rearrange(image, "b t c (h p) (w q) -> b t (p q c) h w", p=PATCH, q=PATCH)
    clip, pixels = tokens.expand(-1, 2, -1, -1, -1), image.expand(-1, 2, -1, -1, -1)
    shown = {}
    for moves in ("bilinear", "whole"):
        model = helpers.shifting_model(replace(tiny_config, shown_moves=moves), PATCH)
        warp = model.fusion_decoder.warp
        warp.shifts.bias[[warp.radius - 2, warp.radius - 3]] = torch.tensor([0.4, 0.6]).log() / LOGIT_SCALE
        shown[moves] = model.one_step_shown(clip, pixels)  # everything 2.6 px right
    whole = torch.cat((image[0, :, :, :, :1].expand(-1, -1, -1, 3), image[0, :, :, :, :-3]), dim=-1)
    torch.testing.assert_close(shown["whole"], whole)
    between = 0.4 * torch.cat((image[0, ..., :1].expand(-1, -1, -1, 2), image[0, ..., :-2]), dim=-1) + 0.6 * whole
    torch.testing.assert_close(shown["bilinear"][..., 3:], between[..., 3:])
    with pytest.raises(ValueError, match="shown_moves"):
        replace(tiny_config, shown_moves="round")

"""The motion and readout terms: block matching reads each cell's move off the frames; the motion term
holds a warping decoder's mean shift per cell to it, the readout term holds the latent action's first
coordinates to the dominant motion fitted to it, in both phases and through the trainer."""
import json
from dataclasses import replace

import pytest
import torch

from dila import DiLAWorldModel
from dila.block_motion import block_shifts, dominant_motion, part_and_whole_motion
from dila.codecs.light import LightCodec, LightCodecConfig
from dila.losses import LossWeights, even_loss, world_model_loss
from dila.train import parse_args, train


def textured(size: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.nn.functional.avg_pool2d(torch.rand(3, size + 2, size + 2, generator=generator)[None], 3, 1)[0]


def test_block_matching_reads_a_moving_square_a_pan_and_a_still_flat_frame():
    background, square = textured(48, 0), textured(16, 1)
    before, after = background.clone(), background.clone()
    before[:, 16:32, 16:32] = square
    after[:, 13:29, 18:34] = square  # the square moves 2 px right and 3 px up
    shifts = block_shifts(torch.stack((before, after))[None], patch=8, radius=5)
    assert shifts.shape == (1, 1, 6, 6, 2)
    assert shifts[0, 0, 2, 3].tolist() == [-2.0, 3.0]  # a cell inside the square reads from 2 px left, 3 px down
    assert shifts[0, 0, [0, 0, 5, 5], [0, 5, 0, 5]].abs().sum() == 0  # the background stays
    pan = torch.stack((background, torch.roll(background, -1, dims=-1)))[None]
    assert (block_shifts(pan, patch=8, radius=5)[0, 0, 1:-1, 1:-1] == torch.tensor([1.0, 0.0])).all()
    flat = torch.full((1, 2, 3, 16, 16), 0.5)
    assert block_shifts(flat, patch=8, radius=5).abs().sum() == 0


def similarity_field(move, growth, turn, moving):
    """Warp shifts `1 1 h w 2` of content moving by `move`, growing and turning about the moving cells' mean."""
    ys, xs = torch.meshgrid(torch.arange(6.0), torch.arange(6.0), indexing="ij")
    cells = torch.stack((xs, ys), -1)
    centred = cells - cells[moving].mean(0)
    turned = torch.stack((-centred[..., 1], centred[..., 0]), -1)
    motion = torch.tensor(move) + growth * centred + turn * turned
    return torch.where(moving[..., None], -motion, torch.zeros(2))[None, None]


def test_the_dominant_motion_is_the_similarity_of_the_cells_that_moved():
    everywhere = torch.ones(6, 6, dtype=torch.bool)
    torch.testing.assert_close(dominant_motion(similarity_field([2.0, -1.0], 0.0, 0.0, everywhere))[0, 0],
                               torch.tensor([2.0, -1.0, 0.0, 0.0]))
    square = torch.zeros(6, 6, dtype=torch.bool)
    square[1:4, 2:5] = True
    torch.testing.assert_close(dominant_motion(similarity_field([1.5, 0.5], 0.4, -0.3, square))[0, 0],
                               torch.tensor([1.5, 0.5, 0.4, -0.3]), atol=1e-4, rtol=0)
    two = torch.zeros(6, 6, dtype=torch.bool)
    two[0, :2] = True
    assert dominant_motion(similarity_field([3.0, 3.0], 0.0, 0.0, two)).abs().sum() == 0


def test_a_part_and_the_whole_view_moving_alike_are_told_apart_by_the_share_of_cells_that_moved():
    everywhere, square = torch.ones(6, 6, dtype=torch.bool), torch.zeros(6, 6, dtype=torch.bool)
    square[1:4, 2:5] = True  # 9 of 36 cells
    pan = similarity_field([2.0, -1.0], 0.0, 0.0, everywhere)
    part = similarity_field([2.0, -1.0], 0.0, 0.0, square)
    torch.testing.assert_close(part_and_whole_motion(pan, whole=0.4)[0, 0], torch.tensor([0.0] * 4 + [2.0, -1.0, 0.0, 0.0]))
    torch.testing.assert_close(part_and_whole_motion(part, whole=0.4)[0, 0], torch.tensor([2.0, -1.0, 0.0, 0.0] + [0.0] * 4),
                               atol=1e-4, rtol=0)
    assert part_and_whole_motion(part, whole=0.2)[0, 0, :4].abs().sum() == 0  # 25% of the cells is a whole at 0.2
    still = torch.zeros(1, 1, 6, 6, 2)
    assert part_and_whole_motion(still, whole=0.4).abs().sum() == 0


def test_block_matching_then_the_dominant_motion_reads_a_square_moving_in_a_textured_scene():
    background, square = textured(48, 0), textured(16, 1)
    before, after = background.clone(), background.clone()
    before[:, 16:32, 16:32] = square
    after[:, 13:29, 18:34] = square
    move = dominant_motion(block_shifts(torch.stack((before, after))[None], patch=8, radius=5))[0, 0]
    assert move[0] == pytest.approx(2.0, abs=0.6) and move[1] == pytest.approx(-3.0, abs=0.6)


@pytest.mark.parametrize("phase", [1, 2])
def test_the_readout_term_holds_the_first_action_coordinates_to_the_dominant_motion(tiny_config, phase):
    torch.manual_seed(0)
    model = DiLAWorldModel(replace(tiny_config, dropout=0.0))
    x = torch.randn(2, 4, tiny_config.embed_dim, 4, 4)
    shifts = torch.randint(-2, 3, (2, 3, 4, 4, 2)).float()
    with pytest.raises(ValueError, match="readout term needs the clip's block-matched shifts"):
        world_model_loss(model, x, phase, LossWeights(readout=1.0))
    _, terms = world_model_loss(model, x, phase, LossWeights(readout=1.0), shifts)
    actions = model.latent_actions(x)[0]
    torch.testing.assert_close(terms["readout"], torch.nn.functional.mse_loss(actions[..., :4], dominant_motion(shifts)))
    torch.testing.assert_close(terms["rest"], actions[..., 4:].pow(2).mean())
    terms["readout"].backward()
    assert all(p.grad.abs().sum() > 0 for p in model.inverse_model.parameters())
    assert "readout" not in world_model_loss(model, x, phase, LossWeights())[1]
    even = DiLAWorldModel(replace(tiny_config, dropout=0.0, inverse_antisymmetric=True, inverse_even_dims=2))
    _, terms = world_model_loss(even, x, phase, LossWeights(rest=1.0), shifts)
    torch.testing.assert_close(terms["rest"], even.latent_actions(x)[0][..., 4:-2].pow(2).mean())
    with pytest.raises(ValueError, match="more than 8 odd latent action dimensions"):
        world_model_loss(model, x, phase, LossWeights(readout=1.0), shifts, readout_whole=0.4)
    wide = DiLAWorldModel(replace(tiny_config, dropout=0.0, action_dim=12))
    _, terms = world_model_loss(wide, x, phase, LossWeights(readout=1.0), shifts, readout_whole=0.4)
    split = wide.latent_actions(x)[0]
    torch.testing.assert_close(terms["readout"], torch.nn.functional.mse_loss(split[..., :8], part_and_whole_motion(shifts, 0.4)))
    torch.testing.assert_close(terms["rest"], split[..., 8:].pow(2).mean())
    narrow = DiLAWorldModel(replace(tiny_config, action_dim=4))
    with pytest.raises(ValueError, match="more than 4 odd latent action dimensions"):
        world_model_loss(narrow, x, phase, LossWeights(readout=1.0), shifts)


def test_the_even_term_pays_for_the_coordinates_that_do_not_reverse(tiny_config):
    torch.manual_seed(0)
    x = torch.randn(2, 4, tiny_config.embed_dim, 4, 4)
    even = DiLAWorldModel(replace(tiny_config, dropout=0.0, inverse_antisymmetric=True, inverse_even_dims=2))
    _, terms = world_model_loss(even, x, 1, LossWeights(even=1.0))
    actions = even.latent_actions(x)[0]
    excess = (actions[..., -2:].norm(dim=-1) - actions[..., :-2].norm(dim=-1) / 3).clamp_min(0)
    torch.testing.assert_close(terms["even"], excess.pow(2).mean())
    small = torch.tensor([[[3.0, 4.0, 1.0, 1.0]]])  # |even| = 1.41 < 5 / 3: free, and the reversal cosine
    large = torch.tensor([[[3.0, 4.0, 2.0, 1.0]]])  # |even| = 2.24: pays 0.57^2
    assert even_loss(small, 2) == 0 and even_loss(large, 2).item() == pytest.approx((5**0.5 - 5 / 3) ** 2)
    reversed_small = small * torch.tensor([-1.0, -1.0, 1.0, 1.0])
    assert torch.nn.functional.cosine_similarity(small, reversed_small, dim=-1).item() < -0.8
    assert "readout" not in terms and "even" not in world_model_loss(even, x, 1, LossWeights())[1]
    terms["even"].backward()
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in even.fusion_decoder.parameters())
    assert sum(p.grad.abs().sum() for p in even.inverse_model.parameters()) > 0
    with pytest.raises(ValueError, match="needs a model with inverse_even_dims"):
        world_model_loss(DiLAWorldModel(tiny_config), x, 1, LossWeights(even=1.0))


def warping_model(tiny_config) -> DiLAWorldModel:
    model = DiLAWorldModel(replace(tiny_config, residual_decoder=True, decoder_warp=2, warp_patch=2, warp_channels=4,
                                   dropout=0.0))
    warp = model.fusion_decoder.warp
    warp.to_pixels.copy_(torch.randn(2 * 2 * 4, tiny_config.embed_dim))
    warp.to_tokens.copy_(torch.randn(tiny_config.embed_dim, 2 * 2 * 4))
    return model


@pytest.mark.parametrize("phase", [1, 2])
def test_the_motion_term_is_the_distance_of_the_warps_mean_shift_per_cell(tiny_config, phase):
    torch.manual_seed(0)
    x = torch.randn(2, 4, tiny_config.embed_dim, 4, 4)
    target = torch.randint(-2, 3, (2, 3, 4, 4, 2)).float()
    weights = LossWeights(motion=1.0)
    with pytest.raises(ValueError, match="motion term needs a warping decoder"):
        world_model_loss(DiLAWorldModel(tiny_config), x, phase, weights, target)
    model = warping_model(tiny_config)
    with pytest.raises(ValueError, match="needs the clip's block-matched shifts"):
        world_model_loss(model, x, phase, weights)
    warp = model.fusion_decoder.warp
    with torch.no_grad():  # every cell's distributions: all mass on x = -2, y = +1, whatever the inputs
        warp.shifts.weight.zero_()
        warp.shifts.bias.fill_(-100.0)
        warp.shifts.bias[[0, 5 + 3]] = 100.0
    _, terms = world_model_loss(model, x, phase, weights, target)
    pinned = torch.tensor([-2.0, 1.0])
    torch.testing.assert_close(terms["motion"], (pinned - target).abs().mean())
    assert "motion" not in world_model_loss(model, x, phase, LossWeights())[1]


def test_the_motion_term_teaches_the_warp_and_the_inverse_model(tiny_config):
    torch.manual_seed(0)
    model = warping_model(tiny_config)
    model.fusion_decoder.warp.shifts.weight.data.normal_(std=0.1)  # a trained warp: its shifts depend on its inputs
    x = torch.randn(2, 3, tiny_config.embed_dim, 4, 4)
    _, terms = world_model_loss(model, x, 1, LossWeights(motion=1.0), torch.ones(2, 2, 4, 4, 2))
    terms["motion"].backward()
    assert model.fusion_decoder.warp.shifts.weight.grad.abs().sum() > 0
    assert all(p.grad.abs().sum() > 0 for p in model.inverse_model.parameters())


def test_the_stretch_term_asks_a_larger_action_to_move_the_same_cells_further(tiny_config):
    torch.manual_seed(0)
    model = warping_model(tiny_config)
    warp = model.fusion_decoder.warp
    x = torch.randn(2, 3, tiny_config.embed_dim, 4, 4)
    still = torch.zeros(2, 2, 4, 4, 2)
    with torch.no_grad():  # all mass on x = -2, y = +1, whatever the action's scale
        warp.shifts.weight.zero_()
        warp.shifts.bias.fill_(-100.0)
        warp.shifts.bias[[0, 5 + 3]] = 100.0
    _, terms = world_model_loss(model, x, 1, LossWeights(stretch=1.0), still)
    torch.testing.assert_close(terms["stretch"], torch.tensor(1.5))  # still cells stay however large the action
    with torch.no_grad():  # shifts that follow the action: the term reaches the warp through the scaled action
        warp.shifts.bias.zero_()
        warp.shifts.weight.normal_(std=0.1)
    _, terms = world_model_loss(model, x, 1, LossWeights(stretch=1.0), torch.ones(2, 2, 4, 4, 2))
    terms["stretch"].backward()
    assert warp.action.weight.grad.abs().sum() > 0


def test_a_run_with_the_motion_and_readout_terms_logs_them(tmp_path, tiny_config):
    torch.manual_seed(0)
    codec = LightCodec(LightCodecConfig(image_size=32, grid_size=4, latent_dim=32, width=16, decoder_blocks=1))
    codec.save_pretrained(tmp_path / "codec")
    replace(tiny_config, residual_decoder=True, decoder_warp=2, warp_patch=8, warp_channels=3).save(tmp_path / "model.json")
    run = tmp_path / "run"
    train(parse_args(["--out", str(run), "--codec", str(tmp_path / "codec"), "--model-config", str(tmp_path / "model.json"),
                      "--batch-size", "2", "--frames", "3", "--num-clips", "8", "--log-every", "1", "--warmup", "1",
                      "--steps", "2", "--motion-weight", "0.5", "--readout-weight", "0.1", "--rest-weight", "0.1",
                      "--stretch-weight", "0.5"]))
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2]
    assert all(0 <= r["motion"] <= 2 * 2 and 0 <= r["stretch"] <= 2 * 2 and r["readout"] > 0 and r["rest"] > 0 for r in records)


def test_action_noise_reaches_what_reads_the_action_and_not_what_compares_it(tiny_config):
    torch.manual_seed(0)
    model = DiLAWorldModel(replace(tiny_config, dropout=0.0))
    x = torch.randn(2, 4, tiny_config.embed_dim, 4, 4)
    shifts = torch.randint(-2, 3, (2, 3, 4, 4, 2)).float()
    weights = LossWeights(readout=1.0)
    _, clean = world_model_loss(model, x, 1, weights, shifts)
    _, noisy = world_model_loss(model, x, 1, weights, shifts, action_noise=1.0)
    for term in ("readout", "rest", "action_norm"):
        torch.testing.assert_close(noisy[term], clean[term])
    for term in ("prediction", "dynamics"):
        assert not torch.allclose(noisy[term], clean[term])

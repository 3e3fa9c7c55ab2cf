"""The warp's shift picker: every pixel's shift picked among its cell's, its neighbours' and none."""
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from dila import DiLAWorldModel
from dila.codecs.light import LightCodec, LightCodecConfig
from dila.modules.warp import PixelWarp, ShiftPicker, bilinear_prior, cell_neighbourhoods, follow
from dila.train import initial_weights

PATCH = 8


@pytest.mark.parametrize("size", [(2, 3), (4, 4)])
def test_the_prior_over_neighbours_is_bilinear_upsampling(size):
    cells = torch.randn(2, 2, *size)
    h, w = size
    prior = bilinear_prior(PATCH).repeat(1, h, w)
    upsampled = torch.einsum("nskyx,kyx->nsyx", cell_neighbourhoods(cells, PATCH), prior)
    expected = F.interpolate(cells, scale_factor=PATCH, mode="bilinear", align_corners=False)
    torch.testing.assert_close(upsampled, expected)
    assert torch.all(cell_neighbourhoods(cells, PATCH)[:, :, 9] == 0)


@torch.no_grad()
def test_the_picker_starts_as_bilinear_and_can_pick_a_cell_or_none():
    torch.manual_seed(0)
    picker = ShiftPicker(3, 16, 8, PATCH)
    guide, cells, hidden = torch.rand(1, 3, 24, 24), torch.randn(1, 2, 3, 3), torch.randn(1, 3, 3, 16)
    expected = F.interpolate(cells, scale_factor=PATCH, mode="bilinear", align_corners=False)
    assert (picker(guide, cells, hidden) - expected).abs().max() < 0.01
    picker.net[-1].bias.copy_(torch.tensor([0.0] * 4 + [100.0] + [0.0] * 5))
    own_cell = cells.repeat_interleave(PATCH, -1).repeat_interleave(PATCH, -2)
    torch.testing.assert_close(picker(guide, cells, hidden), own_cell)
    picker.net[-1].bias.copy_(torch.tensor([0.0] * 9 + [100.0]))
    assert picker(guide, cells, hidden).abs().max() < 1e-6


def object_scenes(n: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """Noise backdrops (32x32) with a bright 4x4 square inside one cell; the square moves 2 px right and the
    backdrop stays. Returns the frames, the moved frames, and the cells' true shifts (-2 px where the square is)."""
    frames = torch.rand(n, 3, 32, 32, generator=generator) * 0.5
    moved, cells = frames.clone(), torch.zeros(n, 2, 4, 4)
    for i in range(n):
        cy, cx = torch.randint(0, 4, (2,), generator=generator).tolist()
        y, x = cy * PATCH + 2, cx * PATCH + 1
        frames[i, :, y : y + 4, x : x + 4] = 1.0
        moved[i, :, y : y + 4, x + 2 : x + 6] = 1.0
        cells[i, 0, cy, cx] = -2.0  # read from 2 px to the left: the content moves right
    return frames, moved, cells


def test_the_picker_learns_to_move_the_object_and_not_the_backdrop_in_its_cell():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    picker = ShiftPicker(3, 16, 16, PATCH)
    hidden = torch.zeros(1, 4, 4, 16)
    optimizer = torch.optim.Adam(picker.parameters(), lr=3e-3)

    def error(frames, moved, cells):
        shifts = picker(frames, cells, hidden.expand(len(frames), -1, -1, -1))
        return (follow(frames, shifts[:, 0], shifts[:, 1]) - moved).abs().mean()

    held_out = object_scenes(16, generator)
    with torch.no_grad():
        bilinear = error(*held_out).item()
    for _ in range(150):
        loss = error(*object_scenes(16, generator))
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
    assert added and all(k.startswith("fusion_decoder.warp.picker.") or k == "fusion_decoder.warp.pixel_offset" for k in added)
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

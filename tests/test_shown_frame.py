"""Frames shown from their start (`DiLAConfig.shown_from="start"`): each pixel read once, however many moves."""
from dataclasses import replace

import helpers
import pytest
import torch
from einops import rearrange

from dila.losses import LossWeights, world_model_loss
from dila.modules.warp import ShownFrame, follow

PATCH = 4


def test_one_move_from_the_start_is_the_frame_moved():
    torch.manual_seed(0)
    image, shifts = torch.rand(2, 3, 16, 16), 3 * torch.randn(2, 2, 16, 16)
    torch.testing.assert_close(ShownFrame.of(image).image(), image)
    torch.testing.assert_close(ShownFrame.of(image).moved(shifts).image(), follow(image, shifts[:, 0], shifts[:, 1]))


def test_half_pixel_moves_there_and_back_return_the_start_where_reading_the_last_frame_blurs():
    torch.manual_seed(0)
    image = torch.rand(1, 3, 16, 16)
    there, back = torch.full((1, 2, 16, 16), 0.5), torch.full((1, 2, 16, 16), -0.5)
    frame, chained = ShownFrame.of(image), image
    for _ in range(10):
        for shifts in (there, back):
            frame = frame.moved(shifts)
            chained = follow(chained, shifts[:, 0], shifts[:, 1])
    inside = (..., slice(1, -1), slice(1, -1))
    torch.testing.assert_close(frame.image()[inside], image[inside])
    assert (chained - image)[inside].abs().mean() > 0.1  # twenty bilinear reads smooth the noise away
    assert chained[inside].std() < 0.5 * image[inside].std()


@torch.no_grad()
def test_whole_pixel_moves_compose_as_moving_the_last_frame_does_with_the_residual_head(tiny_config):
    image = torch.rand(1, 3, 16, 16)
    features, action = torch.randn(1, 1, 4, 4, 3 * PATCH * PATCH), torch.randn(1, 1, tiny_config.action_dim)
    shown = {}
    for start in ("last", "start"):
        model = helpers.shifting_model(replace(tiny_config, shown_from=start), PATCH)
        torch.manual_seed(1)
        model.fusion_decoder.head.fc2.bias.normal_()  # a head that changes something
        frame = model.keep_shown(image)
        for _ in range(2):
            frame = model.fusion_decoder.show(features, frame, action)
        shown[start] = model.shown_image(frame)
    assert isinstance(frame, ShownFrame)
    torch.testing.assert_close(shown["start"], shown["last"])
    with pytest.raises(ValueError, match="shown_from"):
        replace(tiny_config, shown_from="first")


def test_phase_two_pays_for_the_frames_read_from_the_start(tiny_config):
    torch.manual_seed(0)
    images = torch.rand(2, 3, 16, 16)
    frames = torch.stack([torch.roll(images, 2 * i, dims=-1) for i in range(3)], dim=1)  # 2 px right a step
    x = rearrange(frames, "b t c (h p) (w q) -> b t (p q c) h w", p=PATCH, q=PATCH)
    weights = LossWeights(pixel=1.0)
    pixel = {start: world_model_loss(helpers.shifting_model(replace(tiny_config, shown_from=start), PATCH), x, 2,
                                     weights, frames=frames)[1]["pixel"] for start in ("last", "start")}
    torch.testing.assert_close(pixel["start"], pixel["last"])
    still = world_model_loss(helpers.shifting_model(replace(tiny_config, shown_from="start"), PATCH, shift=0), x, 2,
                             weights, frames=frames)[1]["pixel"]
    assert pixel["start"] < 0.5 * still

"""`picker_previous`: the shift picker also reads how the frame changed from the one before it."""
from dataclasses import replace

import pytest
import torch

from dila import DiLAWorldModel
from dila.losses import picking_loss
from dila.modules.warp import ShiftPicker, ShownFrame, follow
from dila.train import initial_weights
from dila.world_model import frames_before

PATCH = 8


def camouflaged_scenes(n: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """Noise backdrops (32x32) with a 6x6 patch of the same noise that moves 2 px right a frame: one frame
    does not say where it is, two do. Returns the frames before, the frames, and the frames after."""
    backdrop = torch.rand(n, 3, 32, 32, generator=generator)
    patch = torch.rand(n, 3, 6, 6, generator=generator)
    clips = backdrop[:, None].repeat(1, 3, 1, 1, 1)
    for i in range(n):
        y, x = torch.randint(2, 22, (2,), generator=generator).tolist()
        for t in range(3):
            clips[i, t, :, y : y + 6, x + 2 * t : x + 2 * t + 6] = patch[i]
    return clips.unbind(dim=1)


def trained_error(previous: bool) -> tuple[float, float]:
    """The held-out error of the frame moved by a picker trained on the pick term for 150 steps against the
    frame after, and of the frame as it is; the cells say nothing moves and the action says a part moves
    2 px right."""
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    picker = ShiftPicker(3, 16, 16, PATCH, previous=previous)
    hidden, cells, move = torch.zeros(1, 4, 4, 16), torch.zeros(1, 2, 4, 4), torch.tensor([[-2.0, 0.0]])
    inputs = lambda before, frames: (frames, cells.expand(len(frames), -1, -1, -1), hidden.expand(len(frames), -1, -1, -1),
                                     move.expand(len(frames), -1), before)
    optimizer = torch.optim.Adam(picker.parameters(), lr=1e-2)
    for _ in range(150):
        before, frames, after = camouflaged_scenes(16, generator)
        loss = picking_loss(picker, inputs(before, frames), frames, after)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    before, frames, after = camouflaged_scenes(32, generator)
    with torch.no_grad():
        shifts = picker(*inputs(before, frames))
    return (follow(frames, shifts[:, 0], shifts[:, 1]) - after).abs().mean().item(), (frames - after).abs().mean().item()


def test_the_frame_before_shows_the_picker_what_one_frame_does_not():
    (alone, still), (with_before, _) = trained_error(previous=False), trained_error(previous=True)
    assert alone > 0.9 * still  # from one frame, moving the part anywhere does no better than nothing
    assert with_before < 0.7 * still  # the best a per-pixel pick can do here is ~0.5


@pytest.fixture
def picking(tiny_config):
    return replace(tiny_config, residual_decoder=True, decoder_warp=2, warp_patch=2, warp_channels=4, dropout=0.0,
                   warp_mode="flow", warp_refine=8, shown_from="start")


def with_pixel_view(model: DiLAWorldModel) -> DiLAWorldModel:
    d, values = model.config.embed_dim, 2 * 2 * 4
    model.fusion_decoder.warp.to_pixels.copy_(torch.eye(values, d))
    model.fusion_decoder.warp.to_tokens.copy_(torch.eye(d, values))
    model.fusion_decoder.warp.pixel_offset.fill_(0.1)
    return model


def test_the_option_needs_a_picker_and_a_shown_start_and_starts_a_trained_model_unchanged(picking):
    with pytest.raises(ValueError, match="picker_previous"):
        replace(picking, warp_refine=0, picker_previous=True)
    with pytest.raises(ValueError, match="picker_previous"):
        replace(picking, shown_from="last", picker_previous=True)
    torch.manual_seed(0)
    source = DiLAWorldModel(picking).eval()
    source.fusion_decoder.warp.picker.net[-1].weight.data.normal_(std=0.1)
    reading = initial_weights(source, replace(picking, picker_previous=True)).eval()
    added = set(reading.state_dict()) - set(source.state_dict())
    assert added == {"fusion_decoder.warp.picker.change.weight", "fusion_decoder.warp.picker.change.bias"}
    x, actions = torch.randn(1, 3, picking.embed_dim, 4, 4), torch.randn(1, 2, picking.action_dim)
    with torch.no_grad():
        for model in (source, reading):
            with_pixel_view(model)
        torch.testing.assert_close(reading.one_step(x), source.one_step(x))
        torch.testing.assert_close(reading.predict(x, actions)[0], source.predict(x, actions)[0])


@torch.no_grad()
def test_rollouts_keep_the_frame_before_and_the_picker_reads_it(picking):
    torch.manual_seed(0)
    model = with_pixel_view(DiLAWorldModel(replace(picking, picker_previous=True)).eval())
    model.fusion_decoder.warp.picker.net[-1].weight.normal_(std=0.5)
    model.fusion_decoder.warp.picker.change.weight.normal_(std=0.5)
    x = torch.randn(1, 2, picking.embed_dim, 4, 4)
    state = model.start(x)
    torch.testing.assert_close(state.previous_frame, x[:, :1].permute(0, 1, 3, 4, 2))
    assert model.start(x[:, :1]).previous_frame is None
    action = torch.randn(1, picking.action_dim)
    structure, tokens, shown = model.preview_shown(state, action, model.keep_shown(torch.rand(1, 4, 8, 8)))
    assert isinstance(shown, ShownFrame) and shown.previous is not None
    after = model.commit(state, structure, tokens)
    assert after.previous_frame is state.last_frame
    changed = model.preview_shown(state, action, ShownFrame.of(shown.start, torch.rand(1, 4, 8, 8)))[2]
    unchanged = model.preview_shown(state, action, ShownFrame.of(shown.start))[2]
    assert not torch.allclose(model.shown_image(changed), model.shown_image(unchanged))
    other = replace(state, previous_frame=torch.randn_like(state.last_frame))
    assert not torch.allclose(model.preview(other, action)[1], model.preview(state, action)[1])


def test_the_frame_before_the_first_is_itself():
    x = torch.arange(6.0).reshape(1, 3, 2)
    torch.testing.assert_close(frames_before(x), torch.tensor([[[0.0, 1.0], [0.0, 1.0], [2.0, 3.0]]]))


def test_the_frames_before_are_made_only_for_a_picker_that_reads_them(picking):
    x = torch.randn(1, 3, 4)
    assert DiLAWorldModel(picking).previous_frames(x) is None
    torch.testing.assert_close(DiLAWorldModel(replace(picking, picker_previous=True)).previous_frames(x), frames_before(x))

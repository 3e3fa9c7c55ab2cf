"""The light frame codec: config checks, shapes, resizing, checkpoints, and the trained codec."""
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from einops import rearrange

from dila.codecs.light import LightCodec, LightCodecConfig, LightCodecLoadError
from dila.codecs.train_light import calibrate, evaluate, pca_init, train

TRAINED = Path(__file__).resolve().parents[1] / "checkpoints" / "codec"


@pytest.fixture
def codec() -> LightCodec:
    """An untrained codec with every weight random (the zero-initialised heads too)."""
    torch.manual_seed(0)
    model = LightCodec().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.05)
    return model



def frames(n: int, seed: int = 0) -> np.ndarray:
    """Smooth random uint8 frames (n, 64, 64, 3): coarse noise upsampled."""
    coarse = torch.rand(n, 3, 8, 8, generator=torch.Generator().manual_seed(seed))
    x = F.interpolate(coarse, size=(64, 64), mode="bilinear", align_corners=False)
    return (x * 255).round().byte().permute(0, 2, 3, 1).numpy()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"image_size": 60}, "not divisible"),
        ({"image_size": 48}, "not a power of two"),
        ({"width": 100}, "divisible by groups"),
        ({"latent_dim": 0}, "positive int"),
        ({"decoder_blocks": -1}, "non-negative int"),
        ({"grid_size": 8.0}, "positive int"),
        ({"grid_size": 16}, "exceeds the 48 values of a 4x4 patch"),
        ({"decoder_branch": "no"}, "true or false"),
    ],
)
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LightCodecConfig(**kwargs)


def test_config_defaults():
    c = LightCodecConfig()
    assert (c.image_size, c.grid_size, c.latent_dim, c.patch_size, c.patch_dim) == (64, 8, 64, 8, 192)
    assert LightCodecConfig.from_dict({"latent_dim": 32, "codec_type": "light"}).latent_dim == 32


@torch.no_grad()
def test_shapes_and_range(codec):
    x = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    z = codec.encode(x)
    assert z.shape == (3, 64, 8, 8)
    y = codec.decode(z)
    assert y.shape == (3, 3, 64, 64)
    assert y.min() >= 0 and y.max() <= 1
    assert codec.forward(x).shape == (3, 3, 64, 64)
    with pytest.raises(ValueError, match="expected latents"):
        codec.decode(z[:, :32])
    with pytest.raises(ValueError, match="expected float pixels"):
        codec.encode(x[:, :1])


@torch.no_grad()
def test_other_sizes_are_resized(codec):
    x = torch.rand(2, 3, 96, 80, generator=torch.Generator().manual_seed(2))
    resized = F.interpolate(x, size=(64, 64), mode="bilinear", antialias=True, align_corners=False)
    z = codec.encode(x)
    assert z.shape == (2, 64, 8, 8)
    torch.testing.assert_close(z, codec.encode(resized), rtol=0, atol=0)


def test_save_load_round_trip_is_bit_exact(codec, tmp_path):
    codec.latent_mean.fill_(0.25)
    codec.latent_std.fill_(2.0)
    codec.save_pretrained(tmp_path)
    assert (tmp_path / "config.json").read_text().count('"codec_type": "light"') == 1
    loaded = LightCodec.from_pretrained(tmp_path)
    assert loaded.config == codec.config and not loaded.training
    original, restored = codec.state_dict(), loaded.state_dict()
    assert original.keys() == restored.keys()
    assert all(torch.equal(original[k], restored[k]) for k in original)
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.equal(codec.decode(codec.encode(x)), loaded.decode(loaded.encode(x)))


@torch.no_grad()
def test_a_codec_without_its_decoder_branch_keeps_the_encoder_and_loads_as_saved(codec, tmp_path):
    slim = codec.without_decoder_branch()
    x = torch.from_numpy(frames(2)).float().div(255).permute(0, 3, 1, 2)
    z = codec.encode(x)
    assert torch.equal(slim.encode(x), z) and slim.decoder_branch is None
    linear = codec.decoder_linear(z * codec.latent_std + codec.latent_mean)
    expected = rearrange(linear, "b (p q c) h w -> b c (h p) (w q)", p=8, q=8).clamp(0, 1)
    assert torch.equal(slim.decode(z), expected)
    slim.save_pretrained(tmp_path)
    loaded = LightCodec.from_pretrained(tmp_path)
    assert loaded.config.decoder_branch is False and torch.equal(loaded.decode(z), slim.decode(z))
    assert sum(p.numel() for p in loaded.parameters()) < sum(p.numel() for p in codec.parameters()) / 2


def test_bad_checkpoints_raise_clear_errors(codec, tmp_path):
    with pytest.raises(LightCodecLoadError, match=r"config .*missing.config\.json is unusable: .*No such file"):
        LightCodec.from_pretrained(tmp_path / "missing")
    codec.save_pretrained(tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ValueError, match=r"weights .*model\.safetensors are unusable: .*header"):
        LightCodec.from_pretrained(tmp_path)
    weights.unlink()
    with pytest.raises(LightCodecLoadError, match=r"model\.safetensors are unusable: .*No such file"):
        LightCodec.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text('{"codec_type": "rae"}')
    with pytest.raises(LightCodecLoadError, match="does not describe a 'light' codec"):
        LightCodec.from_pretrained(tmp_path)


def test_weights_that_do_not_fit_the_config_raise(codec, tmp_path):
    codec.save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text('{"codec_type": "light", "latent_dim": 32}')
    with pytest.raises(LightCodecLoadError, match="size mismatch"):
        LightCodec.from_pretrained(tmp_path)


@torch.no_grad()
def test_pca_init_whitens_and_reconstructs(one_thread):
    data = frames(64)
    model = LightCodec(LightCodecConfig(latent_dim=32, width=32, encoder_blocks=0, decoder_blocks=1))
    pca_init(model, data)
    z = model.encode(torch.as_tensor(data).permute(0, 3, 1, 2).float() / 255)
    assert z.mean().abs() < 1e-4
    torch.testing.assert_close(z.transpose(0, 1).flatten(1).std(1), torch.ones(32), atol=1e-3, rtol=0)
    assert evaluate(model, data)["psnr_mean"] > 35.0


def test_training_improves_and_calibrates(one_thread):
    torch.manual_seed(0)
    data = frames(32, seed=1)
    model = LightCodec(LightCodecConfig(latent_dim=16, width=16, encoder_blocks=1, decoder_blocks=1))
    pca_init(model, data)
    before = evaluate(model, data)["psnr_mean"]
    log = train(model, data, steps=20, batch=8, lr=1e-3, warmup=5, log_every=10, seed=0)
    assert [entry["step"] for entry in log] == [10, 20]
    assert evaluate(model, data)["psnr_mean"] > before
    calibrate(model, data)
    pixels = torch.as_tensor(data).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        z, raw = model.encode(pixels), model.embed(pixels)
    torch.testing.assert_close(z.mean((0, 2, 3)), torch.zeros(16), atol=1e-4, rtol=0)
    assert z.var((0, 2, 3)).mean().item() == pytest.approx(1.0, abs=1e-3)
    in_pixels = raw.std((0, 2, 3)) * model.decoder_linear.weight.flatten(1).norm(dim=0)
    ratio = z.std((0, 2, 3)) / in_pixels
    torch.testing.assert_close(ratio, ratio.mean().expand(16), rtol=1e-3, atol=0)


@pytest.mark.skipif(not (TRAINED / "model.safetensors").is_file(), reason="no trained codec in checkpoints/codec")
def test_trained_codec_on_heldout_frames():
    procedural = pytest.importorskip("dila.data.procedural")
    dataset = procedural.ProceduralVideoDataset("heldout", num_clips=24, frames=2, seed=123)
    data = np.concatenate([dataset.clip(i).frames for i in range(len(dataset))])
    model = LightCodec.from_pretrained(TRAINED)
    metrics = evaluate(model, data)
    assert metrics["frames"] == 48
    assert metrics["psnr_mean"] >= 32.0
    with torch.no_grad():
        z = model.encode(torch.as_tensor(data).permute(0, 3, 1, 2).float() / 255)
    assert z.shape == (48, model.latent_dim, 8, 8)
    assert 0.5 < z.std().item() < 2.0


def test_the_slim_command_writes_a_codec_without_decoder_branch_and_reports_the_difference(codec, tmp_path, monkeypatch,
                                                                                          capsys):
    from dila.codecs import slim

    codec.save_pretrained(tmp_path / "full")
    monkeypatch.setattr("sys.argv", ["slim", str(tmp_path / "full"), "--out", str(tmp_path / "slim")])
    slim.main()
    loaded = LightCodec.from_pretrained(tmp_path / "slim")
    assert loaded.decoder_branch is None and "decoder branch dropped; largest pixel difference" in capsys.readouterr().out
    x = slim.heldout_frames(count=2)
    clean, noisy = slim.largest_difference(codec, loaded, x)
    assert 0 < clean <= 1 and 0 < noisy <= 1  # this random codec's branch is not small: the report says so

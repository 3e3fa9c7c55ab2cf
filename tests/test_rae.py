"""Parity and loading tests for the RAE codec (CPU, offline, tiny fixture)."""

from __future__ import annotations

import json
import os
import pickle
import socket
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from transformers import Dinov2WithRegistersConfig, Dinov2WithRegistersModel

from dila.codecs import rae
from dila.codecs.rae import (
    DECODER_FILENAME,
    ENCODER_REPO_ID,
    RAE_REPO_ID,
    VIT_XL_DECODER,
    CodecLoadError,
    DecoderConfig,
    RAECodec,
    load_rae_codec,
)

FIXTURE = Path(__file__).parent / "fixtures" / "rae_tiny.pt"
TOLERANCE = 1e-4


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No test may reach the network: offline env, and any socket connect fails loudly."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="module")
def bundle():
    return torch.load(FIXTURE, weights_only=True)


def build(bundle, **overrides) -> RAECodec:
    parts = dict(
        encoder_config=bundle["encoder_config"],
        encoder_state_dict=bundle["encoder_state_dict"],
        decoder_config=bundle["decoder_config"],
        decoder_state_dict=bundle["decoder_state_dict"],
        stats=bundle["stats"],
        image_mean=bundle["image_mean"],
        image_std=bundle["image_std"],
        encoder_input_size=bundle["encoder_input_size"],
    )
    return RAECodec.from_parts(**(parts | overrides))


@pytest.fixture(scope="module")
def codec(bundle):
    return build(bundle)


@pytest.fixture(scope="module")
def published(bundle, tmp_path_factory):
    """The tiny model laid out like the published files: encoder dir, decoder .pt, stats .pt."""
    root = tmp_path_factory.mktemp("published")
    encoder = Dinov2WithRegistersModel(Dinov2WithRegistersConfig.from_dict(bundle["encoder_config"]))
    encoder.load_state_dict(bundle["encoder_state_dict"])
    encoder.save_pretrained(root / "encoder")
    torch.save(bundle["decoder_state_dict"], root / "decoder.pt")
    torch.save(bundle["stats"], root / "stat.pt")
    return root


def load_published(bundle, published, decoder_path=None, **kwargs) -> RAECodec:
    return load_rae_codec(
        encoder=kwargs.pop("encoder", published / "encoder"),
        decoder_path=decoder_path or published / "decoder.pt",
        stats_path=kwargs.pop("stats_path", published / "stat.pt"),
        encoder_input_size=bundle["encoder_input_size"],
        decoder_config=bundle["decoder_config"],
        **kwargs,
    )


def max_err(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape
    return (a - b).abs().max().item()


def test_encode_matches_reference(codec, bundle):
    latents = codec.encode(bundle["inputs"]["pixels"])
    err = max_err(latents, bundle["outputs"]["latents"])
    print(f"encode max abs error: {err:.3e}")
    assert err < TOLERANCE


def test_decode_matches_reference(codec, bundle):
    pixels = codec.decode(bundle["outputs"]["latents"])
    err = max_err(pixels, bundle["outputs"]["reconstruction"])
    print(f"decode max abs error: {err:.3e}")
    assert err < TOLERANCE


def test_load_rae_codec_from_local_files_matches_reference(bundle, published):
    codec = load_published(bundle, published)
    assert max_err(codec.encode(bundle["inputs"]["pixels"]), bundle["outputs"]["latents"]) < TOLERANCE
    assert max_err(codec.decode(bundle["outputs"]["latents"]), bundle["outputs"]["reconstruction"]) < TOLERANCE


def test_codec_geometry_and_frozen(codec):
    assert (codec.grid_size, codec.latent_dim, codec.image_size) == (8, 32, 32)
    codec.train()
    assert not codec.training and not codec.encoder.training
    assert not any(p.requires_grad for p in codec.parameters())
    assert codec.decode(torch.zeros(1, 32, 8, 8)).shape == (1, 3, 32, 32)


def test_only_off_size_inputs_are_resized(codec, bundle, monkeypatch):
    pixels = bundle["inputs"]["pixels"]
    at_size = F.interpolate(pixels, size=(32, 32), mode="bicubic", align_corners=False)
    resized = []
    interpolate = F.interpolate

    def spy(x, *args, **kwargs):
        if x.shape[1] == 3:
            resized.append(tuple(x.shape[-2:]))
        return interpolate(x, *args, **kwargs)

    monkeypatch.setattr(F, "interpolate", spy)
    assert torch.equal(codec.encode(at_size), codec.encode(pixels))
    assert resized == [(40, 40)]
    assert codec.encode(pixels[..., :24]).shape == (2, 32, 8, 8)
    assert resized[-1] == (40, 24)


def test_final_layernorm_has_no_affine(bundle, codec):
    assert "layernorm.weight" not in codec.encoder.state_dict()
    state = dict(bundle["encoder_state_dict"])
    state["layernorm.weight"] = torch.full_like(state["layernorm.weight"], 3.0)
    state["layernorm.bias"] = torch.full_like(state["layernorm.bias"], -1.0)
    pixels = bundle["inputs"]["pixels"]
    assert torch.equal(build(bundle, encoder_state_dict=state).encode(pixels), codec.encode(pixels))


def test_transformers4_key_names_load(bundle, codec):
    """Published checkpoints use transformers-4 names; both encoder and decoder accept them."""
    assert any(".attention.attention.query." in k for k in bundle["decoder_state_dict"])
    renames = {".attention.q_proj.": ".attention.attention.query.", ".attention.k_proj.": ".attention.attention.key.",
               ".attention.v_proj.": ".attention.attention.value.", ".attention.o_proj.": ".attention.output.dense."}
    legacy = {}
    for key, value in bundle["encoder_state_dict"].items():
        for new, old in renames.items():
            key = key.replace(new, old)
        legacy[key] = value
    pixels = bundle["inputs"]["pixels"]
    assert torch.equal(build(bundle, encoder_state_dict=legacy).encode(pixels), codec.encode(pixels))


class Payload:
    def __init__(self, call):
        self.call = call

    def __reduce__(self):
        return self.call


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
@pytest.mark.parametrize("payload", ["os.system", "open"])
def test_malicious_decoder_pickle_is_refused_and_not_run(bundle, published, tmp_path, writer, payload):
    marker = tmp_path / "pwned"
    call = (os.system, (f"touch {marker}",)) if payload == "os.system" else (open, (str(marker), "w"))
    evil = {"decoder_embed.weight": Payload(call)}
    path = tmp_path / "evil.pt"
    if writer == "torch.save":
        torch.save(evil, path)
    else:
        path.write_bytes(pickle.dumps(evil, protocol=2))
    with pytest.raises(CodecLoadError, match="evil.pt"):
        load_published(bundle, published, decoder_path=path)
    assert not marker.exists()


def test_truncated_decoder_is_refused(bundle, published, tmp_path):
    path = tmp_path / "truncated.pt"
    data = (published / "decoder.pt").read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CodecLoadError, match="truncated.pt"):
        load_published(bundle, published, decoder_path=path)


def test_wrong_shape_and_keys_are_named(bundle, published, tmp_path):
    state = dict(bundle["decoder_state_dict"])
    state["decoder_embed.weight"] = torch.zeros(5, 5)
    state["extra.weight"] = torch.zeros(1)
    del state["decoder_norm.bias"]
    path = tmp_path / "bad_shape.pt"
    torch.save(state, path)
    with pytest.raises(CodecLoadError) as info:
        load_published(bundle, published, decoder_path=path)
    message = str(info.value)
    for needle in ("bad_shape.pt", "decoder_embed.weight", "(5, 5)", "extra.weight", "decoder_norm.bias"):
        assert needle in message


def test_bad_stats_are_refused(bundle, published, tmp_path):
    path = tmp_path / "stat.pt"
    torch.save({"mean": torch.zeros(1, 7, 1, 1), "var": torch.ones(1, 7, 1, 1)}, path)
    with pytest.raises(CodecLoadError, match="'mean' of shape"):
        load_published(bundle, published, stats_path=path)


def test_offline_repo_id_fails_fast_with_download_hint(bundle, published, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    start = time.perf_counter()
    with pytest.raises(CodecLoadError) as encoder_error:
        load_published(bundle, published, encoder=ENCODER_REPO_ID)
    with pytest.raises(CodecLoadError) as decoder_error:
        load_rae_codec()
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0
    assert ENCODER_REPO_ID in str(encoder_error.value) and "hf download" in str(encoder_error.value)
    assert f"hf download {RAE_REPO_ID} {DECODER_FILENAME}" in str(decoder_error.value)
    assert "offline" in str(decoder_error.value)


def test_repo_ids_resolve_through_offline_hf_cache(bundle, published, tmp_path, monkeypatch):
    """A repo id found in the HF cache loads offline; RAE file names resolve inside RAE_REPO_ID."""
    hub = tmp_path / "hf_home" / "hub"
    commit = "0" * 40
    for repo in (ENCODER_REPO_ID, RAE_REPO_ID):
        repo_dir = hub / f"models--{repo.replace('/', '--')}"
        (repo_dir / "refs").mkdir(parents=True)
        (repo_dir / "refs" / "main").write_text(commit)
    snapshots = {repo: hub / f"models--{repo.replace('/', '--')}" / "snapshots" / commit
                 for repo in (ENCODER_REPO_ID, RAE_REPO_ID)}
    Dinov2WithRegistersModel.from_pretrained(published / "encoder").save_pretrained(snapshots[ENCODER_REPO_ID])
    (snapshots[RAE_REPO_ID] / "tiny").mkdir(parents=True)
    torch.save(bundle["decoder_state_dict"], snapshots[RAE_REPO_ID] / "tiny" / "decoder.pt")
    torch.save(bundle["stats"], snapshots[RAE_REPO_ID] / "tiny" / "stat.pt")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    codec = load_rae_codec(
        encoder=ENCODER_REPO_ID, decoder_path="tiny/decoder.pt", stats_path="tiny/stat.pt",
        encoder_input_size=bundle["encoder_input_size"], decoder_config=bundle["decoder_config"],
    )
    assert max_err(codec.encode(bundle["inputs"]["pixels"]), bundle["outputs"]["latents"]) < TOLERANCE


def test_builtin_vit_xl_decoder_config():
    assert DecoderConfig.from_source(None) == VIT_XL_DECODER
    c = VIT_XL_DECODER
    assert (c.decoder_hidden_size, c.decoder_num_hidden_layers, c.decoder_num_attention_heads) == (1152, 28, 16)
    assert (c.decoder_intermediate_size, c.patch_size, c.num_channels) == (4096, 16, 3)
    assert (c.layer_norm_eps, c.hidden_act, c.qkv_bias) == (1e-12, "gelu", True)
    full = c.to_vit_mae_config(hidden_size=768, num_patches=256)
    assert (full.hidden_size, full.image_size, full.patch_size, full.decoder_hidden_size) == (768, 256, 16, 1152)
    layer = c.layer_config()
    assert (layer.hidden_size, layer.num_attention_heads, layer.intermediate_size) == (1152, 16, 4096)
    assert layer._attn_implementation == "eager"


def test_published_config_json_placeholder_is_overridden(tmp_path):
    published = {
        "architectures": ["ViTMAEForPreTraining"], "model_type": "vit_mae",
        "decoder_hidden_size": 1152, "decoder_intermediate_size": 4096, "decoder_num_attention_heads": 16,
        "decoder_num_hidden_layers": 28, "hidden_act": "gelu", "hidden_size": 768, "image_size": 224,
        "layer_norm_eps": 1e-12, "num_channels": 3, "patch_size": "SHOULD BE RELOADED", "qkv_bias": True,
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(published))
    config = DecoderConfig.from_source(path)
    assert config == VIT_XL_DECODER
    assert config.to_vit_mae_config(hidden_size=768, num_patches=256).patch_size == 16


def test_decoder_builds_from_published_config_at_encoder_width(tmp_path):
    config = DecoderConfig.from_source({"decoder_hidden_size": 64, "decoder_num_hidden_layers": 1,
                                        "decoder_num_attention_heads": 4, "decoder_intermediate_size": 128,
                                        "patch_size": "SHOULD BE RELOADED", "hidden_size": 999})
    decoder = rae.RAEDecoder(config, hidden_size=32, grid_size=4)
    assert decoder.decoder_embed.in_features == 32
    assert decoder(torch.zeros(2, 16, 32)).shape == (2, 16, 16 * 16 * 3)


def test_bad_inputs_are_rejected(codec):
    with pytest.raises(ValueError):
        codec.encode(torch.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError):
        codec.decode(torch.zeros(1, 32, 4, 4))

"""RAE codec: the frozen image autoencoder that DiLA's published pipeline works in.

Encoder: DINOv2-with-registers (``transformers``). Pixels in [0, 1] are resized bicubically to the
encoder input size, normalised with the ImageNet mean/std, and encoded; the CLS and register tokens
are dropped, the final layernorm runs without its affine parameters, and the patch tokens are
reshaped to a ``b c h w`` grid and normalised per channel with the published latent statistics.

Decoder: a ViT-MAE-style transformer (ViT-XL by default) built from ``transformers``' ``ViTMAELayer``:
linear embedding, a learned CLS token, fixed 2D sin-cos positions, pre-LN blocks, a final norm and a
linear head to ``patch * patch * 3`` values per token, unpatchified back to pixels in [0, 1] (not
clamped). Checkpoints are always read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn
from transformers import Dinov2WithRegistersConfig, Dinov2WithRegistersModel, ViTMAEConfig
from transformers.models.vit_mae.modeling_vit_mae import ViTMAELayer

from dila.hub import CheckpointError, hub_file, read_pt
from dila.hub import local_files_only as use_cache_only

logger = logging.getLogger(__name__)

ENCODER_REPO_ID = "facebook/dinov2-with-registers-base"
RAE_REPO_ID = "nyu-visionx/RAE-collections"
DECODER_FILENAME = "decoders/dinov2/wReg_base/ViTXL/dinov2_decoder.pt"
STATS_FILENAME = "stats/dinov2/wReg_base/imagenet1k/stat.pt"

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LATENT_EPS = 1e-5

_FINAL_NORM_KEYS = ("layernorm.weight", "layernorm.bias")
_DECODER_DEFAULTED_KEYS = ("decoder_pos_embed", "trainable_cls_token")
_LEGACY_KEY_RENAMES = (
    (".attention.attention.query.", ".attention.q_proj."),
    (".attention.attention.key.", ".attention.k_proj."),
    (".attention.attention.value.", ".attention.v_proj."),
    (".attention.output.dense.", ".attention.o_proj."),
    (".intermediate.dense.", ".mlp.fc1."),
    (".output.dense.", ".mlp.fc2."),
)


class CodecLoadError(ValueError):
    """A codec file or state dict is missing, unreadable, unsafe, or does not fit the model:
    `problem` says which, `advice` (when there is some) what a user of the library can do."""

    def __init__(self, problem: str, advice: str = ""):
        super().__init__(f"{problem} {advice}" if advice else problem)
        self.problem, self.advice = problem, advice


@dataclass(frozen=True)
class DecoderConfig:
    """Architecture of the pixel decoder; the defaults are the published ViT-XL decoder."""

    decoder_hidden_size: int = 1152
    decoder_num_hidden_layers: int = 28
    decoder_num_attention_heads: int = 16
    decoder_intermediate_size: int = 4096
    patch_size: int = 16
    num_channels: int = 3
    layer_norm_eps: float = 1e-12
    hidden_act: str = "gelu"
    qkv_bias: bool = True

    @classmethod
    def from_source(cls, source: DecoderConfig | Mapping | str | Path | None) -> DecoderConfig:
        """Overlay a dict or a published ``config.json`` on the ViT-XL defaults.

        Fields of the wrong type (the published file's ``"patch_size": "SHOULD BE RELOADED"``) keep
        their default; ``hidden_size``/``image_size`` are ignored, the codec derives them.
        """
        if source is None or isinstance(source, DecoderConfig):
            return source or cls()
        if isinstance(source, (str, Path)):
            try:
                source = json.loads(Path(source).read_text())
            except (OSError, ValueError) as err:
                raise CodecLoadError(f"decoder config {source} is not a readable JSON file: {err}") from err
        base = cls()
        updates = {}
        for field in fields(cls):
            if field.name not in source:
                continue
            value, default = source[field.name], getattr(base, field.name)
            if _same_kind(value, default):
                updates[field.name] = value
            else:
                logger.warning("decoder config %s=%r ignored, using %r", field.name, value, default)
        return replace(base, **updates)

    def to_vit_mae_config(self, hidden_size: int, num_patches: int) -> ViTMAEConfig:
        """The full ``ViTMAEConfig``: encoder width in, ``image_size = patch * sqrt(num_patches)``."""
        return ViTMAEConfig(
            **asdict(self),
            hidden_size=hidden_size,
            image_size=self.patch_size * math.isqrt(num_patches),
            attn_implementation="eager",
        )

    def layer_config(self) -> ViTMAEConfig:
        """Config of one decoder block: the ``decoder_*`` sizes as a plain ViT-MAE layer."""
        return ViTMAEConfig(
            hidden_size=self.decoder_hidden_size,
            num_attention_heads=self.decoder_num_attention_heads,
            intermediate_size=self.decoder_intermediate_size,
            layer_norm_eps=self.layer_norm_eps,
            hidden_act=self.hidden_act,
            qkv_bias=self.qkv_bias,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
            attn_implementation="eager",
        )


VIT_XL_DECODER = DecoderConfig()


def _same_kind(value, default) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return type(value) is type(default)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))


def sincos_pos_embed(dim: int, grid_size: int) -> torch.Tensor:
    """Fixed MAE 2D sin-cos positions, ``(1 + grid_size**2, dim)`` with a zero CLS row."""
    if dim % 4:
        raise ValueError(f"sin-cos position embedding needs dim divisible by 4, got {dim}")
    omega = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim // 4))
    coords = torch.arange(grid_size, dtype=torch.float64)
    rows, cols = torch.meshgrid(coords, coords, indexing="ij")

    def embed(pos: torch.Tensor) -> torch.Tensor:
        angles = torch.outer(pos.flatten(), omega)
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    table = torch.cat([embed(cols), embed(rows)], dim=1)
    return torch.cat([torch.zeros(1, dim, dtype=torch.float64), table]).float()


class RAEDecoder(nn.Module):
    """ViT-MAE-style decoder: tokens ``(b, n, hidden)`` -> patches ``(b, n, patch**2 * channels)``.

    Parameter names match the published checkpoint (``decoder_embed``, ``decoder_pos_embed``,
    ``decoder_layers.N.*``, ``decoder_norm``, ``decoder_pred``, ``trainable_cls_token``).
    """

    def __init__(self, config: DecoderConfig, hidden_size: int, grid_size: int):
        super().__init__()
        width = config.decoder_hidden_size
        self.config = config
        self.grid_size = grid_size
        self.decoder_embed = nn.Linear(hidden_size, width)
        self.register_buffer("decoder_pos_embed", sincos_pos_embed(width, grid_size)[None])
        self.trainable_cls_token = nn.Parameter(torch.zeros(1, 1, width))
        layer_config = config.layer_config()
        self.decoder_layers = nn.ModuleList(
            ViTMAELayer(layer_config) for _ in range(config.decoder_num_hidden_layers)
        )
        self.decoder_norm = nn.LayerNorm(width, eps=config.layer_norm_eps)
        self.decoder_pred = nn.Linear(width, config.patch_size**2 * config.num_channels)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.decoder_embed(tokens)
        cls = self.trainable_cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1) + self.decoder_pos_embed
        for layer in self.decoder_layers:
            x = layer(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:]


def rename_legacy_keys(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map transformers-4 ViT/DINOv2 layer names (``attention.attention.query``, ``intermediate.dense``,
    ...) to the transformers-5 names (``attention.q_proj``, ``mlp.fc1``, ...); new names pass through."""

    def rename(key: str) -> str:
        for old, new in _LEGACY_KEY_RENAMES:
            key = key.replace(old, new)
        return key

    return {rename(key): value for key, value in state_dict.items()}


def load_checked(
    module: nn.Module,
    state_dict: object,
    source: str,
    optional: Sequence[str] = (),
) -> None:
    """Load ``state_dict`` into ``module``; any missing (beyond ``optional``), unexpected, non-tensor
    or wrongly shaped entry raises ``CodecLoadError`` naming ``source`` and the keys."""
    if not isinstance(state_dict, Mapping) or not all(isinstance(k, str) for k in state_dict):
        kind = type(state_dict).__name__
        raise CodecLoadError(f"{source}: expected a state dict (str -> tensor), got {kind}")
    given = rename_legacy_keys(state_dict)
    expected = module.state_dict()
    problems = []
    if bad := sorted(str(k) for k, v in given.items() if not isinstance(v, torch.Tensor)):
        problems.append(f"non-tensor values {bad}")
    if missing := sorted(set(expected) - set(given) - set(optional)):
        problems.append(f"missing keys {missing}")
    if unexpected := sorted(set(given) - set(expected)):
        problems.append(f"unexpected keys {unexpected}")
    mismatched = [
        f"{k}: file {tuple(v.shape)} vs model {tuple(expected[k].shape)}"
        for k, v in given.items()
        if k in expected and isinstance(v, torch.Tensor) and v.shape != expected[k].shape
    ]
    if mismatched:
        problems.append(f"shape mismatch {mismatched}")
    if problems:
        raise CodecLoadError(f"{source} does not fit {type(module).__name__}: " + "; ".join(problems))
    for key in sorted(set(optional) - set(given)):
        logger.warning("%s has no %s; keeping the default initialisation", source, key)
    module.load_state_dict(given, strict=False)


def read_checkpoint(path: str | Path, what: str) -> object:
    """``dila.hub.read_pt`` (weights-only, no code runs), failures as ``CodecLoadError``."""
    try:
        return read_pt(path)
    except CheckpointError as err:
        raise CodecLoadError(f"{what}: {err}") from err


def check_stats(stats: object, latent_dim: int, grid_size: int, source: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate ``{'mean', 'var'}`` latent statistics broadcastable to ``(1, c, h, w)``."""
    is_stats = isinstance(stats, Mapping) and all(isinstance(stats.get(k), torch.Tensor) for k in ("mean", "var"))
    if not is_stats:
        keys = sorted(map(str, stats)) if isinstance(stats, Mapping) else type(stats).__name__
        raise CodecLoadError(f"{source}: expected tensors under 'mean' and 'var', got {keys}")
    target = (1, latent_dim, grid_size, grid_size)
    for key in ("mean", "var"):
        try:
            fits = torch.broadcast_shapes(stats[key].shape, target) == target
        except RuntimeError:
            fits = False
        if not fits:
            shape = tuple(stats[key].shape)
            raise CodecLoadError(f"{source}: '{key}' of shape {shape} does not broadcast to {target}")
    return stats["mean"].float(), stats["var"].float()


def _per_channel(values: Sequence[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32).view(1, -1, 1, 1)


class RAECodec(nn.Module):
    """Frozen RAE codec: ``encode`` pixels ``(b, 3, H, W)`` in [0, 1] to latents ``(b, c, h, w)``,
    ``decode`` latents back to pixels ``(b, 3, image_size, image_size)``."""

    def __init__(
        self,
        encoder: Dinov2WithRegistersModel,
        decoder: RAEDecoder,
        latent_mean: torch.Tensor,
        latent_var: torch.Tensor,
        image_mean: Sequence[float] = IMAGENET_MEAN,
        image_std: Sequence[float] = IMAGENET_STD,
        encoder_input_size: int = 224,
    ):
        super().__init__()
        config = encoder.config
        if encoder_input_size % config.patch_size:
            raise ValueError(f"encoder_input_size {encoder_input_size} is not a multiple of {config.patch_size}")
        encoder.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps, elementwise_affine=False)
        self.encoder = encoder
        self.decoder = decoder
        self.encoder_input_size = encoder_input_size
        self.num_prefix_tokens = 1 + config.num_register_tokens
        self.register_buffer("image_mean", _per_channel(image_mean), persistent=False)
        self.register_buffer("image_std", _per_channel(image_std), persistent=False)
        self.register_buffer("latent_mean", latent_mean, persistent=False)
        self.register_buffer("latent_std", torch.sqrt(latent_var + LATENT_EPS), persistent=False)
        self.requires_grad_(False)
        self.eval()

    @classmethod
    def from_parts(
        cls,
        encoder_config: Mapping,
        encoder_state_dict: Mapping[str, torch.Tensor],
        decoder_config: DecoderConfig | Mapping | None,
        decoder_state_dict: Mapping[str, torch.Tensor],
        stats: Mapping[str, torch.Tensor],
        image_mean: Sequence[float] = IMAGENET_MEAN,
        image_std: Sequence[float] = IMAGENET_STD,
        encoder_input_size: int = 224,
    ) -> RAECodec:
        """Build from in-memory configs and state dicts (no files, no network)."""
        encoder = Dinov2WithRegistersModel(Dinov2WithRegistersConfig.from_dict(dict(encoder_config)))
        load_checked(encoder, encoder_state_dict, "encoder state dict", optional=_FINAL_NORM_KEYS)
        return cls.assemble(
            encoder, decoder_config, decoder_state_dict, stats, image_mean, image_std, encoder_input_size
        )

    @classmethod
    def assemble(
        cls,
        encoder: Dinov2WithRegistersModel,
        decoder_config: DecoderConfig | Mapping | str | Path | None,
        decoder_state_dict: object,
        stats: object,
        image_mean: Sequence[float] = IMAGENET_MEAN,
        image_std: Sequence[float] = IMAGENET_STD,
        encoder_input_size: int = 224,
        decoder_source: str = "decoder state dict",
        stats_source: str = "latent stats",
    ) -> RAECodec:
        """Attach a decoder (built from ``decoder_config``, loaded strictly) and stats to ``encoder``."""
        hidden_size = encoder.config.hidden_size
        grid_size = encoder_input_size // encoder.config.patch_size
        decoder = RAEDecoder(DecoderConfig.from_source(decoder_config), hidden_size, grid_size)
        load_checked(decoder, decoder_state_dict, decoder_source, optional=_DECODER_DEFAULTED_KEYS)
        mean, var = check_stats(stats, hidden_size, grid_size, stats_source)
        return cls(encoder, decoder, mean, var, image_mean, image_std, encoder_input_size)

    @property
    def grid_size(self) -> int:
        return self.encoder_input_size // self.encoder.config.patch_size

    @property
    def latent_dim(self) -> int:
        return self.encoder.config.hidden_size

    @property
    def image_size(self) -> int:
        return self.decoder.config.patch_size * self.grid_size

    def train(self, mode: bool = True) -> RAECodec:
        """The codec is frozen: it stays in eval mode whatever ``mode`` is."""
        return super().train(False)

    @torch.no_grad()
    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        """Pixels ``(b, 3, H, W)`` in [0, 1] -> normalised latents ``(b, latent_dim, grid, grid)``."""
        if pixels.ndim != 4 or pixels.shape[1] != 3 or not pixels.is_floating_point():
            raise ValueError(f"expected float pixels (b, 3, H, W), got {tuple(pixels.shape)} {pixels.dtype}")
        pixels = pixels.to(dtype=self.image_mean.dtype)
        size = self.encoder_input_size
        if pixels.shape[-2:] != (size, size):
            pixels = F.interpolate(pixels, size=(size, size), mode="bicubic", align_corners=False)
        x = (pixels - self.image_mean) / self.image_std
        tokens = self.encoder(pixel_values=x).last_hidden_state[:, self.num_prefix_tokens :]
        z = rearrange(tokens, "b (h w) c -> b c h w", h=self.grid_size)
        return (z - self.latent_mean) / self.latent_std

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Normalised latents ``(b, latent_dim, grid, grid)`` -> pixels ``(b, 3, image_size, image_size)``."""
        expected = (self.latent_dim, self.grid_size, self.grid_size)
        if latents.ndim != 4 or tuple(latents.shape[1:]) != expected:
            raise ValueError(f"expected latents (b, {', '.join(map(str, expected))}), got {tuple(latents.shape)}")
        z = latents * self.latent_std + self.latent_mean
        patches = self.decoder(rearrange(z, "b c h w -> b (h w) c"))
        p = self.decoder.config.patch_size
        x = rearrange(patches, "b (h w) (p q c) -> b c (h p) (w q)", h=self.grid_size, p=p, q=p)
        return x * self.image_std + self.image_mean


def _hub_cache_dir() -> str:
    """The hub cache as the environment says now (``huggingface_hub`` freezes it at import)."""
    from huggingface_hub import constants

    if cache := os.environ.get("HF_HUB_CACHE"):
        return os.path.expanduser(cache)
    if home := os.environ.get("HF_HOME"):
        return os.path.join(os.path.expanduser(home), "hub")
    return constants.HF_HUB_CACHE


def _hub_file(repo_id: str, filename: str, what: str, offline: bool, download: str | None = None) -> Path:
    try:
        return hub_file(repo_id, filename, cache_dir=_hub_cache_dir(), local_only=offline)
    except Exception as err:  # noqa: BLE001 - offline misses, HTTP and network errors alike
        mode = "offline mode: not in the Hugging Face cache" if offline else str(err)
        download = download or f"hf download {repo_id} {filename}"
        raise CodecLoadError(
            f"{what} '{filename}' from {repo_id} is unavailable ({mode}).",
            f"Download it first: `{download}` (or pass a local path)."
        ) from err


def _resolve_rae_file(path: str | Path, what: str, offline: bool) -> Path:
    """A local file as is; otherwise a file name inside the published RAE repo."""
    if Path(path).expanduser().is_file():
        return Path(path).expanduser()
    return _hub_file(RAE_REPO_ID, str(path), what, offline)


def _load_encoder(encoder: str | Path, offline: bool) -> Dinov2WithRegistersModel:
    """A local transformers model directory, or a Hub repo id resolved through the HF cache."""
    name, path = str(encoder), Path(encoder).expanduser()
    local = path.is_dir()
    if not local and (path.is_absolute() or name.startswith((".", "~")) or name.count("/") != 1):
        raise CodecLoadError(f"encoder directory not found: {encoder} (nor is it a Hub repo id 'owner/name')")
    if not local:
        for filename in ("config.json",) if offline else ("config.json", "model.safetensors"):
            _hub_file(name, filename, "encoder files", offline, download=f"hf download {name}")
    try:
        return Dinov2WithRegistersModel.from_pretrained(
            str(path) if local else name,
            cache_dir=None if local else _hub_cache_dir(),
            local_files_only=True,
            dtype=torch.float32,
        )
    except (OSError, ValueError) as err:
        hint = "" if local else f"Download it first: `hf download {name}`."
        raise CodecLoadError(f"cannot load the DINOv2-with-registers encoder from '{name}': {err}.", hint) from err


def load_rae_codec(
    encoder: str | Path = ENCODER_REPO_ID,
    decoder_path: str | Path = DECODER_FILENAME,
    stats_path: str | Path = STATS_FILENAME,
    encoder_input_size: int = 224,
    decoder_config: DecoderConfig | Mapping | str | Path | None = None,
    local_files_only: bool | None = None,
    device: str | torch.device = "cpu",
) -> RAECodec:
    """Build the codec from the published files.

    ``encoder``: a transformers model directory or a Hub repo id. ``decoder_path``/``stats_path``: local
    ``.pt`` files, or file names inside ``nyu-visionx/RAE-collections`` fetched through the HF cache.
    ``decoder_config``: ``None`` for the built-in ViT-XL config, a dict, or a ``config.json`` path.
    ``local_files_only=None`` follows ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` and, failing
    those, a quick reachability probe of the Hub, so an unreachable Hub fails in seconds.
    """
    offline = use_cache_only(local_files_only)
    decoder_file = _resolve_rae_file(decoder_path, "RAE decoder", offline)
    stats_file = _resolve_rae_file(stats_path, "RAE latent stats", offline)
    decoder_state = read_checkpoint(decoder_file, "RAE decoder")
    stats = read_checkpoint(stats_file, "RAE latent stats")
    codec = RAECodec.assemble(
        _load_encoder(encoder, offline),
        decoder_config,
        decoder_state,
        stats,
        encoder_input_size=encoder_input_size,
        decoder_source=f"RAE decoder {decoder_file}",
        stats_source=f"RAE latent stats {stats_file}",
    )
    return codec.to(device)

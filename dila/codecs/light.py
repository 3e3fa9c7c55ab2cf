"""Light frame codec: a small patch autoencoder that runs on a laptop CPU.

Frames are cut into ``patch x patch`` pixel patches (``patch = image_size / grid_size``), one per
token, so all the compute happens on the ``grid_size x grid_size`` token grid.

Encoder: a linear patch projection (``3 patch^2 -> latent_dim``) plus a residual branch: 1x1 conv
to ``width`` channels, ``encoder_blocks`` residual blocks, GroupNorm, SiLU and a zero-initialised
1x1 conv to ``latent_dim``. Decoder: the mirror image, a linear map back to patch pixels plus a
branch that starts with a 3x3 conv over neighbouring tokens and ends in a zero-initialised 1x1 conv
to ``3 patch^2`` pixel values (``decoder_branch=False``: the linear map alone). A block is
``x + MLP(GroupNorm(depthwise 3x3 conv(x)))``.
At initialisation the codec is a linear patch autoencoder; the trainer sets that to whitened patch
PCA, so training starts from the best linear codec and the branches learn the non-linear rest.

Latent scale: ``encode`` standardises every channel with the ``latent_mean`` / ``latent_std``
buffers (measured on the training frames after training), so latents have zero mean and unit
variance per channel on the training distribution; ``decode`` undoes it. ``decode`` clamps the
pixels to [0, 1]; ``forward`` returns the unclamped reconstruction that training compares.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CODEC_TYPE = "light"


class LightCodecLoadError(ValueError):
    """A light-codec checkpoint is missing, unreadable or does not fit its config."""


@dataclass(frozen=True)
class LightCodecConfig:
    image_size: int = 64
    grid_size: int = 8
    latent_dim: int = 64
    width: int = 192  # channels of the residual branches
    mlp_ratio: int = 2  # hidden channels of a block's MLP, relative to width
    encoder_blocks: int = 1
    decoder_blocks: int = 3
    groups: int = 8  # GroupNorm groups
    decoder_branch: bool = True  # False: the decoder is its linear map alone (`without_decoder_branch`)

    def __post_init__(self):
        for name in ("image_size", "grid_size", "latent_dim", "width", "mlp_ratio", "groups"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        for name in ("encoder_blocks", "decoder_blocks"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")
        if self.image_size % self.grid_size:
            raise ValueError(f"image_size {self.image_size} is not divisible by grid_size {self.grid_size}")
        if self.patch_size & (self.patch_size - 1):
            raise ValueError(f"image_size / grid_size = {self.patch_size} is not a power of two")
        if self.latent_dim > 3 * self.patch_size**2:
            raise ValueError(f"latent_dim {self.latent_dim} exceeds the {3 * self.patch_size**2} values of a "
                             f"{self.patch_size}x{self.patch_size} patch")
        if not isinstance(self.decoder_branch, bool):
            raise ValueError(f"decoder_branch must be true or false, got {self.decoder_branch!r}")
        if self.width % self.groups:
            raise ValueError(f"width {self.width} is not divisible by groups {self.groups}")

    @property
    def patch_size(self) -> int:
        return self.image_size // self.grid_size

    @property
    def patch_dim(self) -> int:
        return 3 * self.patch_size**2

    @classmethod
    def from_dict(cls, data: dict) -> LightCodecConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class Block(nn.Module):
    def __init__(self, width: int, hidden: int, groups: int):
        super().__init__()
        self.mix = nn.Conv2d(width, width, 3, padding=1, groups=width)
        self.norm = nn.GroupNorm(groups, width)
        self.mlp = nn.Sequential(nn.Conv2d(width, hidden, 1), nn.SiLU(), nn.Conv2d(hidden, width, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mlp(self.norm(self.mix(x)))


def branch(c: LightCodecConfig, stem: nn.Module, blocks: int, out: int) -> nn.Sequential:
    """stem -> blocks -> GroupNorm -> SiLU -> zero-initialised 1x1 conv to ``out`` channels."""
    head = nn.Conv2d(c.width, out, 1)
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    body = [Block(c.width, c.mlp_ratio * c.width, c.groups) for _ in range(blocks)]
    return nn.Sequential(stem, *body, nn.GroupNorm(c.groups, c.width), nn.SiLU(), head)


class LightCodec(nn.Module):
    """Frames ``(b, 3, H, W)`` in [0, 1] <-> latents ``(b, latent_dim, grid_size, grid_size)``."""

    def __init__(self, config: LightCodecConfig | None = None):
        super().__init__()
        c = self.config = config or LightCodecConfig()
        self.encoder_linear = nn.Conv2d(c.patch_dim, c.latent_dim, 1)
        self.encoder_branch = branch(c, nn.Conv2d(c.patch_dim, c.width, 1), c.encoder_blocks, c.latent_dim)
        self.decoder_linear = nn.Conv2d(c.latent_dim, c.patch_dim, 1)
        self.decoder_branch = (branch(c, nn.Conv2d(c.latent_dim, c.width, 3, padding=1), c.decoder_blocks, c.patch_dim)
                               if c.decoder_branch else None)
        self.register_buffer("latent_mean", torch.zeros(1, c.latent_dim, 1, 1))
        self.register_buffer("latent_std", torch.ones(1, c.latent_dim, 1, 1))

    @property
    def image_size(self) -> int:
        return self.config.image_size

    @property
    def grid_size(self) -> int:
        return self.config.grid_size

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def embed(self, pixels: torch.Tensor) -> torch.Tensor:
        """Pixels ``(b, 3, image_size, image_size)`` -> unstandardised latents ``(b, d, h, w)``."""
        p = self.config.patch_size
        patches = rearrange(pixels, "b c (h p) (w q) -> b (p q c) h w", p=p, q=p)
        return self.encoder_linear(patches) + self.encoder_branch(patches)

    def reconstruct(self, z: torch.Tensor) -> torch.Tensor:
        """Unstandardised latents -> unclamped pixels ``(b, 3, image_size, image_size)``."""
        p = self.config.patch_size
        patches = self.decoder_linear(z)
        if self.decoder_branch is not None:
            patches = patches + self.decoder_branch(z)
        return rearrange(patches, "b (p q c) h w -> b c (h p) (w q)", p=p, q=p)

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        """Pixels ``(b, 3, H, W)`` in [0, 1] -> standardised latents ``(b, d, h, w)``."""
        if pixels.ndim != 4 or pixels.shape[1] != 3 or not pixels.is_floating_point():
            raise ValueError(f"expected float pixels (b, 3, H, W), got {tuple(pixels.shape)} {pixels.dtype}")
        size = self.image_size
        if pixels.shape[-2:] != (size, size):
            pixels = F.interpolate(pixels, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        return (self.embed(pixels) - self.latent_mean) / self.latent_std

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Standardised latents ``(b, d, h, w)`` -> pixels ``(b, 3, image_size, image_size)`` in [0, 1]."""
        expected = (self.latent_dim, self.grid_size, self.grid_size)
        if latents.ndim != 4 or tuple(latents.shape[1:]) != expected:
            raise ValueError(f"expected latents (b, {', '.join(map(str, expected))}), got {tuple(latents.shape)}")
        return self.reconstruct(latents * self.latent_std + self.latent_mean).clamp(0, 1)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Unclamped reconstruction of ``image_size`` pixels: what training compares with them."""
        return self.reconstruct(self.embed(pixels))

    def without_decoder_branch(self) -> LightCodec:
        """The same encoder, decoding with the linear map alone. On a 16x16 grid of 48-d tokens the
        patch PCA is already lossless and the trained branch adds ~1e-4 to a pixel, while it takes most
        of a decode's time (4 of 4.2 ms for one 64x64 frame on one thread)."""
        slim = LightCodec(replace(self.config, decoder_branch=False))
        kept = {k: v for k, v in self.state_dict().items() if not k.startswith("decoder_branch.")}
        slim.load_state_dict(kept, strict=True)
        return slim.eval()

    def save_pretrained(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        config = {"codec_type": CODEC_TYPE, **asdict(self.config)}
        (directory / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
        state = {k: v.detach().contiguous() for k, v in self.state_dict().items()}
        save_file(state, directory / WEIGHTS_NAME, metadata={"codec_type": CODEC_TYPE})

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> LightCodec:
        """Read ``config.json`` + ``model.safetensors``; any problem raises ``LightCodecLoadError``."""
        config_path, weights_path = Path(directory) / CONFIG_NAME, Path(directory) / WEIGHTS_NAME
        try:
            raw = json.loads(config_path.read_text())
            if not isinstance(raw, dict) or raw.get("codec_type") != CODEC_TYPE:
                raise ValueError(f"it does not describe a {CODEC_TYPE!r} codec")
            model = cls(LightCodecConfig.from_dict(raw))
        except (OSError, ValueError, TypeError) as err:
            raise LightCodecLoadError(f"light codec config {config_path} is unusable: {_reason(err)}") from err
        try:
            model.load_state_dict(load_file(weights_path), strict=True)
        except (OSError, RuntimeError, SafetensorError) as err:
            raise LightCodecLoadError(f"light codec weights {weights_path} are unusable: {_reason(err)}") from err
        return model.eval()


def _reason(err: Exception) -> str:
    return " ".join(str(err).split())[:500] or type(err).__name__

"""Train the light frame codec.

    python -m dila.codecs.train_light --out checkpoints/codec --steps 4000 --batch 32 --seed 0 --threads 1

(about 10 minutes on a shared 2-core CPU; with a second core to itself, ``--threads 2`` is faster.)

The linear paths start as whitened patch PCA of the training frames; then AdamW with linear
warmup + cosine decay on an MSE + L1 pixel loss with random flips; finally the latent statistics
are measured on the training frames. Writes the codec (``config.json`` + ``model.safetensors``)
and ``metrics.json`` (train / held-out PSNR, losses) to ``--out``.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from tqdm import tqdm

from dila.codecs.light import LightCodec, LightCodecConfig


def to_pixels(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 frames ``(n, H, W, 3)`` -> float pixels ``(n, 3, H, W)`` in [0, 1]."""
    return torch.as_tensor(frames).permute(0, 3, 1, 2).float() / 255


def frame_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (pred - target).pow(2).flatten(1).mean(1)


def psnr(mse: torch.Tensor) -> torch.Tensor:
    """PSNR in dB of a mean squared error of pixels in [0, 1]."""
    return -10 * torch.log10(mse.clamp_min(1e-10))


@torch.no_grad()
def evaluate(model: LightCodec, frames: np.ndarray, batch: int = 256) -> dict[str, float]:
    """Mean, minimum and pooled-MSE PSNR of encode -> decode (clamped, as the pipeline sees it)."""
    model.eval()
    mse = torch.cat([
        frame_mse(model.decode(model.encode(x)), x)
        for x in (to_pixels(frames[i : i + batch]) for i in range(0, len(frames), batch))
    ])
    return {
        "psnr_mean": psnr(mse).mean().item(),
        "psnr_min": psnr(mse).min().item(),
        "psnr_pooled": psnr(mse.mean()).item(),
        "frames": len(frames),
    }


@torch.no_grad()
def pca_init(model: LightCodec, frames: np.ndarray, samples: int = 1024, seed: int = 0) -> None:
    """Make the linear paths whitened patch PCA: unit-variance latents, best linear reconstruction."""
    p, d = model.config.patch_size, model.latent_dim
    index = np.random.default_rng(seed).choice(len(frames), min(samples, len(frames)), replace=False)
    pixels = to_pixels(frames[np.sort(index)]).double()
    patches = rearrange(pixels, "n c (h p) (w q) -> (n h w) (p q c)", p=p, q=p)
    mean = patches.mean(0)
    _, singular, vectors = torch.linalg.svd(patches - mean, full_matrices=False)
    basis, std = vectors[:d], singular[:d] / math.sqrt(len(patches) - 1)
    encoder = basis / std[:, None]
    decoder = basis.T * std
    model.encoder_linear.weight.copy_(encoder[..., None, None])
    model.encoder_linear.bias.copy_(-encoder @ mean)
    model.decoder_linear.weight.copy_(decoder[..., None, None])
    model.decoder_linear.bias.copy_(mean)


@torch.no_grad()
def calibrate(model: LightCodec, frames: np.ndarray, batch: int = 256) -> None:
    """Set ``latent_mean`` / ``latent_std`` so that latents are centred, each channel scaled by its
    weight in pixel space (the norm of its decoder column), and of unit mean variance overall.

    A world model trained with MSE on these latents then weighs each channel as the pixels do,
    instead of amplifying channels that barely change the image.
    """
    model.eval()
    z = torch.cat([model.embed(to_pixels(frames[i : i + batch])) for i in range(0, len(frames), batch)])
    weight = model.decoder_linear.weight.flatten(1).norm(dim=0)
    variance = z.var((0, 2, 3)) * weight**2
    scale = variance.mean().sqrt() / weight
    model.latent_mean.copy_(z.mean((0, 2, 3), keepdim=True))
    model.latent_std.copy_(scale.view(1, -1, 1, 1))


def learning_rate(step: int, steps: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress)))


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    flip = torch.rand(x.shape[0], generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def train(
    model: LightCodec,
    frames: np.ndarray,
    steps: int,
    batch: int,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    warmup: int = 100,
    l1_weight: float = 0.1,
    log_every: int = 100,
    seed: int = 0,
) -> list[dict[str, float]]:
    """Fit ``model`` to uint8 ``frames`` ``(n, H, W, 3)``; returns the logged losses."""
    generator = torch.Generator().manual_seed(seed)
    frames = torch.as_tensor(frames)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, betas=(0.9, 0.99))
    model.train()
    log, running = [], []
    progress = tqdm(range(steps), desc="light codec", mininterval=5)
    for step in progress:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, steps, lr, warmup)
        index = torch.randint(len(frames), (batch,), generator=generator)
        x = augment(to_pixels(frames[index]), generator)
        out = model(x)
        loss = F.mse_loss(out, x) + l1_weight * F.l1_loss(out, x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        running.append(loss.item())
        if (step + 1) % log_every == 0 or step + 1 == steps:
            with torch.no_grad():
                train_psnr = psnr(frame_mse(out.clamp(0, 1), x)).mean().item()
            entry = {"step": step + 1, "loss": float(np.mean(running)), "psnr": train_psnr, "lr": group["lr"]}
            log.append(entry)
            running = []
            progress.write(f"step {step + 1:6d}  loss {entry['loss']:.5f}  batch psnr {train_psnr:.2f} dB  "
                           f"lr {entry['lr']:.2e}")
    model.eval()
    return log


def procedural_frames(split: str, clips: int, frames_per_clip: int, seed: int) -> np.ndarray:
    """uint8 frames ``(clips * frames_per_clip, 64, 64, 3)`` from the procedural clips of ``split``."""
    from dila.data.procedural import ProceduralVideoDataset

    dataset = ProceduralVideoDataset(split, num_clips=clips, frames=frames_per_clip, seed=seed)
    return np.concatenate([dataset.clip(i).frames for i in range(clips)])


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("checkpoints/codec"))
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--l1-weight", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-clips", type=int, default=10_000)
    parser.add_argument("--heldout-clips", type=int, default=500)
    parser.add_argument("--frames-per-clip", type=int, default=2)
    parser.add_argument("--grid-size", type=int, default=LightCodecConfig.grid_size, help="tokens per side (16: 4-pixel cells)")
    parser.add_argument("--latent-dim", type=int, default=LightCodecConfig.latent_dim)
    parser.add_argument("--width", type=int, default=LightCodecConfig.width)
    parser.add_argument("--mlp-ratio", type=int, default=LightCodecConfig.mlp_ratio)
    parser.add_argument("--encoder-blocks", type=int, default=LightCodecConfig.encoder_blocks)
    parser.add_argument("--decoder-blocks", type=int, default=LightCodecConfig.decoder_blocks)
    parser.add_argument("--log-every", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    train_frames = procedural_frames("train", args.train_clips, args.frames_per_clip, args.seed)
    heldout_frames = procedural_frames("heldout", args.heldout_clips, args.frames_per_clip, args.seed)
    print(f"data: {len(train_frames)} train / {len(heldout_frames)} held-out frames")
    config = LightCodecConfig(
        grid_size=args.grid_size, latent_dim=args.latent_dim, width=args.width, mlp_ratio=args.mlp_ratio,
        encoder_blocks=args.encoder_blocks, decoder_blocks=args.decoder_blocks,
    )
    model = LightCodec(config)
    print(f"{config}\nparameters: {sum(p.numel() for p in model.parameters()):,}")
    pca_init(model, train_frames, seed=args.seed)
    metrics = {"pca_heldout": evaluate(model, heldout_frames)}
    print(f"patch PCA: held-out PSNR {metrics['pca_heldout']['psnr_mean']:.2f} dB")
    log = train(model, train_frames, args.steps, args.batch, lr=args.lr, l1_weight=args.l1_weight,
                log_every=args.log_every, seed=args.seed)
    calibrate(model, train_frames)
    metrics |= {
        "heldout": evaluate(model, heldout_frames),
        "train": evaluate(model, train_frames[: len(heldout_frames)]),
        "steps": args.steps,
        "batch": args.batch,
        "seed": args.seed,
        "wall_seconds": round(time.perf_counter() - start, 1),
        "log": log,
    }
    model.save_pretrained(args.out)
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"held-out PSNR {metrics['heldout']['psnr_mean']:.2f} dB (pooled {metrics['heldout']['psnr_pooled']:.2f}), "
          f"train {metrics['train']['psnr_mean']:.2f} dB; saved to {args.out} in {metrics['wall_seconds']:.0f} s")


if __name__ == "__main__":
    main()

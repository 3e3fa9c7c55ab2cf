"""Image and vector metrics on uint8 frames `... h w 3` and action vectors `... a`."""
from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity

MAX_PSNR = 100.0


def frame_psnr(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """PSNR in dB of each frame of `... h w 3` uint8 arrays, capped at MAX_PSNR (identical frames)."""
    pred, target = _frames(pred, target)
    mse = ((pred.astype(np.float64) - target) ** 2).mean(axis=(1, 2, 3))
    floor = 255.0**2 * 10 ** (-MAX_PSNR / 10)
    return 10 * np.log10(255.0**2 / np.maximum(mse, floor))


def frame_ssim(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """SSIM of each frame: scikit-image defaults (uniform 7x7 windows), averaged over the channels."""
    pred, target = _frames(pred, target)
    return np.array([structural_similarity(p, t, channel_axis=-1, data_range=255) for p, t in zip(pred, target)])


def psnr(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean of the per-frame PSNR."""
    return float(frame_psnr(pred, target).mean())


def pooled_psnr(pred: np.ndarray, target: np.ndarray) -> float:
    """PSNR of the mean squared error over all frames: unlike the mean of per-frame PSNRs, frames that
    barely change do not outweigh frames that change a lot."""
    pred, target = _frames(pred, target)
    mse = ((pred.astype(np.float64) - target) ** 2).mean()
    return float(10 * np.log10(255.0**2 / max(mse, 255.0**2 * 10 ** (-MAX_PSNR / 10))))


def ssim(pred: np.ndarray, target: np.ndarray) -> float:
    return float(frame_ssim(pred, target).mean())


def cosine(a: np.ndarray, b: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """Cosine similarity along the last axis."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return (a * b).sum(-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), eps)


def colour_histogram(frames: np.ndarray, bins: int = 8) -> np.ndarray:
    """Normalised joint RGB histogram of all pixels of `frames` (`... 3` uint8): `bins**3` values."""
    pixels = np.asarray(frames).reshape(-1, 3).astype(np.int64) * bins // 256
    index = (pixels[:, 0] * bins + pixels[:, 1]) * bins + pixels[:, 2]
    counts = np.bincount(index, minlength=bins**3).astype(np.float64)
    return counts / counts.sum()


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Hellinger distance between two normalised histograms: 0 (same) to 1 (disjoint)."""
    return float(np.sqrt(max(0.0, 1 - np.sqrt(a * b).sum())))


def _frames(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, target = np.asarray(pred), np.asarray(target)
    if pred.shape != target.shape or pred.shape[-1] != 3 or pred.ndim < 3:
        raise ValueError(f"expected two uint8 arrays of the same shape ... h w 3, got {pred.shape} and {target.shape}")
    return pred.reshape(-1, *pred.shape[-3:]), target.reshape(-1, *target.shape[-3:])

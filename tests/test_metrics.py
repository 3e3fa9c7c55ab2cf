import numpy as np
import pytest

from dila.metrics import (
    MAX_PSNR,
    colour_histogram,
    cosine,
    frame_psnr,
    frame_ssim,
    histogram_distance,
    psnr,
    ssim,
)


@pytest.fixture
def frames():
    return np.random.default_rng(0).integers(30, 226, size=(2, 3, 16, 16, 3), dtype=np.uint8)


def test_psnr_of_identical_frames_is_capped(frames):
    assert psnr(frames, frames) == MAX_PSNR


def test_psnr_of_known_error(frames):
    signs = np.random.default_rng(1).choice([-10, 10], size=frames.shape)
    noisy = (frames.astype(int) + signs).astype(np.uint8)
    expected = 10 * np.log10(255**2 / 100)
    np.testing.assert_allclose(frame_psnr(noisy, frames), np.full(6, expected))
    assert psnr(noisy, frames) == pytest.approx(28.1308, abs=1e-4)


def test_psnr_is_per_frame_then_averaged(frames):
    noisy = frames.copy()
    noisy[0, 0] += 1
    values = frame_psnr(noisy, frames)
    assert values[0] == pytest.approx(10 * np.log10(255**2)) and (values[1:] == MAX_PSNR).all()
    assert psnr(noisy, frames) == pytest.approx(values.mean())


def test_ssim_sanity(frames):
    assert ssim(frames, frames) == pytest.approx(1.0)
    rng = np.random.default_rng(2)
    noisy = [np.clip(frames + rng.normal(0, s, frames.shape), 0, 255).astype(np.uint8) for s in (5, 20, 60)]
    scores = [ssim(n, frames) for n in noisy]
    assert 1 > scores[0] > scores[1] > scores[2] > 0
    assert frame_ssim(noisy[0], frames).shape == (6,)
    assert ssim(255 - frames, frames) < 0


def test_frames_must_match():
    with pytest.raises(ValueError, match="same shape"):
        psnr(np.zeros((2, 8, 8, 3), np.uint8), np.zeros((2, 8, 8, 1), np.uint8))


def test_cosine():
    a = np.array([[1.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    b = np.array([[0.0, 3.0], [-2.0, -2.0], [5.0, 0.0]])
    np.testing.assert_allclose(cosine(a, b), [0.0, -1.0, 1.0])
    assert cosine(np.zeros(3), np.ones(3)) == 0


def test_colour_histograms():
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 255
    blue = red[..., ::-1].copy()
    hist = colour_histogram(red, bins=4)
    assert hist.shape == (64,) and hist.sum() == pytest.approx(1) and hist[3 * 16] == 1
    assert histogram_distance(hist, hist) == 0
    assert histogram_distance(hist, colour_histogram(blue, bins=4)) == pytest.approx(1)
    half = np.concatenate((red, blue))
    assert histogram_distance(hist, colour_histogram(half, bins=4)) == pytest.approx(np.sqrt(1 - np.sqrt(0.5)))


def test_pooled_psnr_weights_frames_by_their_error():
    from dila.metrics import pooled_psnr

    target = np.zeros((2, 4, 4, 3), np.uint8)
    pred = target.copy()
    pred[1] = 20
    assert psnr(pred, target) == pytest.approx((100.0 + 10 * np.log10(255**2 / 400)) / 2)
    assert pooled_psnr(pred, target) == pytest.approx(10 * np.log10(255**2 / 200))

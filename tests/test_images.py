"""Image inputs: the pixel limit is checked from the header, before anything is decoded."""
import base64
import time

import numpy as np
import pytest
from PIL import Image

from explorer import UserError
from explorer.images import read_image

LIMIT = 25_000_000


def peak_rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


@pytest.fixture(scope="module")
def huge_png(tmp_path_factory):
    """12000x12000 pixels in a few hundred KB (RGB would take 432 MB once decoded)."""
    path = tmp_path_factory.mktemp("images") / "huge.png"
    Image.new("1", (12000, 12000)).save(path)
    return path


def test_a_huge_png_is_refused_from_its_header(huge_png):
    reset_peak_rss()
    before = peak_rss_mb()
    start = time.perf_counter()
    with pytest.raises(UserError, match="12000×12000 pixels; the limit is 25 million pixels") as error:
        read_image(huge_png, LIMIT, "The goal image")
    elapsed, grown = time.perf_counter() - start, peak_rss_mb() - before
    print(f"\n{huge_png.stat().st_size / 1024:.0f} KB 12000x12000 PNG refused in {1000 * elapsed:.1f} ms, "
          f"peak RSS +{grown:.1f} MB")
    assert elapsed < 1.0 and grown < 200 and str(huge_png) not in str(error.value)


def test_beyond_pillows_own_bomb_limit(tmp_path):
    path = tmp_path / "bigger.png"
    Image.new("1", (16000, 16000)).save(path)
    with pytest.raises(UserError, match="far too many pixels"):
        read_image(path, LIMIT)


@pytest.mark.parametrize("content", [b"", b"\x89PNG\r\n\x1a\n", b"hello", b"%!PS-Adobe-3.0 EPSF-3.0\n"])
def test_unreadable_images_get_a_sentence(tmp_path, content):
    (tmp_path / "x.png").write_bytes(content)
    with pytest.raises(UserError, match="cannot be read: use a PNG, JPEG"):
        read_image(tmp_path / "x.png", LIMIT, "The goal image")


def test_images_are_shrunk_at_once_and_data_urls_work(tmp_path):
    Image.new("RGB", (3000, 1500), (200, 10, 10)).save(tmp_path / "wide.jpg")
    image = read_image(tmp_path / "wide.jpg", LIMIT)
    assert image.shape == (512, 1024, 3) and image.dtype == np.uint8 and abs(int(image[0, 0, 0]) - 200) < 8
    Image.new("RGBA", (20, 10), (0, 0, 255, 128)).save(tmp_path / "small.png")
    url = "data:image/png;base64," + base64.b64encode((tmp_path / "small.png").read_bytes()).decode()
    assert read_image(url, LIMIT).shape == (10, 20, 3)
    with pytest.raises(UserError, match="not valid base64"):
        read_image("data:image/png;base64,@@@", LIMIT)

"""Image inputs (goal images) decoded within bounds: the pixel count is read from the header and
checked before any pixel is decoded, and the picture is shrunk as soon as it is."""
from __future__ import annotations

import base64
import binascii
import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from explorer.errors import UserError

FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")
WORKING_SIDE = 1024
_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, Image.DecompressionBombError)


def read_image(source: str | Path, max_pixels: int, what: str = "The image") -> np.ndarray:
    """A file path or `data:` URL -> uint8 `h w 3`, at most WORKING_SIDE a side. Raises UserError
    with a sentence for anything too large or unreadable."""
    side = int(max_pixels ** 0.5)
    limit = f"the limit is {max_pixels / 1e6:.0f} million pixels (for example {side}×{side})"
    try:
        rgb = _decode(_open(str(source), what), max_pixels, f"{what} is {{}}×{{}} pixels; {limit}.")
    except Image.DecompressionBombError:
        raise UserError(f"{what} has far too many pixels; {limit}.") from None
    except _ERRORS:
        raise UserError(f"{what} cannot be read: use a PNG, JPEG, WebP, GIF or BMP file.") from None
    rgb.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.Resampling.BOX)
    return np.asarray(rgb)


def _decode(file, max_pixels: int, too_large: str) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(file, formats=FORMATS) as image:
            if image.width * image.height > max_pixels:
                raise UserError(too_large.format(image.width, image.height))
            image.draft("RGB", (WORKING_SIDE, WORKING_SIDE))
            return image.convert("RGB")


def _open(source: str, what: str):
    if not source.startswith("data:"):
        return source
    try:
        return io.BytesIO(base64.b64decode(source.partition(",")[2], validate=True))
    except (binascii.Error, ValueError):
        raise UserError(f"{what} cannot be read: its data is not valid base64.") from None

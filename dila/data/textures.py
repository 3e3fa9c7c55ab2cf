"""Photo and flat-colour assets, in disjoint train / held-out sets.

Photos are the ones bundled in the scikit-image wheel (no download). Grey photos are
used as grey RGB. `TEXTURES` fill objects, `BACKGROUNDS` are the backdrops of object
scenes and the canvases of camera scenes (with "drawing", a procedural illustration:
`dila.data.drawings`); `COLOURS` are flat fills for either role.
No photo, colour or shape appears in more than one split, and no photo in both roles.
"""

from functools import cache

import cv2
import numpy as np
import skimage.data

TEXTURES = {
    "train": ("astronaut", "coffee", "immunohistochemistry", "colorwheel", "brick", "gravel"),
    "heldout": ("chelsea", "retina", "coins"),
}
BACKGROUNDS = {
    "train": ("rocket", "motorcycle", "camera", "grass", "moon", "page", "drawing"),
    "heldout": ("hubble_deep_field", "text", "logo"),
}
COLOURS = {
    "train": {
        "red": (215, 40, 40), "orange": (240, 140, 20), "yellow": (240, 220, 40),
        "green": (40, 160, 60), "blue": (40, 80, 210), "purple": (130, 50, 170),
        "white": (245, 245, 245), "black": (20, 20, 20),
    },
    "heldout": {
        "cyan": (40, 200, 220), "magenta": (220, 40, 180), "brown": (120, 70, 30),
        "lime": (160, 240, 60), "navy": (20, 30, 100), "grey": (128, 128, 128),
    },
}


def _load(name: str) -> np.ndarray:
    if name == "motorcycle":
        return skimage.data.stereo_motorcycle()[0]
    return getattr(skimage.data, name)()


@cache
def photo(name: str) -> np.ndarray:
    """A bundled photo as read-only uint8 RGB [h, w, 3]."""
    image = _load(name)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    image = np.ascontiguousarray(image[..., :3], dtype=np.uint8)
    image.flags.writeable = False
    return image


def random_crop(rng: np.random.Generator, image: np.ndarray, fraction: tuple[float, float], side: int) -> np.ndarray:
    """A random square crop whose side is `fraction` of the image's shorter side, resized to `side`."""
    h, w = image.shape[:2]
    crop = max(1, int(rng.uniform(*fraction) * min(h, w)))
    top, left = rng.integers(h - crop + 1), rng.integers(w - crop + 1)
    patch = image[top:top + crop, left:left + crop]
    interpolation = cv2.INTER_AREA if crop > side else cv2.INTER_LINEAR
    return cv2.resize(patch, (side, side), interpolation=interpolation)

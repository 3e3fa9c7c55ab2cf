"""Procedural videos with ground-truth actions (in the spirit of Omni-Primitive-Transforms).

An object scene is one textured or flat-coloured shape over a photo or flat background;
a camera scene is a large photo canvas seen through a moving, zooming window.

State per frame, float32 [4] = (x, y, theta, scale):
  object: x, y = the shape's centroid in output pixels (pixel centres at integers, x right,
          y down); theta = rotation in radians, counter-clockwise on screen; scale =
          circumradius / (OBJECT_RADIUS * size).
  camera: x, y = the view centre in canvas pixels (canvas side = CANVAS_SIDE * size, so one
          canvas pixel is one output pixel at zoom 1); theta = 0; scale = zoom (> 1 = zoomed in).
Action per step, float32 [4] = state[t+1] - state[t] with the last entry as a log ratio:
  (dx px, dy px, dtheta rad, dlog_scale) = (x1 - x0, y1 - y0, theta1 - theta0, log(scale1 / scale0)).
  A camera action is the camera's motion: dx > 0 pans right, so the content moves left.
Actions are sampled conditioned on every scene they drive staying valid: the object's
circumscribed disc stays inside the frame, the view stays inside the canvas, and scale stays
within SCALE_RANGE (objects) or ZOOM_RANGE (camera).
"""

from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from dila.data.drawings import DRAWING, drawing
from dila.data.shapes import SHAPES, shape_mask
from dila.data.tensors import frames_to_tensor
from dila.data.textures import BACKGROUNDS, COLOURS, TEXTURES, photo, random_crop

SPLITS = ("train", "heldout")
KINDS = ("translate", "rotate", "scale", "compose", "camera")
OBJECT_RADIUS = 0.15
SCALE_RANGE = (0.6, 1.8)
ZOOM_RANGE = (0.75, 1.5)
START_SCALE_RANGE = (0.8, 1.3)
START_ZOOM_RANGE = (0.9, 1.2)
CANVAS_SIDE = 2.0
FLAT_PROBABILITY = 0.25
TEXTURE_CROP, BACKGROUND_CROP, CANVAS_CROP = (0.15, 0.5), (0.3, 1.0), (0.6, 1.0)
MIP_LEVELS = 5
MIP_STEP = 2**0.5
MAX_SHIFT = 0.08
MAX_ROTATION = 0.4
MAX_LOG_SCALE = 0.2
MAX_LOG_ZOOM = 0.1
PROPOSALS_PER_STEP = 8
STILL_OBJECTS = (2, 6)
NOISE = "noise"  # the name of a colour-noise backdrop
NOISE_OCTAVES = (4, 8, 16, 32)  # cells across the frame


@dataclass(frozen=True, eq=False)
class Scene:
    """What a clip shows, before any action.

    backdrop: uint8 [size, size, 3] background, or the uint8 camera canvas.
    sprites: the object as `sprite_levels`, or None for camera scenes.
    """

    size: int
    backdrop: np.ndarray
    start: np.ndarray
    sprites: tuple[np.ndarray, ...] | None
    shape: str | None
    texture: str | None
    background: str

    @property
    def camera(self) -> bool:
        return self.sprites is None


@dataclass(frozen=True, eq=False)
class Clip:
    """frames uint8 [t, size, size, 3], actions float32 [t - 1, 4], states float32 [t, 4]."""

    frames: np.ndarray
    actions: np.ndarray
    states: np.ndarray
    kind: str
    scene: Scene


def _fill(rng: np.random.Generator, split: str, photos: tuple[str, ...], fraction, side: int,
          flat_probability: float = FLAT_PROBABILITY, avoid: str | None = None) -> tuple[str, np.ndarray]:
    """(name, image): a flat colour with probability `flat_probability`, else a photo crop (or a drawing)."""
    if rng.random() < flat_probability:
        name = rng.choice([c for c in COLOURS[split] if c != avoid])
        return str(name), np.full((side, side, 3), COLOURS[split][name], np.uint8)
    name = str(rng.choice(photos))
    if name == DRAWING:
        return name, drawing(rng, side)
    return name, random_crop(rng, photo(name), fraction, side)


def sprite_side(size: int) -> int:
    """Side of the full-resolution sprite: the object at the largest scale, plus a 1 px margin."""
    return 2 * int(np.ceil(SCALE_RANGE[1] * OBJECT_RADIUS * size)) + 2


def sprite_levels(image: np.ndarray, shape: str) -> tuple[np.ndarray, ...]:
    """`image` [side, side, 3] cut to `shape`, as premultiplied RGBA float32 [s, s, 4] mip levels
    with s = side / MIP_STEP**level (rounded), so rendering never shrinks a level by MIP_STEP or more."""
    alpha = shape_mask(shape, image.shape[0])[..., None]
    full = np.concatenate([image * alpha, alpha], axis=2).astype(np.float32)
    sides = [round(full.shape[0] / MIP_STEP**level) for level in range(MIP_LEVELS)]
    return tuple(cv2.resize(full, (side, side), interpolation=cv2.INTER_AREA) for side in sides)


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _extent(scene: Scene, scale: float) -> float:
    if scene.camera:
        return scene.size / (2 * scale)
    return scale * OBJECT_RADIUS * scene.size


def fits(scene: Scene, state: np.ndarray) -> bool:
    """Whether a state keeps the object fully in frame (or the view inside the canvas)."""
    x, y, _, scale = state
    low, high = ZOOM_RANGE if scene.camera else SCALE_RANGE
    h, w = scene.backdrop.shape[:2]
    extent = _extent(scene, scale)
    return bool(low <= scale <= high and extent <= x <= w - 1 - extent and extent <= y <= h - 1 - extent)


def _random_start(rng: np.random.Generator, scene: Scene) -> np.ndarray:
    scale = _log_uniform(rng, *(START_ZOOM_RANGE if scene.camera else START_SCALE_RANGE))
    h, w = scene.backdrop.shape[:2]
    extent = _extent(scene, scale)
    x, y = rng.uniform(extent, w - 1 - extent), rng.uniform(extent, h - 1 - extent)
    theta = 0.0 if scene.camera else rng.uniform(-np.pi, np.pi)
    return np.array([x, y, theta, scale])


def sample_scene(rng: np.random.Generator, split: str = "train", size: int = 64, camera: bool = False,
                 still_objects: float = 0.0, noise_backdrops: float = 0.0) -> Scene:
    """A random scene built only from `split`'s shapes, photos and colours. With probability `still_objects`
    a camera canvas carries objects painted onto it, which the pan carries along like everything else; with
    probability `noise_backdrops` an object moves over colour noise (`colour_noise`) instead of a photo."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if camera:
        canvas_side = round(CANVAS_SIDE * size)
        background, canvas = _fill(rng, split, BACKGROUNDS[split], CANVAS_CROP, canvas_side, flat_probability=0)
        if still_objects and rng.random() < still_objects:
            canvas = _paint_objects(rng, split, canvas, size, background)
        scene = Scene(size, canvas, np.zeros(4), None, None, None, background)
    else:
        if noise_backdrops and rng.random() < noise_backdrops:
            background, backdrop = NOISE, colour_noise(rng, size)
        else:
            background, backdrop = _fill(rng, split, BACKGROUNDS[split], BACKGROUND_CROP, size)
        shape, texture, sprites = _sample_object(rng, split, size, background)
        scene = Scene(size, backdrop, np.zeros(4), sprites, shape, texture, background)
    return replace(scene, start=_random_start(rng, scene))


def colour_noise(rng: np.random.Generator, size: int) -> np.ndarray:
    """uint8 `size size 3`: smooth noise over two to four octaves of random weight, every channel its own, around
    a random colour: a backdrop as busy as an object, of no photo's statistics."""
    octaves = [cv2.resize(rng.standard_normal((n, n, 3)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
               * rng.uniform(0.2, 1.0) for n in rng.choice(NOISE_OCTAVES, int(rng.integers(2, 5)), replace=False)]
    noise = sum(octaves)
    noise = (noise - noise.mean()) / (noise.std() + 1e-6) * rng.uniform(20, 60) + rng.uniform(50, 205, 3)
    return noise.clip(0, 255).astype(np.uint8)


def _sample_object(rng: np.random.Generator, split: str, size: int, background: str):
    """(shape, texture, sprite levels) of one random object of `split`."""
    shape = str(rng.choice(SHAPES[split]))
    texture, image = _fill(rng, split, TEXTURES[split], TEXTURE_CROP, sprite_side(size), avoid=background)
    return shape, texture, sprite_levels(image, shape)


def _paint_objects(rng: np.random.Generator, split: str, canvas: np.ndarray, size: int, background: str,
                   count: tuple[int, int] = STILL_OBJECTS) -> np.ndarray:
    """`canvas` with a few objects painted at random places, at the sizes they have in object scenes."""
    side = canvas.shape[0]
    for _ in range(int(rng.integers(count[0], count[1] + 1))):
        sprites = _sample_object(rng, split, size, background)[2]
        scale = _log_uniform(rng, *START_SCALE_RANGE)
        state = np.array([*rng.uniform(0, side - 1, 2), rng.uniform(-np.pi, np.pi), scale])
        canvas = _composite(canvas, sprites, state, scale * OBJECT_RADIUS * size)
    return canvas


def _propose(rng: np.random.Generator, kind: str, size: int) -> np.ndarray:
    shift = rng.uniform(-MAX_SHIFT, MAX_SHIFT, 2) * size
    rotation = rng.uniform(-MAX_ROTATION, MAX_ROTATION)
    log_scale = rng.uniform(-MAX_LOG_SCALE, MAX_LOG_SCALE)
    action = {
        "translate": [*shift, 0, 0],
        "rotate": [0, 0, rotation, 0],
        "scale": [0, 0, 0, log_scale],
        "compose": [*shift, rotation, log_scale],
        "camera": [*shift, 0, rng.uniform(-MAX_LOG_ZOOM, MAX_LOG_ZOOM)],
    }[kind]
    return np.asarray(action, np.float32).astype(np.float64)


def apply_action(state: np.ndarray, action: np.ndarray) -> np.ndarray:
    x, y, theta, scale = state
    dx, dy, dtheta, dlog_scale = action
    return np.array([x + dx, y + dy, theta + dtheta, scale * np.exp(dlog_scale)])


def rollout(start: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """States float32 [len(actions) + 1, 4] reached from `start`."""
    states = [np.asarray(start, np.float64)]
    for action in np.asarray(actions, np.float64):
        states.append(apply_action(states[-1], action))
    return np.stack(states).astype(np.float32)


def sample_actions(rng: np.random.Generator, kind: str, scenes: list[Scene], steps: int) -> np.ndarray:
    """Actions float32 [steps, 4] of `kind` that keep every scene in `scenes` valid.

    Each step takes the first of PROPOSALS_PER_STEP random proposals that is valid for all
    scenes, or the zero action if none is.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if any(scene.camera != (kind == "camera") for scene in scenes):
        raise ValueError("camera actions need camera scenes and object actions need object scenes")
    states = [scene.start for scene in scenes]
    actions = np.zeros((steps, 4), np.float32)
    for t in range(steps):
        for _ in range(PROPOSALS_PER_STEP):
            action = _propose(rng, kind, scenes[0].size)
            moved = [apply_action(state, action) for state in states]
            if all(fits(scene, state) for scene, state in zip(scenes, moved)):
                actions[t], states = action, moved
                break
    return actions


def _mip_level(sprites: tuple[np.ndarray, ...], radius: float) -> tuple[np.ndarray, float]:
    """The smallest level whose object radius is still at least `radius`, and that radius."""
    full_side = sprites[0].shape[0]
    full_radius = (full_side - 2) / 2
    level = int(np.clip(np.floor(np.log(full_radius / radius) / np.log(MIP_STEP)), 0, MIP_LEVELS - 1))
    return sprites[level], full_radius * sprites[level].shape[0] / full_side


def _layer(sprites: tuple[np.ndarray, ...], state: np.ndarray, radius: float, size: tuple[int, int]) -> np.ndarray:
    """The object at `state` (x, y, theta, _) with circumradius `radius` px on a transparent `size` (width,
    height) layer: premultiplied colour then alpha, float [height, width, 4]."""
    x, y, theta = np.asarray(state, np.float64)[:3]
    sprite, sprite_radius = _mip_level(sprites, radius)
    centre, zoom = (sprite.shape[0] - 1) / 2, radius / sprite_radius
    cos, sin = zoom * np.cos(theta), zoom * np.sin(theta)
    matrix = np.array([[cos, sin, x - (cos + sin) * centre], [-sin, cos, y - (cos - sin) * centre]])
    return cv2.warpAffine(sprite, matrix, size, flags=cv2.INTER_LINEAR)


def _composite(backdrop: np.ndarray, sprites: tuple[np.ndarray, ...], state: np.ndarray, radius: float) -> np.ndarray:
    """`backdrop` uint8 with the object drawn at `state` (x, y, theta, _) with circumradius `radius` px."""
    layer = _layer(sprites, state, radius, backdrop.shape[1::-1])
    colour, alpha = layer[..., :3], layer[..., 3:]
    return np.clip(backdrop * (1 - alpha) + colour + 0.5, 0, 255).astype(np.uint8)


def object_radius(scene: Scene, state: np.ndarray) -> float:
    """An object scene's object's circumradius in px at `state`."""
    return _extent(scene, float(state[3]))


def object_alpha(scene: Scene, state: np.ndarray) -> np.ndarray:
    """How much of each pixel an object scene's object covers at `state`, float [size, size] in [0, 1]."""
    state = np.asarray(state, np.float64)
    return _layer(scene.sprites, state, object_radius(scene, state), (scene.size, scene.size))[..., 3]


def _object_frames(scene: Scene, states: np.ndarray) -> np.ndarray:
    return np.stack([_composite(scene.backdrop, scene.sprites, state, object_radius(scene, state))
                     for state in states.astype(np.float64)])


def _camera_frames(scene: Scene, states: np.ndarray) -> np.ndarray:
    centre = (scene.size - 1) / 2
    frames = np.empty((len(states), scene.size, scene.size, 3), np.uint8)
    for i, (x, y, _, zoom) in enumerate(states.astype(np.float64)):
        matrix = np.array([[zoom, 0, centre - zoom * x], [0, zoom, centre - zoom * y]])
        frames[i] = cv2.warpAffine(scene.backdrop, matrix, (scene.size, scene.size), flags=cv2.INTER_LINEAR)
    return frames


def render_clip(scene: Scene, actions: np.ndarray, kind: str) -> Clip:
    """Frames uint8 [t, size, size, 3] of `scene` driven by `actions` [t - 1, 4]."""
    actions = np.asarray(actions, np.float32)
    states = rollout(scene.start, actions)
    frames = _camera_frames(scene, states) if scene.camera else _object_frames(scene, states)
    return Clip(frames, actions, states, kind, scene)


def sample_clip(rng: np.random.Generator, split: str = "train", kind: str = "compose", frames: int = 8,
                size: int = 64, still_objects: float = 0.0, noise_backdrops: float = 0.0) -> Clip:
    """A random scene of `split` driven by random actions of `kind`."""
    scene = sample_scene(rng, split, size, camera=kind == "camera", still_objects=still_objects,
                         noise_backdrops=noise_backdrops)
    return render_clip(scene, sample_actions(rng, kind, [scene], frames - 1), kind)


def render_pair(rng: np.random.Generator | int, split: str = "train", kind: str = "compose", frames: int = 8,
                size: int = 64) -> tuple[Clip, Clip]:
    """Two different scenes driven by the same actions: ground truth for action transfer."""
    rng = np.random.default_rng(rng)
    scenes = [sample_scene(rng, split, size, camera=kind == "camera") for _ in range(2)]
    actions = sample_actions(rng, kind, scenes, frames - 1)
    return render_clip(scenes[0], actions, kind), render_clip(scenes[1], actions, kind)


class ProceduralVideoDataset(Dataset):
    """`num_clips` procedural clips; item i depends only on (seed, split, i).

    Items: frames float32 [frames, 3, size, size] in [0, 1], actions float32 [frames - 1, 4],
    states float32 [frames, 4], kind int64 (index into KINDS). Each item's kind is drawn
    uniformly from `kinds`. `still_objects`: the share of camera canvases with objects painted on (so that
    one frame does not tell a pan from an object's move; `sample_scene`); `noise_backdrops`: the share of object
    scenes over colour noise. `motion`: items also carry every
    pixel's true motion, float32 [frames - 1, 2, size, size] (`dila.data.true_motion`).
    """

    def __init__(self, split: str = "train", num_clips: int = 10_000, frames: int = 8, size: int = 64,
                 kinds: tuple[str, ...] = KINDS, seed: int = 0, still_objects: float = 0.0, motion: bool = False,
                 noise_backdrops: float = 0.0):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if unknown := set(kinds) - set(KINDS):
            raise ValueError(f"unknown kinds {sorted(unknown)}; choose from {KINDS}")
        if frames < 2:
            raise ValueError("clips need at least 2 frames")
        for name, share in (("still_objects", still_objects), ("noise_backdrops", noise_backdrops)):
            if not 0 <= share <= 1:
                raise ValueError(f"{name} is a probability, got {share}")
        self.split, self.num_clips, self.frames, self.size = split, num_clips, frames, size
        self.still_objects, self.noise_backdrops, self.motion = still_objects, noise_backdrops, motion
        self.kinds, self.seed = tuple(kinds), seed

    def __len__(self) -> int:
        return self.num_clips

    def clip(self, index: int) -> Clip:
        if not 0 <= index < self.num_clips:
            raise IndexError(f"index {index} out of range for {self.num_clips} clips")
        rng = np.random.default_rng([self.seed, SPLITS.index(self.split), index])
        kind = self.kinds[rng.integers(len(self.kinds))]
        return sample_clip(rng, self.split, kind, self.frames, self.size, self.still_objects, self.noise_backdrops)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        clip = self.clip(index)
        item = {
            "frames": frames_to_tensor(clip.frames),
            "actions": torch.from_numpy(clip.actions),
            "states": torch.from_numpy(clip.states),
            "kind": torch.tensor(KINDS.index(clip.kind)),
        }
        if self.motion:
            from dila.data.true_motion import true_motion

            item["motion"] = torch.from_numpy(true_motion(clip))
        return item

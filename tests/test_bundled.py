"""The bundled default model: present, small, quick to load, and working at pixel level."""
import time

import numpy as np

from dila.codecs.light import LightCodec
from dila.hub import BUNDLED
from dila.pipeline import Pipeline
from dila.train import small_config


def test_loads_quickly_and_runs():
    start = time.perf_counter()
    pipeline = Pipeline.from_pretrained()
    assert time.perf_counter() - start < 2.0
    assert pipeline.model.config == small_config(64)
    assert isinstance(pipeline.codec, LightCodec) and pipeline.image_size == 64
    clip = np.random.default_rng(0).integers(0, 256, size=(3, 64, 64, 3), dtype=np.uint8)
    actions = pipeline.encode_clip(clip).actions
    assert actions.shape == (2, 16) and np.isfinite(actions).all()
    assert pipeline.rollout(clip[:1], actions).shape == (2, 64, 64, 3)


def test_files_are_small():
    sizes = [p.stat().st_size for p in BUNDLED.rglob("*.safetensors")]
    assert len(sizes) == 2 and sum(sizes) < 20 * 1024**2

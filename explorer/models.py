"""Loading models for the explorer: the bundled one, local directories or `.pt` files, and Hub
repo ids (the published DiLA with its RAE codec), with a small shared cache."""
from __future__ import annotations

import json
import os
import statistics
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from explorer.device import compute, pick_device
from explorer.errors import UserError
from explorer.sources import Source, SourcePolicy

ENV_MODEL = "DILA_MODEL"


def default_source() -> str:
    from dila.hub import BUNDLED

    return os.environ.get(ENV_MODEL) or str(BUNDLED)


@dataclass(frozen=True)
class ModelInfo:
    source: str
    parameters: int
    codec: str
    device: str
    image_size: int
    action_dim: int
    preview_ms: float
    step_ms: float

    def markdown(self) -> str:
        return (f"**Model** `{self.source}`  \n"
                f"{self.parameters / 1e6:.2f} M parameters (world model + codec) · device: {self.device}  \n"
                f"Frames of {self.image_size}×{self.image_size} pixels. Its frame codec, {self.codec}. Each latent "
                f"action (the change between two frames, as the model reads it) is {self.action_dim} numbers. "
                f"Measured here: a live preview takes {self.preview_ms:.1f} ms, a step {self.step_ms:.1f} ms.")


@dataclass(frozen=True)
class LoadedModel:
    key: str
    pipeline: object
    info: ModelInfo


def load(source: Source, device: str | None, policy: SourcePolicy) -> LoadedModel:
    """`device`: where every model runs; None: each where its codec wants it (`pick_device`).
    Failures are worded for the `policy`'s users."""
    from dila.codecs import load_codec
    from dila.hub import load_world_model
    from dila.pipeline import Pipeline

    try:
        model = load_world_model(source.path or source.key, hub_only=source.hub,
                                 max_download_bytes=policy.max_download_bytes)
        codec_source = codec_for(source.path, model.config.embed_dim)
        device = device or pick_device(codec_source)
        pipeline = Pipeline(model, load_codec(codec_source, device=device), device)
    except (ValueError, OSError, RuntimeError, KeyError) as error:
        reason = _reason(error, policy)
        reason = reason.replace(str(source.path), source.label) if source.path else reason
        raise UserError(f"Could not load the model `{source.label}`: {reason}") from None
    return LoadedModel(source.key, pipeline, describe(source.label, pipeline))


def _reason(error: Exception, policy: SourcePolicy) -> str:
    advice = getattr(error, "advice", "")
    if not advice:
        return str(error)
    if policy.public and getattr(error, "lasting", False):
        return policy.not_held()
    return f"{error.problem.rstrip('.')}. {policy.advice(advice)}"


def codec_for(path: str | Path | None, embed_dim: int) -> str:
    """The light codec beside a local model (`codec/`), else the bundled one, when its tokens
    have the model's width; otherwise the published RAE codec."""
    from dila.hub import BUNDLED

    folders = []
    if path is not None:
        path = Path(path)
        folders.append((path if path.is_dir() else path.parent) / "codec")
    for candidate in (*folders, BUNDLED / "codec"):
        config = candidate / "config.json"
        if config.is_file() and json.loads(config.read_text()).get("latent_dim") == embed_dim:
            return str(candidate)
    return "rae"


def describe(source: str, pipeline) -> ModelInfo:
    codec = pipeline.codec
    codec_params = sum(p.numel() for p in codec.parameters()) if hasattr(codec, "parameters") else 0
    grid = getattr(codec, "grid_size", "?")
    codec_name = (f"{type(codec).__name__}, turns a frame into a {grid}×{grid} grid of tokens of {codec.latent_dim} "
                  f"numbers each")
    preview_ms, step_ms = compute(measure, pipeline)
    return ModelInfo(source, pipeline.model.num_parameters() + codec_params, codec_name, str(pipeline.device),
                     pipeline.image_size, pipeline.model.config.action_dim, preview_ms, step_ms)


def measure(pipeline, repeats: int = 5) -> tuple[float, float]:
    """Median milliseconds of one preview and one step from a grey frame (once each, after
    the warm-up, for a model whose step takes over 0.2 s)."""
    frame = np.full((1, pipeline.image_size, pipeline.image_size, 3), 128, np.uint8)
    action = np.zeros(pipeline.model.config.action_dim, np.float32)
    state = pipeline.start(frame)

    def median_ms(fn, count: int) -> float:
        times = []
        for _ in range(count):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return 1000 * statistics.median(times)

    warm_up = median_ms(lambda: pipeline.step(state, action), 1)
    repeats = repeats if warm_up < 200 else 1
    return median_ms(lambda: pipeline.preview(state, action), repeats), median_ms(lambda: pipeline.step(state, action), repeats)


class ModelCache:
    """Loaded models by source key, shared by all sessions: the default always, plus the
    `keep` most recently used others. What users may load is the `policy`'s decision;
    `device` None lets each model run where its codec wants it (`pick_device`). At most
    `hub_loads` Hub models load at once (each may download up to the policy's limit); more are
    refused at once, and loads of local or already loaded models never wait for them."""

    def __init__(self, policy: SourcePolicy, device: str | None = None, keep: int = 1, loader=load,
                 hub_loads: int = 2):
        self.policy, self.device, self.keep, self.hub_loads = policy, device, keep, hub_loads
        self.default = policy.default.key
        self._loader = loader
        self._models: OrderedDict[str, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, tuple[Source, Future]] = {}
        self._sources: dict[str, Source] = {self.default: policy.default}

    def choose(self, text: str | None) -> LoadedModel:
        """The model a user names (empty: the default), if the policy allows it."""
        return self._get(self.policy.find(text))

    def get(self, key: str | None = None) -> LoadedModel:
        """The model of a key given out earlier (a session's model), else the default."""
        key = key or self.default
        return self._get(self._sources.get(key) or self.policy.from_key(key) or self.policy.default)

    def _get(self, found: Source) -> LoadedModel:
        """Loaded once even when asked concurrently: who asks for a model being loaded gets that
        load's outcome, model or error; loading one model does not hold up sessions using another."""
        with self._lock:
            model = self._models.get(found.key)
            if model is not None:
                self._models.move_to_end(found.key)
                return model
            owner = found.key not in self._loading
            if owner:
                self._check_room(found)
                self._loading[found.key] = (found, Future())
            pending = self._loading[found.key][1]
        if not owner:
            return pending.result()
        try:
            model = self._loader(found, self.device, self.policy)
        except BaseException as error:
            with self._lock:
                del self._loading[found.key]
            pending.set_exception(error)
            raise
        with self._lock:
            del self._loading[found.key]
            self._keep(found, model)
        pending.set_result(model)
        return model

    def _check_room(self, found: Source) -> None:
        if found.hub and sum(source.hub for source, _ in self._loading.values()) >= self.hub_loads:
            raise UserError(f"Could not load the model `{found.label}`: {self.hub_loads} other models are being "
                            "downloaded right now. Try again in a minute, or choose the default or `bundled`.")

    def _keep(self, found: Source, model: LoadedModel) -> None:
        self._sources[found.key] = found
        self._models[found.key] = model
        self._models.move_to_end(found.key)
        others = [k for k in self._models if k != self.default]
        for stale in others[: max(len(others) - self.keep, 0)]:
            del self._models[stale]

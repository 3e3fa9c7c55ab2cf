"""The Ray Data engine: clips decoded by tasks on CPU workers, latent actions by model actors (on
GPUs or CPUs), streamed back in clip order to the same shard writer as the single-process run.

Ray joins the cluster at RAY_ADDRESS, or starts one on this machine; a caller may also start Ray
itself (`ray.init(...)`) before indexing. With the model on CPUs, Ray fuses decoding into the model
actors (each decodes the clips it encodes); with GPUs, decoding stays on CPU tasks.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace

import numpy as np

from dila.index.config import IndexConfig
from dila.index.decode import DecodedClip, decode
from dila.index.encode import clip_actions, open_pipeline
from dila.index.results import ClipResult, failed
from dila.index.sources import ClipTask, Corpus


def decode_row(row: dict, config: IndexConfig, corpus: Corpus, side: int) -> dict:
    """A clip task -> its frames and where they sit in the source, or why it failed."""
    task = ClipTask(row["clip_id"], row["path"] or None, None if row["row"] < 0 else int(row["row"]))
    try:
        clip = decode(task, corpus, config, side)
    except Exception as error:  # noqa: BLE001 - any decoder failure is the clip's, not the run's
        result = failed(task, error)
        return {"clip_id": task.clip_id, "source": result.source, "error": result.error,
                "frames": np.zeros((0, side, side, 3), np.uint8), "indices": np.zeros(0, np.int64),
                "frame_count": 0, "fps": 0.0, "height": 0, "width": 0}
    return {"clip_id": clip.clip_id, "source": clip.source, "error": "", "frames": clip.frames,
            "indices": clip.indices, "frame_count": clip.frame_count, "fps": clip.fps,
            "height": clip.height, "width": clip.width}


class Encoder:
    """A model actor: decoded clips -> their latent actions (frames dropped)."""

    def __init__(self, config: IndexConfig):
        import torch

        if config.gpus_per_worker > 0:
            config = replace(config, device="cuda")
        else:
            config = replace(config, device="cpu")
            torch.set_num_threads(max(1, int(config.cpus_per_worker)))
        self.pipeline, self.window = open_pipeline(config)[0], config.window

    def __call__(self, row: dict) -> dict:
        frames = row.pop("frames")
        if row["error"]:
            actions = np.zeros((0, self.pipeline.model.config.action_dim), np.float32)
        else:
            actions = clip_actions(self.pipeline, frames, self.window)
        return {**row, "actions": actions}


def ray_results(config: IndexConfig, corpus: Corpus, tasks: list[ClipTask], side: int) -> Iterator[ClipResult]:
    if not tasks:
        return
    try:
        import ray
        import ray.data
    except ImportError:
        raise ImportError('--engine ray needs Ray Data: pip install "ray[data]"') from None

    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"), ignore_reinit_error=True, log_to_driver=False)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    items = [{"clip_id": t.clip_id, "path": t.path or "", "row": -1 if t.row is None else t.row} for t in tasks]
    light = Corpus(corpus.kind, corpus.root, ())
    dataset = (ray.data.from_items(items, override_num_blocks=min(len(items), 1000))
               .map(decode_row, fn_kwargs={"config": config, "corpus": light, "side": side}, num_cpus=1,
                    compute=ray.data.TaskPoolStrategy(size=config.decoders))
               .map(Encoder, fn_constructor_args=(config,), compute=ray.data.ActorPoolStrategy(size=config.workers),
                    num_cpus=config.cpus_per_worker, num_gpus=config.gpus_per_worker))
    for row in dataset.iter_rows():
        yield _result(row)


def _result(row: dict) -> ClipResult:
    if row["error"]:
        return ClipResult(row["clip_id"], row["source"], error=row["error"])
    clip = DecodedClip(row["clip_id"], row["source"], None, np.asarray(row["indices"]), int(row["frame_count"]),
                       float(row["fps"]), int(row["height"]), int(row["width"]))
    return ClipResult(row["clip_id"], row["source"], actions=np.asarray(row["actions"], np.float32), clip=clip)

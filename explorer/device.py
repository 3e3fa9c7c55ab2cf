"""Where a model runs: the published one on the GPU when there is one, small ones on the CPU;
and Hugging Face ZeroGPU's decorator around GPU work when the `spaces` package is installed."""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any


def pick_device(codec: str) -> str:
    """Where a model with this codec runs: `DILA_DEVICE` if set, else `cuda` for the published
    model (the RAE codec) when a GPU is there, else `cpu`. Models with a light codec stay on the
    CPU even beside a GPU, so their previews never wait for one."""
    import torch

    if os.environ.get("DILA_DEVICE"):
        return os.environ["DILA_DEVICE"]
    return "cuda" if codec == "rae" and torch.cuda.is_available() else "cpu"


def use_threads(count: int) -> None:
    """Threads for CPU work. One by default in the app: the small model's calls are short, and
    with more OpenMP threads than idle cores a call can wait seconds on its own threads."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(count)
    threadpool_limits(count)


def _call(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    return fn(*args, **kwargs)


def on_gpu(fn: Callable, args: tuple) -> bool:
    """Whether `fn` works on a CUDA model: a pipeline's method, or a function of a pipeline."""
    owner = getattr(fn, "__self__", None) or (args[0] if args else None)
    return str(getattr(owner, "device", "cpu")).startswith("cuda")


def _gpu_call() -> Callable:
    try:
        import spaces
    except ImportError:
        return _call
    return spaces.GPU(_call)


_on_gpu_call = _gpu_call()


def compute(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Runs model work; under ZeroGPU (the `spaces` package) only CUDA work holds a GPU for the
    call: the CPU model's previews and steps run as they are."""
    return (_on_gpu_call if on_gpu(fn, args) else _call)(fn, *args, **kwargs)

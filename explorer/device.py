"""Where the model runs: the GPU when there is one, and Hugging Face ZeroGPU's decorator when
the `spaces` package is installed."""
from __future__ import annotations

import os
from typing import Any, Callable


def pick_device() -> str:
    """`DILA_DEVICE` if set, else `cuda` when available, else `cpu`."""
    import torch

    return os.environ.get("DILA_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")


def use_threads(count: int) -> None:
    """Threads for CPU work. One by default in the app: the small model's calls are short, and
    with more OpenMP threads than idle cores a call can wait seconds on its own threads."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(count)
    threadpool_limits(count)


def _call(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    return fn(*args, **kwargs)


def _accelerated() -> Callable:
    try:
        import spaces
    except ImportError:
        return _call
    return spaces.GPU(_call)


compute = _accelerated()
"""`compute(fn, *args, **kwargs)` runs model work; under ZeroGPU it holds a GPU for the call."""

"""A thin wrapper over `dila.planning.plan`, so the app still runs (and says why) without it."""
from __future__ import annotations

import numpy as np

from explorer.device import compute
from explorer.errors import UserError

MIN_PRIOR_TRANSITIONS = 8


def available() -> str | None:
    """None when planning can be used, else why not."""
    try:
        from dila.planning import plan  # noqa: F401
    except Exception as error:  # a missing or broken module must not take the app down
        return f"Planning is unavailable ({type(error).__name__}: {error})."
    return None


def plan(pipeline, start: np.ndarray, goal: np.ndarray, horizon: int, library_actions: np.ndarray | None,
         samples: int, iterations: int, cost: str):
    """Latent actions from `start` to `goal` frames (uint8 `h w 3`); returns dila's `Plan`.
    The search starts from N(0, std of the library's actions) when the library has enough of
    them, else from dila's default prior."""
    reason = available()
    if reason:
        raise UserError(reason)
    from dila.planning import plan as dila_plan

    enough = library_actions is not None and len(library_actions) >= MIN_PRIOR_TRANSITIONS
    return compute(dila_plan, pipeline, start, goal, horizon=horizon, samples=samples, iterations=iterations,
                   cost=cost, prior=library_actions if enough else None)

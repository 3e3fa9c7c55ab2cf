"""Numbers the app shows, as sentences with a good or bad reading."""
from __future__ import annotations

import numpy as np


def direction_label(index: int) -> str:
    return f"Direction {index + 1} (σ)"


def direction_info(index: int) -> str:
    order = "the way the library's actions differ most" if index == 0 else f"the {_ordinal(index + 1)} way they differ most"
    return f"{order}; σ = one typical step of the library's actions along it (a standard deviation)"


def _ordinal(number: int) -> str:
    return {2: "second", 3: "third", 4: "fourth", 5: "fifth"}.get(number, f"{number}th")


def share(fraction: float) -> str:
    """A share of variance that never reads 0% when it is not zero."""
    percent = 100 * float(fraction)
    if percent <= 0:
        return "0%"
    if percent < 0.1:
        return "<0.1%"
    return f"{percent:.1f}%" if percent < 10 else f"{percent:.0f}%"


def action_size(magnitude: float, magnitudes: np.ndarray) -> str:
    """How big an action is next to the library's: small, typical or large."""
    low, high = np.percentile(magnitudes, [25, 75]) if len(magnitudes) else (magnitude, magnitude)
    if magnitude < low:
        return "small action"
    return "large action" if magnitude > high else "typical action"


def controllability(cosine: float, relative_error: float) -> str:
    """The action read back from a generated frame against the one asked for."""
    if cosine > 0.9 and relative_error < 0.5:
        verdict = "**The model follows this action well**"
    elif cosine > 0.5:
        verdict = "**The model follows this action only in part**"
    else:
        verdict = "**The model does not follow this action**"
    return (f"{verdict}: the action read back from the generated frame points "
            f"{_direction(cosine)} (cosine {cosine:.2f}) and is {relative_error:.0%} off in size. "
            f"(Cosine compares directions: 1 is the same way, 0 unrelated, −1 the opposite way.)")


def _direction(cosine: float) -> str:
    if cosine > 0.9:
        return "the same way"
    if cosine > 0.5:
        return "roughly the same way"
    return "elsewhere" if cosine > -0.5 else "the opposite way"


def plan_result(horizon: int, start_distance: float, final_distance: float) -> str:
    """How far the plan's last frame is from the goal, next to where it started."""
    gain = 1 - final_distance / start_distance if start_distance > 0 else 0.0
    if start_distance <= 0:
        verdict = "**The start already is the goal**"
    elif gain > 0.5:
        verdict = "**The plan gets close to the goal**"
    elif gain > 0.1:
        verdict = "**The plan gets part of the way to the goal**"
    else:
        verdict = "**The plan does not get closer to the goal**"
    return (f"{verdict}: after {horizon} planned actions the last frame is {gain:.0%} closer to the goal than the "
            f"start frame was (closeness as the model sees frames: the difference of their tokens).")

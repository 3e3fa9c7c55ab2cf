"""Updates to UI controls, in plain Python: the app turns them into component updates."""
from __future__ import annotations

from dataclasses import dataclass


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


KEEP = _Keep()
"""An output to leave as it is."""


@dataclass(frozen=True)
class Choices:
    """New options (label, value) of a picker, and its new selection (None: cleared; KEEP: stays)."""

    options: list[tuple[str, str]]
    value: object = KEEP


@dataclass(frozen=True)
class Range:
    """New bounds of an integer slider and its value."""

    maximum: int
    value: int

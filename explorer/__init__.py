"""Service layer of the DiLA explorer: sessions, clip library, projections, figures and media.

Plain Python (no Gradio): `explorer.services` holds one service per view of the page, and
`explorer.ui` lays out each view and wires its events to that service.
"""
from explorer.errors import UserError
from explorer.limits import Limits
from explorer.views import KEEP, Choices, Range

__all__ = ["KEEP", "Choices", "Explorer", "Limits", "Range", "UserError"]


def __getattr__(name):
    if name == "Explorer":
        from explorer.services import Explorer

        return Explorer
    raise AttributeError(f"module 'explorer' has no attribute {name!r}")

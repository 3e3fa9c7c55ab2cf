"""The explorer's operations, one plain-Python service per view of the page. Each takes the
browser session's id first and plain values, and returns plain values (frames, figures, file
paths, text, `explorer.views` updates) for the page to show."""
from __future__ import annotations

from explorer.services.action_map import NEW_LAYOUT, MapService
from explorer.services.core import ASSETS, DEMO, Core
from explorer.services.corpus import CorpusService, IndexSources
from explorer.services.library import PICKS, LibraryService
from explorer.services.model import ModelService
from explorer.services.plan import PlanService
from explorer.services.play import PlayService
from explorer.services.rebind import RebindService
from explorer.services.steer import SLIDER_LIMIT, SteerService
from explorer.services.transfer import TransferService

__all__ = ["ASSETS", "DEMO", "NEW_LAYOUT", "PICKS", "SLIDER_LIMIT", "Explorer"]


class Explorer(Core):
    """The shared core (models, sessions, workers) with one service per view."""

    def __init__(self, *args, indexes: list[str] | None = None, **options):
        super().__init__(*args, **options)
        self.map = MapService(self)
        self.library = LibraryService(self, self.map)
        self.steer = SteerService(self, self.map)
        self.play = PlayService(self, self.map)
        self.transfer = TransferService(self)
        self.rebind = RebindService(self)
        self.plan = PlanService(self, self.map)
        self.model = ModelService(self)
        self.corpus = CorpusService(self, self.library, IndexSources(self.models.policy.public, indexes))

    def close_session(self, sid: str) -> None:
        super().close_session(sid)
        self.corpus.forget(sid)

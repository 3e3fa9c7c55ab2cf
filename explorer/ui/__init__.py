"""The page, one module per view: each has `layout(page)` (its components, made inside the
column or tab the app gives it) and `wire(page)` (its events, once every view is laid out),
backed by its service in `explorer.services`."""
from explorer.corpusjs import CORPUS_CSS
from explorer.gallery import CSS as GALLERY_CSS
from explorer.mapjs import MAP_CSS
from explorer.play import PLAY_CSS
from explorer.ui import action_map, corpus, library, model, plan, play, rebind, steer, transfer
from explorer.ui.common import Page

TABS = (steer, play, transfer, rebind, plan, model, corpus)
"""The views in the tabbed column, in tab order."""
VIEWS = (library, action_map, *TABS)
LAYOUT_CSS = """
.gradio-container { overflow: clip !important; }
#steer-frames { position: sticky; top: 0; z-index: 200; background: var(--background-fill-primary);
  box-shadow: 0 2px 6px rgba(0,0,0,0.12); }
.dila-quality { font-size: 12px; color: #6b7280; }
.dila-examples button { font-size: 12px; padding: 2px 6px; }
#remove-row button { white-space: nowrap; }
@media (max-width: 1100px) { #main-row { flex-wrap: wrap; } #main-row > div { min-width: 100% !important; }
  #work { order: -1; } #steer-start { order: 1; } #steer-results { order: 2; } }
@media (max-width: 600px) { #steer-frames .row { flex-wrap: nowrap; }
  #steer-frames .block { height: auto !important; min-width: 0 !important; }
  #steer-frames .image-container, #steer-frames .image-frame { height: 150px !important; }
  #intro p { font-size: 13px; line-height: 1.35; } }
"""
CSS = GALLERY_CSS + MAP_CSS + PLAY_CSS + CORPUS_CSS + LAYOUT_CSS

__all__ = ["CSS", "TABS", "VIEWS", "Page"]

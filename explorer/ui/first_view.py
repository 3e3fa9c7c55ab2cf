"""A page's first view: the browser's session attached (or a new one with the demo library),
every view filled, the map drawn and the steering run resumed (or started)."""
from __future__ import annotations

import gradio as gr

from explorer.ui import steer
from explorer.ui.common import QUIET, Page, bind, quality_lines
from explorer.ui.library import pickers, zones


def wire(demo: gr.Blocks, page: Page) -> None:
    svc = page.svc
    browser_key = gr.BrowserState(None, storage_key="dila-session", secret=svc.sessions.browser_secret)
    shown = demo.load(bind(svc.attach), browser_key, browser_key, **QUIET) \
        .then(bind(svc.library.start), None,
              [page.gallery, page.status, page.model_info, page.qualities["map"], *pickers(page), *zones(page), page.plot,
               page.map_note, page.bridge], **QUIET)
    shown.then(bind(svc.model.quality_lines), None, quality_lines(page), **QUIET)
    shown.then(bind(svc.steer.resume), page.picks["steer"],
               [page.picks["steer"], page.steer_frame, page.current, page.preview, page.readout, *page.sliders], **QUIET) \
        .success(**steer.showing_strip(page)).success(**steer.locating(page))
    shown.then(bind(svc.library.clip_range), page.picks["plan_start"], page.plan_start_frame, **QUIET)
    shown.then(bind(svc.library.clip_range, at_end=True), page.picks["plan_goal"], page.plan_goal_frame, **QUIET)
    shown.then(bind(svc.library.list_clips), None, page.clips_json, **QUIET)
    shown.then(bind(svc.library.clip_range, transitions=True), page.picks["map"], page.map_t, **QUIET)
    demo.load(bind(svc.model.info), None, page.model_info, api_name="model_info", show_progress="hidden")

    def close_session(request: gr.Request):
        svc.close_session(request.session_hash)

    demo.unload(close_session)

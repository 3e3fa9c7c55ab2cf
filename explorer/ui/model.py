"""The Model tab: the model's card, and loading another model."""
from __future__ import annotations

import gradio as gr

from explorer.ui import library
from explorer.ui.common import QUIET, Page, bind, failed, quality_lines

TITLE = "Model"


def layout(page: Page) -> None:
    page.model_info = gr.Markdown()
    page.source = gr.Textbox(label="Model source", placeholder=page.svc.models.policy.placeholder())
    page.load = gr.Button("Load")


def wire(page: Page) -> None:
    model = page.svc.model
    loaded = page.load.click(bind(model.load), page.source, page.model_info, api_name="load_model",
                             concurrency_limit=None)
    loaded.failure(**failed(page.status, page.model_info))
    library.refresh(page, loaded.then(bind(model.quality_lines), None, quality_lines(page), **QUIET))

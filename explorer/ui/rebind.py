"""The Rebind tab: one clip's structure (layout) with another's content (appearance)."""
from __future__ import annotations

import gradio as gr

from explorer.ui.common import Page, bind, drop_target, failed, quality_line, video
from explorer.ui.transfer import wire_picks

TITLE = "Rebind"
ROLES = ("structure", "content")


def layout(page: Page) -> None:
    with gr.Row():
        for role, label in zip(ROLES, ("Structure (layout) of", "Content (appearance) of")):
            with gr.Column(min_width=160):
                page.zones[role], page.picks[role] = drop_target(role, label)
    page.rebind = gr.Button("Rebind", variant="primary")
    page.rebind_video = video("structure | content | result")
    page.rebind_note = gr.Markdown()
    page.qualities["rebind"] = quality_line()


def wire(page: Page) -> None:
    wire_picks(page, ROLES)
    rebound = page.rebind.click(bind(page.svc.rebind.run), [page.picks["structure"], page.picks["content"]],
                                [page.rebind_video, page.rebind_note], api_name="rebind")
    rebound.failure(**failed(page.rebind_note, page.rebind_video))

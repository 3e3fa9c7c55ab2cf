"""The Plan tab: actions from a start frame towards a goal frame or image."""
from __future__ import annotations

import gradio as gr

from explorer.components import image_file
from explorer.figures import empty_figure
from explorer.services.plan import NO_PLAN
from explorer.ui.common import QUIET, Page, bind, clip_picker, failed, index_slider, quality_line, video

TITLE = "Plan"


def layout(page: Page) -> None:
    last = page.svc.limits.clip_frames - 1
    with gr.Row():
        page.picks["plan_start"] = clip_picker("Start: clip")
        page.plan_start_frame = index_slider("frame", last)
    with gr.Row():
        page.picks["plan_goal"] = clip_picker("Goal: clip")
        page.plan_goal_frame = index_slider("frame", last)
    page.goal_image = image_file(label="…or a goal image", sources=["upload", "clipboard"], height=160)
    page.horizon = gr.Slider(1, 16, value=4, step=1, label="Steps to plan",
                             info="how many actions the plan may take to reach the goal")
    page.plan = gr.Button("Plan", variant="primary")
    page.plan_video = video("goal | plan")
    page.plan_note = gr.Markdown()
    page.qualities["plan"] = quality_line()
    page.plan_plot = gr.Plot(empty_figure(NO_PLAN), label="planned actions")
    with gr.Accordion("Planned actions as numbers", open=False):
        page.plan_actions = gr.JSON()


def wire(page: Page) -> None:
    svc = page.svc
    page.picks["plan_start"].input(bind(svc.library.clip_range), page.picks["plan_start"], page.plan_start_frame, **QUIET)
    page.picks["plan_goal"].input(bind(svc.library.clip_range, at_end=True), page.picks["plan_goal"], page.plan_goal_frame,
                                  **QUIET)
    inputs = [page.picks["plan_start"], page.plan_start_frame, page.picks["plan_goal"], page.plan_goal_frame,
              page.goal_image, page.horizon, *page.map_view]
    planned = page.plan.click(bind(svc.plan.run), inputs, [page.plan_video, page.plot, page.plan_note, page.plan_actions],
                              api_name="plan")
    planned.failure(**failed(page.plan_note, page.plan_video))
    planned.success(bind(svc.plan.figure), None, page.plan_plot, **QUIET)

"""The Steer tab: start from a frame, move sliders along the library's directions, step and roll out."""
from __future__ import annotations

import gradio as gr

from explorer.projection import N_COMPONENTS
from explorer.services import SLIDER_LIMIT
from explorer.ui.common import (
    IMAGE_HEIGHT,
    PIXELATED,
    QUIET,
    Page,
    bind,
    clip_picker,
    failed,
    image,
    index_slider,
    quality_line,
    video,
)
from explorer.words import direction_info, direction_label

TITLE = "Steer"


def layout(page: Page) -> None:
    with gr.Column(elem_id="steer-start"):
        with gr.Row():
            page.picks["steer"] = clip_picker("Start in clip")
            page.steer_frame = index_slider("at frame", page.svc.limits.clip_frames - 1)
        page.start = gr.Button("Start from this frame", variant="primary")
    with gr.Column(elem_id="steer-frames"):
        with gr.Row():
            page.current = image("current frame")
            page.preview = image("next frame (live)", elem_id="live-frame")
        page.qualities["steer"] = quality_line()
        page.readout = gr.Markdown(elem_id="steer-readout")
    page.sliders = [gr.Slider(-SLIDER_LIMIT, SLIDER_LIMIT, value=0, step=0.05, label=direction_label(i),
                              info=direction_info(i)) for i in range(N_COMPONENTS)]
    with gr.Row():
        page.reset = gr.Button("Reset to inferred action")
        page.step = gr.Button("Step", variant="primary")
    with gr.Row():
        page.steps = gr.Number(8, precision=0, minimum=1, maximum=page.svc.limits.max_rollout_steps,
                               label="Steps to roll out", info="repeat the sliders' action this many times")
        page.rollout = gr.Button("Roll out")
        page.make_video = gr.Button("Video of the run")
    with gr.Column(elem_id="steer-results"):
        page.steer_video = video("steering run")
        gr.Markdown("**What each direction does** from the current frame: one row per direction (1 at the top), "
                    "the slider at −2, 0 and +2 σ from left to right.")
        page.strip = gr.Image(label="what each direction does", show_label=False, elem_classes=PIXELATED,
                              interactive=False, height=IMAGE_HEIGHT * 2, elem_id="direction-strip")


def starting(page: Page) -> dict:
    """Start the steering run at the picked clip and frame."""
    return dict(fn=bind(page.svc.steer.start), inputs=[page.picks["steer"], page.steer_frame],
                outputs=[page.current, page.preview, page.readout, *page.sliders])


def locating(page: Page) -> dict:
    """The sliders' action on the map, with its controllability."""
    return dict(fn=bind(page.svc.steer.locate), inputs=[*page.map_view, *page.sliders],
                outputs=[page.plot, page.map_note, page.readout], **QUIET)


def showing_strip(page: Page) -> dict:
    return dict(fn=bind(page.svc.steer.strip), inputs=None, outputs=page.strip, **QUIET)


def clear_run(page: Page) -> dict:
    return dict(fn=lambda: None, inputs=None, outputs=page.steer_video, **QUIET)


def wire(page: Page) -> None:
    steer, sliders = page.svc.steer, page.sliders
    page.picks["steer"].input(bind(page.svc.library.clip_range), page.picks["steer"], page.steer_frame, **QUIET)
    started = page.start.click(**starting(page), api_name="steer_start")
    started.failure(**failed(page.readout))
    page.start.click(**clear_run(page))
    started.success(**locating(page)).success(**showing_strip(page))
    gr.on([s.input for s in sliders], bind(steer.preview), sliders, page.preview,
          api_name="preview", trigger_mode="always_last", show_progress="hidden")
    gr.on([s.release for s in sliders], bind(steer.locate), [*page.map_view, *sliders],
          [page.plot, page.map_note, page.readout], api_name="steer_map", show_progress="hidden")
    page.reset.click(bind(steer.reset), None, [page.preview, page.readout, *sliders], api_name="steer_reset") \
        .success(**locating(page))
    live_preview = dict(fn=bind(steer.preview), inputs=sliders, outputs=page.preview, **QUIET)
    stepped = page.step.click(bind(steer.step), sliders, [page.current, page.readout], api_name="steer_step")
    stepped.failure(**failed(page.readout))
    stepped.success(**live_preview).success(**showing_strip(page))
    rolled = page.rollout.click(bind(steer.rollout), [page.steps, *sliders], [page.current, page.steer_video, page.readout],
                                api_name="steer_rollout")
    rolled.failure(**failed(page.readout, page.steer_video))
    rolled.success(**live_preview).success(**showing_strip(page))
    page.make_video.click(bind(steer.video), None, page.steer_video, api_name="steer_video")

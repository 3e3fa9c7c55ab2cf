"""The latent-action map column: the map, its layout note, and the chosen transition's frames."""
from __future__ import annotations

import gradio as gr

from explorer.figures import COLOR_BY, empty_figure
from explorer.mapjs import MAP_JS
from explorer.services import NEW_LAYOUT
from explorer.ui import steer
from explorer.ui.common import QUIET, Page, bind, clip_picker, failed, image, index_slider, quality_line, run


def layout(page: Page) -> None:
    gr.Markdown("### Latent-action map")
    with gr.Row():
        color_by = gr.Radio(list(COLOR_BY), value="clip", label="Colour by",
                            info="clip: which clip · time: the frame within its clip · magnitude: how big the action is")
        method = gr.Radio(["auto", "pca", "umap"], value="auto", label="Projection",
                          info="pca: the two directions the actions differ most along, in σ as the sliders · umap: "
                               "similar actions drawn close together (computed in the background) · auto: pca, then "
                               "umap when ready")
    page.map_view = [color_by, method]
    page.plot = gr.Plot(empty_figure(), show_label=False, elem_id="action-map")
    page.bridge = gr.HTML("", js_on_load=MAP_JS, elem_id="map-bridge", container=False)
    with gr.Row():
        page.map_note = gr.Markdown(elem_id="map-note")
        page.adopt = gr.Button("Use the new layout", size="sm", scale=0, min_width=150, visible=False,
                               elem_id="adopt-layout")
    with gr.Row():
        page.picks["map"] = clip_picker("Transition of clip")
        page.map_t = index_slider("frame t → t+1", page.svc.limits.clip_frames - 1,
                                  info="the change from frame t to the next frame, t+1")
    with gr.Row():
        page.frame_t = image("frame t", elem_id="frame-t")
        page.frame_t1 = image("frame t+1", elem_id="frame-t1")
        page.predicted = image("predicted t+1", elem_id="predicted")
    page.qualities["map"] = quality_line()


def wire(page: Page) -> None:
    svc, shown = page.svc, [page.plot, page.map_note]
    gr.on([c.change for c in page.map_view], bind(svc.map.action_map), page.map_view, shown, api_name="action_map")
    gr.Timer(2.0).tick(bind(svc.map.poll_map), page.map_view, shown, **QUIET)
    page.adopt.click(bind(svc.map.adopt_layout), page.map_view, shown, **QUIET)
    page.map_note.change(lambda note: gr.update(visible=note == NEW_LAYOUT), page.map_note, page.adopt, **QUIET)
    transition = dict(fn=bind(svc.map.transition), inputs=[page.picks["map"], page.map_t, *page.map_view],
                      outputs=[page.frame_t, page.frame_t1, page.predicted, *shown])
    page.picks["map"].input(bind(svc.library.clip_range, transitions=True), page.picks["map"], page.map_t, **QUIET) \
        .success(**transition, **QUIET)
    page.map_t.release(**transition, api_name="transition")
    picked = page.bridge.point_pick(_point(svc), page.map_view,
                                    [page.picks["map"], page.map_t, page.frame_t, page.frame_t1, page.predicted,
                                     *shown, page.picks["steer"], page.steer_frame], **QUIET)
    picked.failure(**failed(page.map_note))
    picked.success(**steer.clear_run(page)).success(**steer.starting(page), **QUIET) \
        .success(**steer.showing_strip(page)).success(**steer.locating(page))


def _point(svc):
    """The map bridge's `point_pick` handler: the clicked point's row and version arrive in the event data."""

    def handler(request: gr.Request, event: gr.EventData, color_by: str, method: str):
        data = event._data or {}
        return run(svc.map.select_point, request, (data.get("row"), data.get("version"), color_by, method))

    return handler

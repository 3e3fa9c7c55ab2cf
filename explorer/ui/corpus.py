"""The Corpus tab: a whole latent-action index on one map, with similar motions and selections."""
from __future__ import annotations

import gradio as gr

from explorer.corpus import COLOR_BY
from explorer.corpusjs import CORPUS_JS, DRAW_JS, MAP_HTML
from explorer.services.corpus import DEMO_NAME
from explorer.ui import library, steer
from explorer.ui.common import QUIET, Page, bind, failed, run

TITLE = "Corpus"


def layout(page: Page) -> None:
    svc = page.svc.corpus
    with gr.Row():
        page.corpus_path = gr.Textbox(DEMO_NAME, label="Index", scale=3,
                                      info=svc.sources.refusal().replace("This server opens only these indexes: ",
                                                                         "Open "))
        page.corpus_open = gr.Button("Open", scale=0, min_width=90)
    page.corpus_color = gr.Radio(list(COLOR_BY), value="clip", label="Colour by")
    page.corpus_note = gr.Markdown(elem_id="corpus-note")
    page.corpus_map = gr.HTML(MAP_HTML, elem_id="corpus-map", container=False)
    page.corpus_figure = gr.Textbox(visible=False)
    page.corpus_bridge = gr.HTML("", js_on_load=CORPUS_JS, elem_id="corpus-bridge", container=False)
    gr.Markdown("#### Similar motions\nThe chosen transition's nearest transitions in latent-action space.")
    page.corpus_k = gr.Slider(1, 50, value=12, step=1, label="How many")
    page.corpus_similar = gr.HTML(elem_id="corpus-similar")
    gr.Markdown("#### Selection")
    page.corpus_selection_note = gr.Markdown(elem_id="corpus-selection-note")
    page.corpus_grid = gr.HTML(elem_id="corpus-grid")
    with gr.Row():
        page.corpus_add = gr.Button("Add these clips to the library", size="sm")
        page.corpus_format = gr.Radio(["Parquet", "CSV"], value="Parquet", show_label=False, container=False)
        page.corpus_export = gr.Button("Export the rows", size="sm")
    page.corpus_file = gr.File(label="Exported rows", interactive=False, elem_id="corpus-export")


def wire(page: Page) -> None:
    svc, bridge = page.svc.corpus, page.corpus_bridge
    shown = [page.corpus_figure, page.corpus_note]
    page.corpus_figure.change(None, page.corpus_figure, None, js=DRAW_JS, **QUIET)
    bridge.corpus_ready(bind(drawn(svc.ready)), page.corpus_color, shown, **QUIET)
    opened = gr.on([page.corpus_open.click, page.corpus_path.submit], bind(drawn(svc.open)),
                   [page.corpus_path, page.corpus_color], shown, api_visibility="private")
    opened.failure(**failed(page.corpus_note))
    page.corpus_color.input(bind(drawn(svc.recolour)), page.corpus_color, shown, **QUIET)
    bridge.corpus_hover(_event(svc.hover, "row"), None, bridge, **QUIET, trigger_mode="multiple", queue=False)
    picked = bridge.corpus_pick(_event(drawn(svc.choose), "row"),
                                [page.corpus_k, page.corpus_color], [page.corpus_figure, page.corpus_similar,
                                                                     page.corpus_note], **QUIET)
    picked.failure(**failed(page.corpus_note))
    chosen = picked.success(bind(svc.to_library), None,
                            [page.gallery, page.status, page.picks["steer"], page.steer_frame, page.zones["motion"],
                             page.picks["motion"]], **QUIET)
    chosen.failure(**failed(page.corpus_note))
    library.refresh(page, chosen)
    chosen.success(**steer.clear_run(page)).success(**steer.starting(page), **QUIET) \
        .success(**steer.showing_strip(page)).success(**steer.locating(page))
    selected = bridge.corpus_select(_event(svc.select, "rows"), None, [page.corpus_grid, page.corpus_selection_note],
                                    **QUIET)
    selected.failure(**failed(page.corpus_selection_note))
    added = page.corpus_add.click(bind(svc.add_selection), None, [page.gallery, page.status], **QUIET)
    added.failure(**failed(page.corpus_selection_note))
    library.refresh(page, added)
    exported = page.corpus_export.click(bind(svc.export), page.corpus_format, page.corpus_file, **QUIET)
    exported.failure(**failed(page.corpus_selection_note))


def drawn(method):
    """`method` with its figure as JSON for the page's map script (`corpusjs`), which draws it."""

    def call(sid: str, *args):
        figure, *rest = method(sid, *args)
        return (figure.to_json(), *rest)

    return call


def _event(method, key: str):
    """A bridge event's handler: the event data's `key` first, then the inputs' values."""

    def handler(request: gr.Request, event: gr.EventData, *values):
        return run(method, request, ((event._data or {}).get(key), *values))

    return handler

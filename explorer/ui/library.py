"""The library column: uploads, examples, the clip gallery, removal."""
from __future__ import annotations

import gradio as gr

from explorer.decode import FITS
from explorer.gallery import GALLERY_ID, GALLERY_JS, ROLES, gallery
from explorer.services import PICKS
from explorer.ui.common import QUIET, VIDEO_TYPES, Page, bind, clip_picker, failed, run


def layout(page: Page) -> None:
    gr.Markdown("### Library")
    page.uploads = gr.File(label="Upload videos", file_count="multiple", file_types=VIDEO_TYPES)
    page.fit = gr.Radio(list(FITS), value="letterbox", label="Non-square videos",
                        info="letterbox keeps the whole frame; crop keeps its centre")
    gr.Markdown("Add an example:")
    with gr.Row(elem_classes=["dila-examples"]):
        page.examples = [(name, gr.Button(name.rsplit(".", 1)[0], size="sm", min_width=60))
                         for name in page.svc.library.examples()]
    page.gallery = gr.HTML(gallery([]), elem_id=GALLERY_ID, js_on_load=GALLERY_JS)
    with gr.Row(elem_id="remove-row"):
        page.picks["remove"] = clip_picker("Clip to remove")
        page.remove = gr.Button("Remove", min_width=90, scale=0)
    page.status = gr.Markdown(elem_id="library-status")
    with gr.Accordion("Library as JSON", open=False):
        page.clips_json = gr.JSON()
        page.list_clips = gr.Button("Refresh", size="sm")


def wire(page: Page) -> None:
    library = page.svc.library
    added = page.uploads.upload(bind(library.add_files), [page.uploads, page.fit], [page.gallery, page.status],
                                api_name="add_clips")
    added.failure(**failed(page.status, page.gallery))
    refresh(page, added.then(lambda: None, None, page.uploads, **QUIET))
    for name, button in page.examples:
        event = button.click(bind(_example(library, name)), page.fit, [page.gallery, page.status], **QUIET)
        event.failure(**failed(page.status, page.gallery))
        refresh(page, event)
    removed = page.remove.click(bind(library.remove_clip), page.picks["remove"], [page.gallery, page.status],
                                api_name="remove_clip")
    removed.failure(**failed(page.status, page.gallery))
    refresh(page, removed)
    page.list_clips.click(bind(library.list_clips), None, page.clips_json, api_name="list_clips")
    gr.api(_api_example(library), api_name="add_example")
    gr.api(_api_examples(library), api_name="list_examples")


def pickers(page: Page) -> list:
    return [page.picks[name] for name in PICKS]


def zones(page: Page) -> list:
    return [page.zones[role] for role in ROLES]


def refresh(page: Page, event) -> None:
    """After `event` changed the library: every view of it, the JSON listing and the map."""
    svc = page.svc
    event.then(bind(svc.library.views), pickers(page),
               [page.gallery, *pickers(page), *zones(page), page.bridge, page.frame_t, page.frame_t1, page.predicted],
               **QUIET) \
         .then(bind(svc.library.list_clips), None, page.clips_json, **QUIET) \
         .then(bind(svc.map.action_map), page.map_view, [page.plot, page.map_note], **QUIET)


def _example(library, name: str):
    def add(sid: str, fit: str):
        return library.add_example(sid, name, fit)

    return add


def _api_examples(library):
    def list_examples() -> dict:
        """The example clips: every name `/add_example` takes, and those a new page starts with."""
        return {"examples": library.examples(), "demo": library.demo()}

    return list_examples


def _api_example(library):
    def add_example(name: str, fit: str = "letterbox", request: gr.Request = None) -> tuple[str, str]:
        """Add an example clip (a file name from assets/) to the library: (gallery HTML, status)."""
        return run(library.add_example, request, (name, fit))

    return add_example

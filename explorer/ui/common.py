"""What every view's layout and wiring share: service calls as Gradio handlers, failure notes,
and the page's recurring components."""
from __future__ import annotations

import html

import gradio as gr

from explorer.errors import UserError
from explorer.gallery import DROPZONE_JS, dropzone
from explorer.quality import VIEWS
from explorer.views import KEEP, Choices, Range

VIDEO_TYPES = [".mp4", ".webm", ".mov", ".avi", ".mkv", ".gif"]
PIXELATED = ["dila-pixelated"]
IMAGE_HEIGHT = 220
QUIET = dict(api_visibility="private", show_progress="hidden")


class Page:
    """The page's components, set by each view's layout and read by every view's wiring."""

    def __init__(self, svc):
        self.svc = svc
        self.picks: dict[str, gr.Dropdown] = {}  # explorer.services.PICKS -> its picker
        self.zones: dict[str, gr.HTML] = {}  # drop-zone role -> its zone
        self.qualities: dict[str, gr.Markdown] = {}  # explorer.quality.VIEWS -> the line beside its images


def update(value):
    """A service's plain value as a Gradio output."""
    if value is KEEP:
        return gr.skip()
    if isinstance(value, Choices):
        if value.value is KEEP:
            return gr.update(choices=value.options)
        return gr.update(choices=value.options, value=value.value)
    if isinstance(value, Range):
        return gr.update(maximum=max(value.maximum, 1), value=value.value)
    return value


def run(method, request: gr.Request, args, options=None):
    """`method(session id, *args, **options)` as outputs; a UserError becomes the page's toast and
    the session's failure note."""
    try:
        result = method(request.session_hash, *args, **(options or {}))
    except UserError as error:
        FAILURES.record(request.session_hash, str(error))
        raise gr.Error(html.escape(str(error), quote=False), print_exception=False) from None
    return tuple(update(v) for v in result) if isinstance(result, tuple) else update(result)


def bind(method, **options):
    """An event handler calling `method(session id, *inputs, **options)`."""

    def handler(request: gr.Request, *args):
        return run(method, request, args, options)

    return handler


def bind_drop(method, role: str):
    """A drop zone's `clip_drop` handler: the dragged clip's id arrives in the event data."""

    def handler(request: gr.Request, event: gr.EventData):
        return run(method, request, (event._data.get("clip_id"),), {"role": role})

    return handler


class FailureNotes:
    """The last error message of each session, for the note of an event that failed: `run`
    records it, `failed` listeners show it once the toast has gone."""

    def __init__(self):
        self._messages: dict[str, str] = {}

    def record(self, session: str, message: str) -> None:
        self._messages[session] = message

    def take(self, session: str) -> str:
        return "⚠️ " + self._messages.pop(session, "The last operation failed.")


FAILURES = FailureNotes()


def failed(note, *others) -> dict:
    """A `.failure` listener: the failure's message in `note`, the `others` left as they are."""

    def show(request: gr.Request):
        message = FAILURES.take(request.session_hash)
        return [message, *[gr.skip()] * len(others)] if others else message

    return dict(fn=show, inputs=None, outputs=[note, *others], **QUIET)


def clip_picker(label: str) -> gr.Dropdown:
    return gr.Dropdown(label=label, choices=[], value=None, allow_custom_value=True)


def quality_lines(page: Page) -> list[gr.Markdown]:
    return [page.qualities[view] for view in VIEWS]


def quality_line() -> gr.Markdown:
    return gr.Markdown(elem_classes=["dila-quality"])


def index_slider(label: str, maximum: int, **options) -> gr.Slider:
    return gr.Slider(0, maximum, value=0, step=1, label=label, **options)


def image(label: str, **options) -> gr.Image:
    return gr.Image(label=label, elem_classes=PIXELATED, interactive=False, height=IMAGE_HEIGHT, **options)


def video(label: str) -> gr.Video:
    return gr.Video(label=label, elem_classes=PIXELATED, interactive=False)


def drop_target(role: str, label: str) -> tuple[gr.HTML, gr.Dropdown]:
    zone = gr.HTML(dropzone(role), js_on_load=DROPZONE_JS, elem_id=f"drop-{role}", elem_classes=["dila-drop"])
    return zone, clip_picker(label)

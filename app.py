"""DiLA explorer: the page and its wiring; every operation lives in `explorer.Explorer`.

    python app.py [--model SOURCE] [--host 127.0.0.1] [--port 7860]

SOURCE (or the DILA_MODEL environment variable): a model directory, a published `.pt` file or
a Hub repo id; the bundled `checkpoints/` by default. `demo` is built at import, so Gradio's
reload mode (`gradio app.py`) finds it.
"""
from __future__ import annotations

import argparse
import html
import signal
import sys

import gradio as gr

from explorer import KEEP, Choices, Explorer, Range, UserError
from explorer.components import image_file
from explorer.decode import FITS
from explorer.device import use_threads
from explorer.figures import COLOR_BY, empty_figure
from explorer.gallery import CSS, DROPZONE_JS, GALLERY_ID, GALLERY_JS, dropzone, gallery
from explorer.mapjs import MAP_CSS, MAP_JS
from explorer.play import MAX_CLUSTERS, PLAY_CSS, PLAY_JS
from explorer.models import default_source
from explorer.projection import N_COMPONENTS
from explorer.service import DEMO, NEW_LAYOUT, PICKS, SLIDER_LIMIT
from explorer.sources import SourcePolicy
from explorer.words import direction_info, direction_label

VIDEO_TYPES = [".mp4", ".webm", ".mov", ".avi", ".mkv", ".gif"]
PIXELATED = ["dila-pixelated"]
IMAGE_HEIGHT = 220
QUIET = dict(api_visibility="private", show_progress="hidden")
INTRO = ("## DiLA explorer\n"
         "A world model that learned *latent actions* from video. **Hover** a point on the map to see the two "
         "frames of that transition, **click** it to steer the model from there with the sliders.  \n"
         "Drag library clips onto Transfer or Rebind to move one clip's motion onto another; add your own videos "
         "on the left.")
LAYOUT_CSS = """
.gradio-container { overflow: clip !important; }
#steer-frames { position: sticky; top: 0; z-index: 200; background: var(--background-fill-primary);
  box-shadow: 0 2px 6px rgba(0,0,0,0.12); }
.dila-quality { font-size: 12px; color: #6b7280; }
.dila-examples button { font-size: 12px; padding: 2px 6px; }
#remove-row button { white-space: nowrap; }
@media (max-width: 1100px) { #main-row { flex-wrap: wrap; } #main-row > div { min-width: 100% !important; } }
"""


def _update(value):
    if value is KEEP:
        return gr.skip()
    if isinstance(value, Choices):
        if value.value is KEEP:
            return gr.update(choices=value.options)
        return gr.update(choices=value.options, value=value.value)
    if isinstance(value, Range):
        return gr.update(maximum=max(value.maximum, 1), value=value.value)
    return value


def _run(method, request: gr.Request, args, options, repeat):
    try:
        result = method(request.session_hash, *args, **options)
    except UserError as error:
        FAILURES.record(request.session_hash, str(error))
        raise gr.Error(html.escape(str(error), quote=False), print_exception=False) from None
    if repeat:
        return [_update(result)] * repeat
    return tuple(_update(v) for v in result) if isinstance(result, tuple) else _update(result)


def bind(method, repeat: int = 0, **options):
    """An event handler calling `method(session id, *inputs, **options)`."""

    def handler(request: gr.Request, *args):
        return _run(method, request, args, options, repeat)

    return handler


def bind_drop(method, role: str):
    """A drop zone's `clip_drop` handler: the dragged clip's id arrives in the event data."""

    def handler(request: gr.Request, event: gr.EventData):
        return _run(method, request, (event._data.get("clip_id"),), {"role": role}, 0)

    return handler


def clip_picker(label: str) -> gr.Dropdown:
    return gr.Dropdown(label=label, choices=[], value=None, allow_custom_value=True)


def quality_line() -> gr.Markdown:
    return gr.Markdown(elem_classes=["dila-quality"])


class FailureNotes:
    """The last error message of each session, for the status views of an event that failed:
    `_run` records it, `.failure` listeners show it once the toast has gone."""

    def __init__(self):
        self._messages: dict[str, str] = {}

    def record(self, session: str, message: str) -> None:
        self._messages[session] = message

    def take(self, session: str) -> str:
        return "⚠️ " + self._messages.pop(session, "The last operation failed.")


FAILURES = FailureNotes()


def index_slider(label: str, maximum: int) -> gr.Slider:
    return gr.Slider(0, maximum, value=0, step=1, label=label)


def drop_target(role: str, label: str) -> tuple[gr.HTML, gr.Dropdown]:
    zone = gr.HTML(dropzone(role), js_on_load=DROPZONE_JS, elem_id=f"drop-{role}", elem_classes=["dila-drop"])
    return zone, clip_picker(label)


def build(svc: Explorer) -> gr.Blocks:
    last = svc.limits.clip_frames - 1
    with gr.Blocks(title="DiLA explorer", delete_cache=(600, 3600)) as demo:
        gr.Markdown(INTRO, elem_id="intro")
        with gr.Row(equal_height=False, elem_id="main-row"):
            with gr.Column(scale=1, min_width=240):
                gr.Markdown("### Library")
                uploads = gr.File(label="Upload videos", file_count="multiple", file_types=VIDEO_TYPES)
                fit = gr.Radio(list(FITS), value="letterbox", label="Non-square videos",
                               info="letterbox keeps the whole frame; crop keeps its centre")
                gr.Markdown("Add an example:")
                with gr.Row(elem_classes=["dila-examples"]):
                    examples = [(name, gr.Button(name.rsplit(".", 1)[0], size="sm", min_width=60))
                                for name in svc.examples()]
                library = gr.HTML(gallery([]), elem_id=GALLERY_ID, js_on_load=GALLERY_JS)
                with gr.Row(elem_id="remove-row"):
                    remove_pick = clip_picker("Clip to remove")
                    remove = gr.Button("Remove", min_width=90, scale=0)
                status = gr.Markdown(elem_id="library-status")
                with gr.Accordion("Library as JSON", open=False):
                    clips_json = gr.JSON()
                    list_clips = gr.Button("Refresh", size="sm")

            with gr.Column(scale=2, min_width=360):
                gr.Markdown("### Latent-action map")
                with gr.Row():
                    color_by = gr.Radio(list(COLOR_BY), value="clip", label="Colour by")
                    method = gr.Radio(["auto", "pca", "umap"], value="auto", label="Projection")
                plot = gr.Plot(empty_figure(), show_label=False, elem_id="action-map")
                bridge = gr.HTML("", js_on_load=MAP_JS, elem_id="map-bridge", container=False)
                with gr.Row():
                    map_note = gr.Markdown(elem_id="map-note")
                    adopt = gr.Button("Use the new layout", size="sm", scale=0, min_width=150, visible=False,
                                      elem_id="adopt-layout")
                with gr.Row():
                    map_clip = clip_picker("Transition of clip")
                    map_t = index_slider("frame t → t+1", last)
                with gr.Row():
                    frame_t = gr.Image(label="frame t", elem_classes=PIXELATED, interactive=False, height=IMAGE_HEIGHT,
                                       elem_id="frame-t")
                    frame_t1 = gr.Image(label="frame t+1", elem_classes=PIXELATED, interactive=False, height=IMAGE_HEIGHT,
                                       elem_id="frame-t1")
                    predicted = gr.Image(label="predicted t+1", elem_classes=PIXELATED, interactive=False, height=IMAGE_HEIGHT,
                                       elem_id="predicted")
                map_quality = quality_line()

            with gr.Column(scale=2, min_width=360):
                with gr.Tabs():
                    with gr.Tab("Steer"):
                        with gr.Row():
                            steer_clip = clip_picker("Start in clip")
                            steer_frame = index_slider("at frame", last)
                        start = gr.Button("Start from this frame", variant="primary")
                        with gr.Group(elem_id="steer-frames"):
                            with gr.Row():
                                current = gr.Image(label="current frame", elem_classes=PIXELATED, interactive=False, height=IMAGE_HEIGHT)
                                preview = gr.Image(label="next frame (live)", elem_classes=PIXELATED, interactive=False,
                                                   height=IMAGE_HEIGHT, elem_id="live-frame")
                            steer_quality = quality_line()
                        readout = gr.Markdown()
                        sliders = [gr.Slider(-SLIDER_LIMIT, SLIDER_LIMIT, value=0, step=0.05, label=direction_label(i),
                                             info=direction_info(i)) for i in range(N_COMPONENTS)]
                        with gr.Row():
                            reset = gr.Button("Reset to inferred action")
                            step = gr.Button("Step", variant="primary")
                        with gr.Row():
                            steps = gr.Number(8, precision=0, minimum=1, maximum=svc.limits.max_rollout_steps, label="N")
                            rollout = gr.Button("Roll out N")
                            make_video = gr.Button("Video of the run")
                        steer_video = gr.Video(label="steering run", elem_classes=PIXELATED, interactive=False)
                        strip = gr.Image(label="what each direction does: rows = directions 1 to 5, columns = −2, 0, +2 σ",
                                         elem_classes=PIXELATED, interactive=False, height=IMAGE_HEIGHT * 2)

                    with gr.Tab("Play"):
                        gr.Markdown("Play the world model with the keyboard from the steering run's current frame: "
                                    "the library's latent actions are grouped (k-means) and each group's centre is a key. "
                                    "Hold a key to keep moving.")
                        with gr.Row():
                            clusters = gr.Slider(1, MAX_CLUSTERS, value=6, step=1, label="Keys (groups of actions)")
                            bind_keys = gr.Button("Bind keys", variant="primary")
                        player = gr.HTML("", js_on_load=PLAY_JS, server_functions=[_play_key(svc)], elem_id="player")
                        play_status = gr.Markdown()
                        record = gr.Button("Save the played run (WebM)")
                        play_video = gr.Video(label="played run", elem_classes=PIXELATED, interactive=False)

                    with gr.Tab("Transfer"):
                        with gr.Row():
                            with gr.Column(min_width=160):
                                motion_zone, motion_pick = drop_target("motion", "Motion from")
                                motion_file = gr.File(label="…or drop a video file", file_types=VIDEO_TYPES)
                            with gr.Column(min_width=160):
                                appearance_zone, appearance_pick = drop_target("appearance", "Apply to")
                                appearance_file = gr.File(label="…or drop a video file", file_types=VIDEO_TYPES)
                        scale = gr.Slider(-2, 3, value=1, step=0.1, label="Scale of the per-step actions")
                        transfer = gr.Button("Transfer", variant="primary")
                        transfer_video = gr.Video(label="motion | appearance | result", elem_classes=PIXELATED, interactive=False)
                        transfer_note = gr.Markdown()
                        transfer_quality = quality_line()

                    with gr.Tab("Rebind"):
                        with gr.Row():
                            with gr.Column(min_width=160):
                                structure_zone, structure_pick = drop_target("structure", "Structure (layout) of")
                            with gr.Column(min_width=160):
                                content_zone, content_pick = drop_target("content", "Content (appearance) of")
                        rebind = gr.Button("Rebind", variant="primary")
                        rebind_video = gr.Video(label="structure | content | result", elem_classes=PIXELATED, interactive=False)
                        rebind_note = gr.Markdown()
                        rebind_quality = quality_line()

                    with gr.Tab("Plan"):
                        with gr.Row():
                            plan_start_clip = clip_picker("Start: clip")
                            plan_start_frame = index_slider("frame", last)
                        with gr.Row():
                            plan_goal_clip = clip_picker("Goal: clip")
                            plan_goal_frame = index_slider("frame", last)
                        goal_image = image_file(label="…or a goal image", sources=["upload", "clipboard"], height=160)
                        horizon = gr.Slider(1, 16, value=4, step=1, label="Horizon (actions)")
                        plan = gr.Button("Plan", variant="primary")
                        plan_video = gr.Video(label="goal | plan", elem_classes=PIXELATED, interactive=False)
                        plan_note = gr.Markdown()
                        plan_quality = quality_line()
                        plan_plot = gr.Plot(empty_figure("Plan to see the actions here."), label="planned actions")
                        with gr.Accordion("Planned actions as numbers", open=False):
                            plan_actions = gr.JSON()

                    with gr.Tab("Model"):
                        model_info = gr.Markdown()
                        source = gr.Textbox(label="Model source", placeholder=svc.models.policy.placeholder())
                        load = gr.Button("Load")

        pickers = dict(zip(PICKS, [remove_pick, map_clip, steer_clip, motion_pick, appearance_pick, structure_pick,
                                   content_pick, plan_start_clip, plan_goal_clip]))
        zones = [motion_zone, appearance_zone, structure_zone, content_zone]
        qualities = [map_quality, steer_quality, transfer_quality, rebind_quality, plan_quality]
        map_view = [color_by, method]
        views = dict(fn=bind(svc.views), inputs=list(pickers.values()),
                     outputs=[library, *pickers.values(), *zones, bridge, frame_t, frame_t1, predicted], **QUIET)
        steering = dict(fn=bind(svc.steer_start), inputs=[steer_clip, steer_frame],
                        outputs=[current, preview, readout, *sliders])
        steer_map = dict(fn=bind(svc.steer_map), inputs=[*map_view, *sliders], outputs=[plot, map_note, readout], **QUIET)
        show_strip = dict(fn=bind(svc.steer_strip), inputs=None, outputs=strip, **QUIET)
        clear_run = dict(fn=lambda: None, inputs=None, outputs=steer_video, **QUIET)

        def failed(*outputs):
            def show(request: gr.Request):
                message = FAILURES.take(request.session_hash)
                return [message if o is status or o in notes else gr.skip() for o in outputs]
            return dict(fn=show, inputs=None, outputs=list(outputs), **QUIET)

        notes = [status, transfer_note, rebind_note, plan_note, map_note, readout, play_status]

        def refresh_library(event):
            event.then(**views) \
                 .then(bind(svc.list_clips), None, clips_json, **QUIET) \
                 .then(bind(svc.action_map), map_view, [plot, map_note], **QUIET)

        added = uploads.upload(bind(svc.add_files), [uploads, fit], [library, status], api_name="add_clips")
        added.failure(**failed(status, library))
        refresh_library(added.then(lambda: None, None, uploads, **QUIET))
        for name, button in examples:
            event = button.click(bind(_example(svc, name)), fit,
                                 [library, status], **QUIET)
            event.failure(**failed(status, library))
            refresh_library(event)
        removed = remove.click(bind(svc.remove_clip), remove_pick, [library, status], api_name="remove_clip")
        removed.failure(**failed(status, library))
        refresh_library(removed)
        loaded = load.click(bind(svc.load_model), source, model_info, api_name="load_model")
        loaded.failure(**failed(status))
        refresh_library(loaded.then(bind(svc.quality_line, repeat=len(qualities)), None, qualities, **QUIET))
        list_clips.click(bind(svc.list_clips), None, clips_json, api_name="list_clips")
        gr.api(_api_example(svc), api_name="add_example")

        browser_key = gr.BrowserState(None, storage_key="dila-session", secret=svc.sessions.browser_secret)
        first_view = demo.load(bind(svc.attach), browser_key, browser_key, **QUIET).then(bind(svc.start), None,
                               [library, status, model_info, map_quality, *pickers.values(), *zones, plot, map_note, bridge],
                               **QUIET)
        first_view.then(bind(svc.quality_line, repeat=len(qualities) - 1), None, qualities[1:], **QUIET)
        first_view.then(bind(svc.clip_range), steer_clip, steer_frame, **QUIET) \
                  .then(**steering, **QUIET).success(**show_strip).success(**steer_map)
        first_view.then(bind(svc.list_clips), None, clips_json, **QUIET)
        first_view.then(bind(svc.clip_range, transitions=True), map_clip, map_t, **QUIET)
        demo.load(bind(svc.model_info), None, model_info, api_name="model_info")

        def close_session(request: gr.Request):
            svc.close_session(request.session_hash)

        demo.unload(close_session)

        gr.on([color_by.change, method.change], bind(svc.action_map), map_view, [plot, map_note], api_name="action_map")
        gr.Timer(2.0).tick(bind(svc.poll_map), map_view, [plot, map_note], **QUIET)
        adopt.click(bind(svc.adopt_layout), map_view, [plot, map_note], **QUIET)
        map_note.change(lambda note: gr.update(visible=note == NEW_LAYOUT), map_note, adopt, **QUIET)
        transition = dict(fn=bind(svc.transition), inputs=[map_clip, map_t, *map_view],
                          outputs=[frame_t, frame_t1, predicted, plot, map_note])
        map_clip.input(bind(svc.clip_range, transitions=True), map_clip, map_t, **QUIET).success(**transition, **QUIET)
        map_t.release(**transition, api_name="transition")
        picked = bridge.point_pick(_bind_point(svc), map_view,
                                   [map_clip, map_t, frame_t, frame_t1, predicted, plot, map_note, steer_clip, steer_frame],
                                   **QUIET)
        picked.failure(**failed(map_note))
        picked.success(**clear_run).success(**steering, **QUIET).success(**show_strip).success(**steer_map)

        for clip, frame in ((steer_clip, steer_frame), (plan_start_clip, plan_start_frame), (plan_goal_clip, plan_goal_frame)):
            clip.input(bind(svc.clip_range), clip, frame, **QUIET)
        started = start.click(**steering, api_name="steer_start")
        started.failure(**failed(readout))
        start.click(**clear_run)
        started.success(**steer_map).success(**show_strip)
        gr.on([s.input for s in sliders], bind(svc.steer_preview), sliders, preview,
              api_name="preview", trigger_mode="always_last", show_progress="hidden")
        gr.on([s.release for s in sliders], bind(svc.steer_map), [*map_view, *sliders], [plot, map_note, readout],
              api_name="steer_map", show_progress="hidden")
        reset.click(bind(svc.steer_reset), None, [preview, readout, *sliders], api_name="steer_reset").success(**steer_map)
        live_preview = dict(fn=bind(svc.steer_preview), inputs=sliders, outputs=preview, **QUIET)
        stepped = step.click(bind(svc.steer_step), sliders, [current, readout], api_name="steer_step")
        stepped.failure(**failed(readout))
        stepped.success(**live_preview).success(**show_strip)
        rolled = rollout.click(bind(svc.steer_rollout), [steps, *sliders], [current, steer_video, readout],
                               api_name="steer_rollout")
        rolled.failure(**failed(readout, steer_video))
        rolled.success(**live_preview).success(**show_strip)
        make_video.click(bind(svc.steer_video), None, steer_video, api_name="steer_video")
        bound = bind_keys.click(bind(svc.play_setup), clusters, [player, play_status], api_name="play_setup")
        bound.failure(**failed(play_status))
        record.click(bind(svc.steer_video), None, play_video, **QUIET)

        for role, zone, pick, file in (("motion", motion_zone, motion_pick, motion_file),
                                       ("appearance", appearance_zone, appearance_pick, appearance_file),
                                       ("structure", structure_zone, structure_pick, None),
                                       ("content", content_zone, content_pick, None)):
            zone.clip_drop(bind_drop(svc.pick, role), None, [zone, pick], **QUIET)
            pick.input(bind(svc.pick, role=role), pick, [zone, pick], **QUIET)
            if file is not None:
                refresh_library(file.upload(bind(svc.add_and_pick, role=role), file, [library, status, zone, pick], **QUIET)
                                .then(lambda: None, None, file, **QUIET))
        transferred = transfer.click(bind(svc.transfer), [motion_pick, appearance_pick, scale],
                                     [transfer_video, transfer_note], api_name="transfer")
        transferred.failure(**failed(transfer_note, transfer_video))
        rebound = rebind.click(bind(svc.rebind), [structure_pick, content_pick], [rebind_video, rebind_note], api_name="rebind")
        rebound.failure(**failed(rebind_note, rebind_video))
        planned = plan.click(bind(svc.plan), [plan_start_clip, plan_start_frame, plan_goal_clip, plan_goal_frame, goal_image,
                                              horizon, *map_view], [plan_video, plot, plan_note, plan_actions], api_name="plan")
        planned.failure(**failed(plan_note, plan_video))
        planned.success(bind(svc.plan_figure), None, plan_plot, **QUIET)
    return demo


def _example(svc: Explorer, name: str):
    def add(sid: str, fit: str):
        return svc.add_example(sid, name, fit)

    return add


def _api_example(svc: Explorer):
    def add_example(name: str, fit: str = "letterbox", request: gr.Request = None) -> tuple[str, str]:
        """Add an example clip (a file name from assets/) to the library: (gallery HTML, status)."""
        return _run(svc.add_example, request, (name, fit), {}, 0)

    return add_example


def _play_key(svc: Explorer):
    def play_key(message: dict) -> dict:
        """The page's server function: one played frame for {token, key}."""
        message = message[0] if isinstance(message, list) and message else message
        if not isinstance(message, dict):
            return {"error": "Malformed key press."}
        return svc.play_key(str(message.get("token")), str(message.get("key")))

    return play_key


def _bind_point(svc: Explorer):
    """The map bridge's `point_pick` handler: the clicked point's row and version arrive in the event data."""

    def handler(request: gr.Request, event: gr.EventData, color_by: str, method: str):
        data = event._data or {}
        return _run(svc.select_point, request, (data.get("row"), data.get("version"), color_by, method), {}, 0)

    return handler


def options(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model source (default: $DILA_MODEL or checkpoints/)")
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--public", action="store_true", default=None,
                        help="serve the public: users load only the bundled model, --models and Hub repo ids "
                             "(also when $DILA_PUBLIC=1 or $SPACE_ID is set)")
    parser.add_argument("--models", action="append", metavar="DIR",
                        help="a model directory or .pt file users may load by its name (repeatable; or $DILA_MODELS)")
    return parser.parse_known_args(argv)[0]


def launch(blocks: gr.Blocks, svc: Explorer, host: str | None = None, port: int | None = None, **kwargs) -> None:
    blocks.queue(default_concurrency_limit=2)
    blocks.launch(server_name=host, server_port=port, css=CSS + MAP_CSS + PLAY_CSS + LAYOUT_CSS,
                  max_file_size=f"{svc.limits.max_upload_mb}mb", show_error=True, **kwargs)


if gr.NO_RELOAD:
    OPTIONS = options()
    use_threads(OPTIONS.threads)
    SERVICE = Explorer(demo=DEMO, sources=SourcePolicy(OPTIONS.model or default_source(), OPTIONS.public, OPTIONS.models))
demo = build(SERVICE)


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        print(SERVICE.warm().replace("  \n", "\n"), flush=True)
        launch(demo, SERVICE, OPTIONS.host, OPTIONS.port)
    except UserError as error:
        raise SystemExit(f"{error}\nPass --model or set DILA_MODEL to a model directory, .pt file or Hub repo id.")
    finally:
        SERVICE.close()


if __name__ == "__main__":
    main()

"""DiLA explorer: the page and its wiring; every operation lives in `explorer.Explorer`.

    python app.py [--model SOURCE] [--host 127.0.0.1] [--port 7860]

SOURCE (or the DILA_MODEL environment variable): a model directory, a published `.pt` file or
a Hub repo id; the bundled `checkpoints/` by default.
"""
from __future__ import annotations

import argparse
import html
import signal
import sys

import gradio as gr

from explorer import KEEP, Choices, Explorer, Range, UserError
from explorer.device import use_threads
from explorer.figures import COLOR_BY, empty_figure
from explorer.gallery import CSS, DROPZONE_JS, GALLERY_ID, GALLERY_JS, dropzone, gallery
from explorer.projection import N_COMPONENTS
from explorer.service import SLIDER_LIMIT

VIDEO_TYPES = [".mp4", ".webm", ".mov", ".avi", ".mkv", ".gif"]
PIXELATED = ["dila-pixelated"]
IMAGE_HEIGHT = 220
QUIET = dict(api_visibility="private", show_progress="hidden")


def _update(value):
    if value is KEEP:
        return gr.skip()
    if isinstance(value, Choices):
        return gr.update(choices=value.options)
    if isinstance(value, Range):
        return gr.update(maximum=max(value.maximum, 1), value=value.value)
    return value


def _run(method, request: gr.Request, args, options, repeat):
    try:
        result = method(request.session_hash, *args, **options)
    except UserError as error:
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


def index_slider(label: str, maximum: int) -> gr.Slider:
    return gr.Slider(0, maximum, value=0, step=1, label=label)


def drop_target(role: str, label: str) -> tuple[gr.HTML, gr.Dropdown]:
    zone = gr.HTML(dropzone(role), js_on_load=DROPZONE_JS, elem_id=f"drop-{role}", elem_classes=["dila-drop"])
    return zone, clip_picker(label)


def build(svc: Explorer) -> gr.Blocks:
    last = svc.limits.clip_frames - 1
    with gr.Blocks(title="DiLA explorer", delete_cache=(600, 3600)) as demo:
        gr.Markdown("## DiLA explorer\nLatent actions inferred from video: map them, steer with them, "
                    "transfer them between clips. Drag clips from the library onto the drop zones.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=240):
                gr.Markdown("### Library")
                uploads = gr.File(label="Upload videos", file_count="multiple", file_types=VIDEO_TYPES)
                with gr.Row():
                    example = gr.Dropdown(svc.examples(), label="Example", scale=3)
                    add_example = gr.Button("Add", scale=1, min_width=60)
                library = gr.HTML(gallery([]), elem_id=GALLERY_ID, js_on_load=GALLERY_JS)
                with gr.Row():
                    remove_pick = clip_picker("Clip to remove")
                    remove = gr.Button("Remove", min_width=60)
                status = gr.Markdown()
                with gr.Accordion("Library as JSON", open=False):
                    clips_json = gr.JSON()
                    list_clips = gr.Button("Refresh", size="sm")

            with gr.Column(scale=2, min_width=360):
                gr.Markdown("### Latent-action map")
                with gr.Row():
                    color_by = gr.Radio(list(COLOR_BY), value="clip", label="Colour by")
                    method = gr.Radio(["auto", "pca", "umap"], value="auto", label="Projection")
                plot = gr.Plot(empty_figure(), show_label=False)
                map_note = gr.Markdown()
                with gr.Row():
                    map_clip = clip_picker("Transition of clip")
                    map_t = index_slider("t → t+1", last)
                with gr.Row():
                    frame_t = gr.Image(label="frame t", elem_classes=PIXELATED, interactive=False, height=IMAGE_HEIGHT)
                    frame_t1 = gr.Image(label="frame t+1", elem_classes=PIXELATED, interactive=False, height=IMAGE_HEIGHT)
                    predicted = gr.Image(label="predicted t+1", elem_classes=PIXELATED, interactive=False, height=IMAGE_HEIGHT)

            with gr.Column(scale=2, min_width=360):
                with gr.Tabs():
                    with gr.Tab("Steer"):
                        with gr.Row():
                            steer_clip = clip_picker("Start in clip")
                            steer_frame = index_slider("at frame", last)
                        start = gr.Button("Start from this frame", variant="primary")
                        with gr.Row():
                            current = gr.Image(label="current frame", elem_classes=PIXELATED, interactive=False, height=IMAGE_HEIGHT)
                            preview = gr.Image(label="next frame (live)", elem_classes=PIXELATED, interactive=False, height=IMAGE_HEIGHT)
                        readout = gr.Markdown()
                        sliders = [gr.Slider(-SLIDER_LIMIT, SLIDER_LIMIT, value=0, step=0.05, label=f"PC{i + 1} (σ)")
                                   for i in range(N_COMPONENTS)]
                        with gr.Row():
                            reset = gr.Button("Reset to inferred action")
                            step = gr.Button("Step", variant="primary")
                        with gr.Row():
                            steps = gr.Number(8, precision=0, minimum=1, maximum=svc.limits.max_rollout_steps, label="N")
                            rollout = gr.Button("Roll out N")
                            make_video = gr.Button("Video of the run")
                        steer_video = gr.Video(label="steering run", elem_classes=PIXELATED, interactive=False)

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

                    with gr.Tab("Rebind"):
                        with gr.Row():
                            with gr.Column(min_width=160):
                                structure_zone, structure_pick = drop_target("structure", "Structure (layout) of")
                            with gr.Column(min_width=160):
                                content_zone, content_pick = drop_target("content", "Content (appearance) of")
                        rebind = gr.Button("Rebind", variant="primary")
                        rebind_video = gr.Video(label="structure | content | result", elem_classes=PIXELATED, interactive=False)
                        rebind_note = gr.Markdown()

                    with gr.Tab("Plan"):
                        with gr.Row():
                            plan_start_clip = clip_picker("Start: clip")
                            plan_start_frame = index_slider("frame", last)
                        with gr.Row():
                            plan_goal_clip = clip_picker("Goal: clip")
                            plan_goal_frame = index_slider("frame", last)
                        goal_image = gr.Image(label="…or a goal image", sources=["upload", "clipboard"], height=160)
                        horizon = gr.Slider(1, 16, value=4, step=1, label="Horizon (actions)")
                        plan = gr.Button("Plan", variant="primary")
                        plan_video = gr.Video(label="goal | plan", elem_classes=PIXELATED, interactive=False)
                        plan_note = gr.Markdown()
                        with gr.Accordion("Planned actions", open=False):
                            plan_actions = gr.JSON()

                    with gr.Tab("Model"):
                        model_info = gr.Markdown()
                        source = gr.Textbox(label="Model source", placeholder="Hub repo id (published DiLA, RAE codec), "
                                            "a local directory or .pt file; empty: the default")
                        load = gr.Button("Load")

        pickers = [remove_pick, map_clip, steer_clip, motion_pick, appearance_pick, structure_pick, content_pick,
                   plan_start_clip, plan_goal_clip]
        map_view = [color_by, method]

        def refresh_library(event):
            event.then(bind(svc.clip_choices, repeat=len(pickers)), None, pickers, **QUIET) \
                 .then(bind(svc.list_clips), None, clips_json, **QUIET) \
                 .then(bind(svc.action_map), map_view, [plot, map_note], **QUIET)

        refresh_library(uploads.upload(bind(svc.add_files), uploads, [library, status], api_name="add_clips")
                        .then(lambda: None, None, uploads, **QUIET))
        refresh_library(add_example.click(bind(svc.add_example), example, [library, status], api_name="add_example"))
        refresh_library(remove.click(bind(svc.remove_clip), remove_pick, [library, status], api_name="remove_clip"))
        refresh_library(load.click(bind(svc.load_model), source, model_info, api_name="load_model")
                        .then(bind(svc.library), None, library, **QUIET))
        list_clips.click(bind(svc.list_clips), None, clips_json, api_name="list_clips")
        demo.load(bind(svc.model_info), None, model_info, api_name="model_info")

        def close_session(request: gr.Request):
            svc.close_session(request.session_hash)

        demo.unload(close_session)

        gr.on([color_by.change, method.change], bind(svc.action_map), map_view, [plot, map_note], api_name="action_map")
        gr.Timer(2.0).tick(bind(svc.poll_map), map_view, [plot, map_note], **QUIET)
        transition = dict(fn=bind(svc.transition), inputs=[map_clip, map_t, *map_view],
                          outputs=[frame_t, frame_t1, predicted, plot, map_note])
        map_clip.input(bind(svc.clip_range, transitions=True), map_clip, map_t, **QUIET).success(**transition, **QUIET)
        map_t.release(**transition, api_name="transition")

        for clip, frame in ((steer_clip, steer_frame), (plan_start_clip, plan_start_frame), (plan_goal_clip, plan_goal_frame)):
            clip.change(bind(svc.clip_range), clip, frame, **QUIET)
        steer_map = dict(fn=bind(svc.steer_map), inputs=[*map_view, *sliders], outputs=[plot, map_note, readout], **QUIET)
        start.click(bind(svc.steer_start), [steer_clip, steer_frame], [current, preview, readout, *sliders],
                    api_name="steer_start").success(**steer_map)
        gr.on([s.input for s in sliders], bind(svc.steer_preview), sliders, preview,
              api_name="preview", trigger_mode="always_last", show_progress="hidden")
        gr.on([s.release for s in sliders], bind(svc.steer_map), [*map_view, *sliders], [plot, map_note, readout],
              api_name="steer_map", show_progress="hidden")
        reset.click(bind(svc.steer_reset), None, [preview, readout, *sliders], api_name="steer_reset").success(**steer_map)
        live_preview = dict(fn=bind(svc.steer_preview), inputs=sliders, outputs=preview, **QUIET)
        step.click(bind(svc.steer_step), sliders, [current, readout], api_name="steer_step").success(**live_preview)
        rollout.click(bind(svc.steer_rollout), [steps, *sliders], [current, steer_video, readout],
                      api_name="steer_rollout").success(**live_preview)
        make_video.click(bind(svc.steer_video), None, steer_video, api_name="steer_video")

        for role, zone, pick, file in (("motion", motion_zone, motion_pick, motion_file),
                                       ("appearance", appearance_zone, appearance_pick, appearance_file),
                                       ("structure", structure_zone, structure_pick, None),
                                       ("content", content_zone, content_pick, None)):
            zone.clip_drop(bind_drop(svc.pick, role), None, [zone, pick], **QUIET)
            pick.input(bind(svc.pick, role=role), pick, [zone, pick], **QUIET)
            if file is not None:
                refresh_library(file.upload(bind(svc.add_and_pick, role=role), file, [library, status, zone, pick], **QUIET)
                                .then(lambda: None, None, file, **QUIET))
        transfer.click(bind(svc.transfer), [motion_pick, appearance_pick, scale], [transfer_video, transfer_note],
                       api_name="transfer")
        rebind.click(bind(svc.rebind), [structure_pick, content_pick], [rebind_video, rebind_note], api_name="rebind")
        plan.click(bind(svc.plan), [plan_start_clip, plan_start_frame, plan_goal_clip, plan_goal_frame, goal_image,
                                    horizon, *map_view], [plan_video, plot, plan_note, plan_actions], api_name="plan")
    return demo


def launch(svc: Explorer, host: str | None = None, port: int | None = None, **kwargs) -> gr.Blocks:
    demo = build(svc)
    demo.queue(default_concurrency_limit=2)
    demo.launch(server_name=host, server_port=port, css=CSS, max_file_size=f"{svc.limits.max_upload_mb}mb",
                show_error=True, **kwargs)
    return demo


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model source (default: $DILA_MODEL or checkpoints/)")
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = parser.parse_args(argv)
    use_threads(args.threads)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    svc = Explorer(model=args.model)
    try:
        print(svc.warm().replace("  \n", "\n"), flush=True)
        launch(svc, args.host, args.port)
    except UserError as error:
        raise SystemExit(f"{error}\nPass --model or set DILA_MODEL to a model directory, .pt file or Hub repo id.")
    finally:
        svc.close()


if __name__ == "__main__":
    main()

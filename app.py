"""DiLA explorer: assembles the page from its views (`explorer.ui`, one module per view, each
backed by its service in `explorer.services`) and serves it.

    python app.py [--model SOURCE] [--host 127.0.0.1] [--port 7860]

SOURCE (or the DILA_MODEL environment variable): a model directory, a published `.pt` file or
a Hub repo id; the bundled `checkpoints/` by default. `demo` is built at import, so Gradio's
reload mode (`gradio app.py`) finds it.
"""
from __future__ import annotations

import argparse
import signal
import sys

import gradio as gr

from explorer import Explorer, UserError
from explorer.device import use_threads
from explorer.models import default_source
from explorer.services import DEMO
from explorer.sources import SourcePolicy
from explorer.ui import CSS, TABS, VIEWS, Page, action_map, first_view, library
from explorer.ui.api_inputs import explain_wrong_counts

INTRO = ("## DiLA explorer\n"
         "A world model that learned *latent actions* from video: each is a short list of numbers for the change "
         "between two frames, read by the model without labels. **Hover** a point on the map to see the two "
         "frames of that transition, **click** it to steer the model from there with the sliders.  \n"
         "Drag library clips onto Transfer or Rebind to move one clip's motion onto another; add your own videos "
         "on the left.")


def build(svc: Explorer) -> gr.Blocks:
    page = Page(svc)
    with gr.Blocks(title="DiLA explorer", delete_cache=(600, 3600)) as demo:
        gr.Markdown(INTRO, elem_id="intro")
        with gr.Row(equal_height=False, elem_id="main-row"):
            with gr.Column(scale=1, min_width=240):
                library.layout(page)
            with gr.Column(scale=2, min_width=360):
                action_map.layout(page)
            with gr.Column(scale=2, min_width=360, elem_id="work"), gr.Tabs():
                for view in TABS:
                    with gr.Tab(view.TITLE):
                        view.layout(page)
        for view in VIEWS:
            view.wire(page)
        first_view.wire(demo, page)
    return explain_wrong_counts(demo)


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
    parser.add_argument("--indexes", action="append", metavar="DIR",
                        help="an index folder the corpus view may open by its name in public mode (repeatable; "
                             "or $DILA_INDEXES)")
    return parser.parse_known_args(argv)[0]


def launch(blocks: gr.Blocks, svc: Explorer, host: str | None = None, port: int | None = None, **kwargs) -> None:
    blocks.queue(default_concurrency_limit=2)
    blocks.launch(server_name=host, server_port=port, css=CSS, max_file_size=f"{svc.limits.max_upload_mb}mb",
                  show_error=True, **kwargs)


if gr.NO_RELOAD:
    OPTIONS = options()
    use_threads(OPTIONS.threads)
    SERVICE = Explorer(demo=DEMO, sources=SourcePolicy(OPTIONS.model or default_source(), OPTIONS.public, OPTIONS.models),
                      indexes=OPTIONS.indexes)
demo = build(SERVICE)


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        print(SERVICE.warm().replace("  \n", "\n"), flush=True)
        launch(demo, SERVICE, OPTIONS.host, OPTIONS.port)
    except UserError as error:
        raise SystemExit(f"{error}\nPass --model or set DILA_MODEL to a model directory, .pt file or Hub repo id.") from error
    finally:
        SERVICE.close()


if __name__ == "__main__":
    main()

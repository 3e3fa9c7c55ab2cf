"""The Play tab: the library's action groups bound to keys, played from the steering run."""
from __future__ import annotations

import gradio as gr

from explorer.play import MAX_CLUSTERS, PLAY_JS
from explorer.ui.common import QUIET, Page, bind, failed, video

TITLE = "Play"


def layout(page: Page) -> None:
    gr.Markdown("Play the world model with the keyboard from the steering run's current frame: the library's "
                "actions are sorted into groups of similar moves, and each key plays the average move of one group. "
                "Hold a key to keep moving.")
    with gr.Row():
        page.clusters = gr.Slider(1, MAX_CLUSTERS, value=6, step=1, label="Keys (groups of actions)")
        page.bind_keys = gr.Button("Bind keys", variant="primary")
    page.player = gr.HTML("", js_on_load=PLAY_JS, server_functions=[_play_key(page.svc.play)], elem_id="player")
    page.play_status = gr.Markdown()
    page.record = gr.Button("Save the played run (WebM)")
    page.play_video = video("played run")


def wire(page: Page) -> None:
    bound = page.bind_keys.click(bind(page.svc.play.setup), page.clusters, [page.player, page.play_status],
                                 api_name="play_setup", show_progress_on=page.play_status)
    bound.failure(**failed(page.play_status))
    page.record.click(bind(page.svc.steer.video), None, page.play_video, **QUIET)


def _play_key(play):
    def play_key(message: dict) -> dict:
        """The page's server function: one played frame for {token, key}."""
        message = message[0] if isinstance(message, list) and message else message
        if not isinstance(message, dict):
            return {"error": "Malformed key press."}
        return play.key(str(message.get("token")), str(message.get("key")))

    return play_key

"""Gradio inputs of our own. Built from Gradio's components rather than subclassing them: Gradio
writes a `.pyi` stub beside every module that defines a component class."""
from __future__ import annotations

import gradio as gr


def _file_or_data_url(payload):
    if payload is None:
        return None
    return payload.url if payload.url and payload.url.startswith("data:") else payload.path


def image_file(**options) -> gr.Image:
    """An image input passed on as its file (or data URL) without opening it: the service checks
    its pixel count from the header before decoding, and words every refusal itself."""
    image = gr.Image(**options)
    image.preprocess = _file_or_data_url
    return image

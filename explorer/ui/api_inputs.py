"""A raw API call with the wrong number of inputs gets a sentence naming the endpoint's inputs,
instead of Gradio's own text (which lists component objects with their memory addresses), and
extra inputs are refused instead of silently dropped."""
from __future__ import annotations

import gradio as gr


def explain_wrong_counts(blocks: gr.Blocks) -> gr.Blocks:
    """Check each call's number of inputs on `blocks` before Gradio does."""
    check = blocks.validate_inputs

    def validate_inputs(block_fn, inputs: list) -> None:
        if wrong_count(block_fn, inputs):
            raise gr.Error(count_message(block_fn, len(inputs)), print_exception=False)
        check(block_fn, inputs)

    blocks.validate_inputs = validate_inputs
    return blocks


def wrong_count(block_fn, inputs: list) -> bool:
    """Too few inputs, or too many for an event whose inputs no page script rewrites."""
    expected = len(block_fn.inputs)
    return len(inputs) < expected or (len(inputs) > expected and not getattr(block_fn, "js", None))


def count_message(block_fn, sent: int) -> str:
    names = [_name(block) for block in block_fn.inputs]
    api_name = getattr(block_fn, "api_name", None)
    endpoint = f"/{api_name}" if api_name else "This action"
    takes = f"takes {len(names)} input{'s' * (len(names) != 1)}" + (f" ({', '.join(names)})" if names else "")
    return f"{endpoint} {takes}; this call sent {sent}. The API page lists each input."


def _name(block) -> str:
    label = getattr(block, "label", None)
    return str(label) if label else type(block).__name__.lower()

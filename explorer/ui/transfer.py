"""The Transfer tab: drag one clip's motion onto another clip."""
from __future__ import annotations

import gradio as gr

from explorer.ui import library
from explorer.ui.common import QUIET, VIDEO_TYPES, Page, bind, bind_drop, drop_target, failed, quality_line, video

TITLE = "Transfer"
ROLES = ("motion", "appearance")


def layout(page: Page) -> None:
    page.drop_files = {}
    with gr.Row():
        for role, label in zip(ROLES, ("Motion from", "Apply to")):
            with gr.Column(min_width=160):
                page.zones[role], page.picks[role] = drop_target(role, label)
                page.drop_files[role] = gr.File(label="…or drop a video file", file_types=VIDEO_TYPES)
    page.scale = gr.Slider(-2, 3, value=1, step=0.1, label="Scale of the per-step actions")
    page.transfer = gr.Button("Transfer", variant="primary")
    page.transfer_video = video("motion | appearance | result")
    page.transfer_note = gr.Markdown()
    page.qualities["transfer"] = quality_line()


def wire_picks(page: Page, roles: tuple[str, ...]) -> None:
    """Dropping a clip on a role's zone, or choosing it in its picker, picks it."""
    pick = page.svc.library.pick
    for role in roles:
        zone, picker = page.zones[role], page.picks[role]
        zone.clip_drop(bind_drop(pick, role), None, [zone, picker], **QUIET)
        picker.input(bind(pick, role=role), picker, [zone, picker], **QUIET)


def wire(page: Page) -> None:
    wire_picks(page, ROLES)
    for role, file in page.drop_files.items():
        added = file.upload(bind(page.svc.library.add_and_pick, role=role), file,
                            [page.gallery, page.status, page.zones[role], page.picks[role]], **QUIET)
        library.refresh(page, added.then(lambda: None, None, file, **QUIET))
    transferred = page.transfer.click(bind(page.svc.transfer.run), [page.picks["motion"], page.picks["appearance"],
                                                                     page.scale],
                                      [page.transfer_video, page.transfer_note], api_name="transfer")
    transferred.failure(**failed(page.transfer_note, page.transfer_video))

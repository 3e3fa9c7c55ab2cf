"""The clip library as HTML cards that can be dragged onto drop zones.

Contract the page (and a browser test) relies on:
- a card is `[data-clip-id]` with `draggable="true"` inside the gallery element (`#clip-gallery`);
- dragging it carries the clip id as `application/x-dila-clip` (and as text/plain);
- a drop zone is a `gr.HTML` whose root holds `[data-drop-role=<role>]`; dropping a card on it
  triggers its `clip_drop` event with `{clip_id}`, which the app turns into that role's pick.
"""
from __future__ import annotations

import html
import re

import numpy as np

from explorer.media import png_data_uri

GALLERY_ID = "clip-gallery"
MIME = "application/x-dila-clip"
ROLES = ("motion", "appearance", "structure", "content")

GALLERY_JS = f"""
element.addEventListener('dragstart', (event) => {{
  const card = event.target.closest('[data-clip-id]');
  if (!card) return;
  event.dataTransfer.setData('{MIME}', card.dataset.clipId);
  event.dataTransfer.setData('text/plain', card.dataset.clipId);
  event.dataTransfer.effectAllowed = 'copy';
}});
"""

DROPZONE_JS = f"""
const carriesClip = (event) => Array.from(event.dataTransfer.types).includes('{MIME}');
const zone = () => element.querySelector('[data-drop-role]') || element;
for (const name of ['dragenter', 'dragover']) {{
  element.addEventListener(name, (event) => {{
    if (!carriesClip(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
    zone().classList.add('dila-drop-over');
  }});
}}
element.addEventListener('dragleave', () => zone().classList.remove('dila-drop-over'));
element.addEventListener('drop', (event) => {{
  zone().classList.remove('dila-drop-over');
  if (!carriesClip(event)) return;
  event.preventDefault();
  const clipId = event.dataTransfer.getData('{MIME}');
  zone().dataset.droppedClipId = clipId;
  trigger('clip_drop', {{clip_id: clipId}});
}});
"""

CSS = """
#clip-gallery .dila-cards { display: flex; flex-wrap: wrap; gap: 8px; }
.dila-card { width: 84px; cursor: grab; text-align: center; font-size: 11px; user-select: none; }
.dila-card img, .dila-dropzone img { width: 76px; height: 76px; image-rendering: pixelated; border-radius: 4px; }
.dila-card small { display: block; color: #6b7280; font-size: 10px; line-height: 1.2; }
.dila-card span { display: block; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.dila-dropzone { border: 2px dashed #999; border-radius: 8px; padding: 10px; min-height: 96px;
  display: flex; gap: 10px; align-items: center; justify-content: center; }
.dila-drop-over { border-color: #f97316; background: rgba(249, 115, 22, 0.08); }
.dila-pixelated img, .dila-pixelated video { image-rendering: pixelated; }
.dila-pixelated .image-container, .dila-pixelated .image-frame, .dila-pixelated .image-container > button {
  width: 100%; height: 100%; }
.dila-pixelated img { width: 100%; height: 100%; object-fit: contain !important; }
"""


def safe_name(name: str) -> str:
    """A display name without markup or template syntax."""
    return re.sub(r"[^\w.\- ]", "_", name)[:40] or "clip"


def card(clip_id: str, name: str, frames: int, thumbnail: np.ndarray, draggable: bool = True, shape: str = "") -> str:
    name = html.escape(safe_name(name))
    drag = str(draggable).lower()
    shape = html.escape(shape)
    return (f'<div class="dila-card" draggable="{drag}" data-clip-id="{html.escape(clip_id)}" '
            f'title="{name}: {frames} frames{", " + shape if shape else ""}">'
            f'<img src="{png_data_uri(thumbnail)}" alt="{name}" draggable="false"><span>{name}</span>'
            f'<small class="dila-shape">{shape}</small></div>')


def gallery(cards: list[str]) -> str:
    if not cards:
        return '<div class="dila-cards"><em>No clips yet: upload videos or add an example.</em></div>'
    return '<div class="dila-cards">' + "".join(cards) + "</div>"


def dropzone(role: str, chosen: str | None = None) -> str:
    inside = chosen or f"Drag a clip from the library here ({role})"
    return f'<div class="dila-dropzone" data-drop-role="{role}">{inside}</div>'

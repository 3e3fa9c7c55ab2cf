"""Play: the library's latent actions clustered (k-means), each cluster's centre bound to a key;
a held key advances the steering run one frame per round trip, in the browser.

Contract with the page (`PLAY_JS`): the panel holds `[data-play-token]`, an `img.dila-play-frame`
and `[data-play-key]` legend items; the script calls the server function `play_key({token, key})`,
which answers `{"frame": data URI, "frames": count}` or `{"error": message}`, one call at a time.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np

ARROWS = (("ArrowUp", "w", (0, -1)), ("ArrowDown", "s", (0, 1)), ("ArrowLeft", "a", (-1, 0)),
          ("ArrowRight", "d", (1, 0)))
SYMBOLS = {"ArrowUp": "↑", "ArrowDown": "↓", "ArrowLeft": "←", "ArrowRight": "→"}
MAX_CLUSTERS = 8
MIN_SHIFT_PX = 0.5  # a move smaller than this has no direction to show
ALONG = 0.8  # the cosine a move needs with an arrow's direction to get that arrow


@dataclass
class PlayKeys:
    token: str
    centres: np.ndarray  # k a: the action each key plays
    keys: list[tuple[str, ...]]  # the keys of each centre (`assign_keys`)

    def action(self, key: str) -> np.ndarray | None:
        for index, names in enumerate(self.keys):
            if key in names or key.lower() in names:
                return self.centres[index]
        return None


def shift(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """How far what moves from `before` to `after` moved, (dx, dy) in pixels: the mean optical flow
    of the pixels that move (an object, or the whole picture in a pan); zero when nothing does."""
    import cv2

    grey = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in (before, after)]
    flow = cv2.calcOpticalFlowFarneback(*grey, None, 0.5, 2, 9, 3, 5, 1.1, 0)
    moving = np.linalg.norm(flow, axis=-1) > MIN_SHIFT_PX
    return flow[moving].mean(axis=0) if moving.mean() > 0.01 else np.zeros(2)


def assign_keys(shifts: np.ndarray) -> list[tuple[str, ...]]:
    """Each centre's keys: its digit, and an arrow (with its WASD letter) only when its move points
    that way (at least MIN_SHIFT_PX, cosine ALONG); one centre per arrow, the largest moves first."""
    keys = [(str(index + 1),) for index in range(len(shifts))]
    sizes = np.linalg.norm(shifts, axis=1)
    taken = set()
    for index in np.argsort(-sizes):
        if sizes[index] < MIN_SHIFT_PX:
            break
        for arrow, letter, direction in ARROWS:
            if arrow not in taken and shifts[index] @ np.array(direction) >= ALONG * sizes[index]:
                keys[index] = (arrow, letter, str(index + 1))
                taken.add(arrow)
                break
    return keys


def cluster(actions: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """k-means centres of the actions (fewer when there are fewer distinct actions)."""
    from sklearn.cluster import KMeans

    k = int(min(k, len(np.unique(np.round(actions, 6), axis=0))))
    return KMeans(n_clusters=max(k, 1), n_init=3, random_state=seed).fit(actions).cluster_centers_.astype(np.float32)


def key_label(keys: tuple[str, ...]) -> str:
    return " / ".join(SYMBOLS.get(name, name.upper()) for name in keys)


def panel(token: str, frame_uri: str, strips: list[str], keys: list[tuple[str, ...]]) -> str:
    """The play panel: the frame being played and one legend item (keys, what it does) per centre."""
    items = "".join(f'<div class="dila-play-key" data-play-key="{index}"><b>{html.escape(key_label(names))}</b>'
                    f'<img src="{strip}" alt="action {index + 1}"></div>'
                    for index, (strip, names) in enumerate(zip(strips, keys)))
    return (f'<div class="dila-play" data-play-token="{html.escape(token)}" tabindex="0">'
            f'<img class="dila-play-frame" src="{frame_uri}" alt="played frame">'
            f'<div class="dila-play-legend">{items}</div>'
            f'<p class="dila-play-status">Hold a key to play; the run continues the steering run.</p></div>')


PLAY_JS = """
let held = null, busy = false;
window.dilaPlayLatencies = window.dilaPlayLatencies || [];
const root = () => element.querySelector('[data-play-token]');
const playing = () => root() && element.offsetParent !== null;
const typing = (event) => ['INPUT', 'TEXTAREA', 'SELECT'].includes(event.target.tagName);
const show = (uri, started) => new Promise((done) => {
  const img = element.querySelector('.dila-play-frame');
  img.onload = () => { window.dilaPlayLatencies.push(performance.now() - started); done(); };
  img.onerror = () => done();
  img.src = uri;
});
const tick = async () => {
  if (busy) return;
  busy = true;
  try {
    while (held && playing()) {
      const started = performance.now();
      const answer = await server.play_key({token: root().dataset.playToken, key: held.key});
      const status = element.querySelector('.dila-play-status');
      if (answer.error) { status.textContent = answer.error; held = null; break; }
      await show(answer.frame, started);
      status.textContent = `${answer.frames} frames in this run`;
    }
  } finally { busy = false; }
};
document.addEventListener('keydown', (event) => {
  if (!playing() || typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
  const items = element.querySelectorAll('[data-play-key]');
  if (!items.length) return;
  event.preventDefault();
  if (held && held.key === event.key) return;
  held = {key: event.key};
  tick();
});
document.addEventListener('keyup', (event) => { if (held && held.key === event.key) held = null; });
"""

PLAY_CSS = """
.dila-play { display: flex; flex-direction: column; align-items: center; gap: 8px; outline: none; }
.dila-play-frame { width: 256px; height: 256px; image-rendering: pixelated; border-radius: 6px; }
.dila-play-legend { display: flex; flex-wrap: wrap; gap: 6px; justify-content: center; }
.dila-play-key { display: flex; flex-direction: column; align-items: center; font-size: 12px; }
.dila-play-key img { height: 40px; image-rendering: pixelated; }
.dila-play-status { font-size: 12px; color: #6b7280; margin: 0; }
"""

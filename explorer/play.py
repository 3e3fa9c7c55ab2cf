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

KEYS = (("ArrowUp", "w", "1"), ("ArrowDown", "s", "2"), ("ArrowLeft", "a", "3"), ("ArrowRight", "d", "4"),
        ("5",), ("6",), ("7",), ("8",))
SYMBOLS = {"ArrowUp": "↑", "ArrowDown": "↓", "ArrowLeft": "←", "ArrowRight": "→"}
MAX_CLUSTERS = len(KEYS)


@dataclass
class PlayKeys:
    token: str
    centres: np.ndarray  # k a: the action each key plays

    def action(self, key: str) -> np.ndarray | None:
        for index, names in enumerate(KEYS[: len(self.centres)]):
            if key in names or key.lower() in names:
                return self.centres[index]
        return None


def cluster(actions: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """k-means centres of the actions (fewer when there are fewer distinct actions)."""
    from sklearn.cluster import KMeans

    k = int(min(k, len(np.unique(np.round(actions, 6), axis=0))))
    return KMeans(n_clusters=max(k, 1), n_init=3, random_state=seed).fit(actions).cluster_centers_.astype(np.float32)


def key_label(index: int) -> str:
    return " / ".join(SYMBOLS.get(name, name.upper()) for name in KEYS[index])


def panel(token: str, frame_uri: str, strips: list[str]) -> str:
    """The play panel: the frame being played and one legend item (keys, what it does) per centre."""
    items = "".join(f'<div class="dila-play-key" data-play-key="{index}"><b>{html.escape(key_label(index))}</b>'
                    f'<img src="{strip}" alt="action {index + 1}"></div>' for index, strip in enumerate(strips))
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

"""Plotly figures of the latent-action map."""
from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from explorer import words
from explorer.media import png_data_uri
from explorer.projection import ActionMap

COLOR_BY = ("clip", "time", "magnitude")


@dataclass
class Marks:
    """What is drawn over the library's points: a chosen transition (row), the current steering
    action, a planned path of actions."""

    selected: int | None = None
    current: np.ndarray | None = None
    path: np.ndarray | None = None


def empty_figure(message: str = "Add clips to see their latent actions.") -> go.Figure:
    figure = go.Figure()
    figure.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    figure.update_layout(template="plotly_white", height=420, xaxis_visible=False, yaxis_visible=False)
    return figure


def action_map(amap: ActionMap, names: list[str], color_by: str, method: str, marks: Marks) -> go.Figure:
    if color_by not in COLOR_BY:
        raise ValueError(f"color_by must be one of {COLOR_BY}")
    points = amap.points(method)
    clip_names = np.asarray(names)[amap.clip_index]
    sizes = amap.magnitudes
    hover = [f"{n}<br>frames {t} → {t + 1}<br>{words.action_size(m, sizes)}"
             for n, t, m in zip(clip_names, amap.times, sizes)]
    # What the page's map script reads from a point: its row, the library version, clip index and t.
    custom = np.stack([np.arange(len(points)), np.full(len(points), amap.version), amap.clip_index, amap.times], axis=1)
    figure = go.Figure()
    if color_by == "clip":
        for index, name in enumerate(names):
            rows = np.flatnonzero(amap.clip_index == index)
            figure.add_scatter(x=points[rows, 0], y=points[rows, 1], mode="markers", name=name, marker_size=8,
                               hovertext=[hover[r] for r in rows], hoverinfo="text", customdata=custom[rows])
    else:
        values = amap.times if color_by == "time" else sizes
        figure.add_scatter(x=points[:, 0], y=points[:, 1], mode="markers", name="transitions", hovertext=hover,
                           hoverinfo="text", customdata=custom,
                           marker=dict(size=8, color=values, colorscale="Viridis",
                                       colorbar=dict(title="frame t" if color_by == "time" else "action size")))
    _draw_marks(figure, amap, method, points, marks)
    figure.update_layout(template="plotly_white", height=420, margin=dict(l=50, r=10, t=30, b=40),
                         legend=dict(orientation="h", y=-0.15), uirevision=f"action-map-{method}", hovermode="closest",
                         xaxis_title=_axis(amap, method, 0), yaxis_title=_axis(amap, method, 1))
    return figure


def _axis(amap: ActionMap, method: str, index: int) -> str:
    if method == "umap":
        return f"UMAP {index + 1}"
    if method == "interim":
        return f"UMAP {index + 1} (earlier layout)"
    return f"direction {index + 1} in σ ({words.share(amap.pca.explained[index])} of the actions' spread)"


def _draw_marks(figure: go.Figure, amap: ActionMap, method: str, points: np.ndarray, marks: Marks) -> None:
    if marks.selected is not None and marks.selected < len(points):
        x, y = points[marks.selected]
        figure.add_scatter(x=[x], y=[y], mode="markers", name="chosen transition", hoverinfo="skip",
                           marker=dict(size=20, color="rgba(0,0,0,0)", line=dict(width=3, color="black")))
    if marks.path is not None and len(marks.path):
        path = amap.locate(method, marks.path)
        figure.add_scatter(x=path[:, 0], y=path[:, 1], mode="lines+markers+text", name="plan",
                           text=[str(i) for i in range(len(path))], textposition="top center",
                           line=dict(color="crimson", width=2), marker=dict(size=9, color="crimson"))
    if marks.current is not None:
        x, y = amap.locate(method, marks.current[None])[0]
        figure.add_scatter(x=[x], y=[y], mode="markers", name="current action", hoverinfo="name",
                           marker=dict(size=20, symbol="star", color="orange", line=dict(width=1, color="black")))


def sprites(clips: list, version: int) -> str:
    """Every clip's frames in one strip image each (hidden), for the map's hover thumbnails:
    `img[data-clip-index]` with `data-frames`, inside `[data-version]`."""
    images = "".join(f'<img data-clip-index="{index}" data-frames="{len(clip.frames)}" alt="{html.escape(clip.name)}" '
                     f'src="{png_data_uri(np.concatenate(list(clip.frames), axis=1))}">'
                     for index, clip in enumerate(clips))
    return f'<div class="dila-sprites" data-version="{version}">{images}</div>'


def plan_figure(coordinates: np.ndarray) -> go.Figure:
    """The planned actions (steps s, k) along the library's directions, one line per direction."""
    figure = go.Figure()
    steps = np.arange(1, len(coordinates) + 1)
    for index in range(coordinates.shape[1]):
        figure.add_scatter(x=steps, y=coordinates[:, index], mode="lines+markers", name=f"direction {index + 1}")
    figure.update_layout(template="plotly_white", height=260, margin=dict(l=50, r=10, t=10, b=40),
                         xaxis=dict(title="step", dtick=1), yaxis_title="σ (as the sliders)",
                         legend=dict(orientation="h", y=-0.3))
    return figure

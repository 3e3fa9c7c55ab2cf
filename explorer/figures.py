"""Plotly figures of the latent-action map."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

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
    hover = [f"{n}<br>t {t}→{t + 1}<br>|z| {m:.2f}" for n, t, m in zip(clip_names, amap.times, amap.magnitudes)]
    figure = go.Figure()
    if color_by == "clip":
        for index, name in enumerate(names):
            rows = np.flatnonzero(amap.clip_index == index)
            figure.add_scatter(x=points[rows, 0], y=points[rows, 1], mode="markers", name=name, marker_size=7,
                               hovertext=[hover[r] for r in rows], hoverinfo="text", customdata=rows)
    else:
        values = amap.times if color_by == "time" else amap.magnitudes
        figure.add_scatter(x=points[:, 0], y=points[:, 1], mode="markers", name="transitions", hovertext=hover,
                           hoverinfo="text", customdata=np.arange(len(points)),
                           marker=dict(size=7, color=values, colorscale="Viridis",
                                       colorbar=dict(title="t" if color_by == "time" else "|z|")))
    _draw_marks(figure, amap, method, points, marks)
    figure.update_layout(template="plotly_white", height=420, margin=dict(l=40, r=10, t=30, b=40),
                         legend=dict(orientation="h", y=-0.15), uirevision="action-map",
                         xaxis_title=_axis(amap, method, 0), yaxis_title=_axis(amap, method, 1))
    return figure


def _axis(amap: ActionMap, method: str, index: int) -> str:
    if method == "umap":
        return f"UMAP {index + 1}"
    return f"PC{index + 1} ({100 * amap.pca.explained[index]:.0f}%)"


def _draw_marks(figure: go.Figure, amap: ActionMap, method: str, points: np.ndarray, marks: Marks) -> None:
    if marks.selected is not None and marks.selected < len(points):
        x, y = points[marks.selected]
        figure.add_scatter(x=[x], y=[y], mode="markers", name="chosen transition", hoverinfo="skip",
                           marker=dict(size=18, color="rgba(0,0,0,0)", line=dict(width=2, color="black")))
    if marks.path is not None and len(marks.path):
        path = amap.locate(method, marks.path)
        figure.add_scatter(x=path[:, 0], y=path[:, 1], mode="lines+markers+text", name="plan",
                           text=[str(i) for i in range(len(path))], textposition="top center",
                           line=dict(color="crimson", width=2), marker=dict(size=9, color="crimson"))
    if marks.current is not None:
        x, y = amap.locate(method, marks.current[None])[0]
        figure.add_scatter(x=[x], y=[y], mode="markers", name="current action", hoverinfo="name",
                           marker=dict(size=20, symbol="star", color="orange", line=dict(width=1, color="black")))

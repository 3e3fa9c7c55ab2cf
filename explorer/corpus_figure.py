"""What the corpus view draws: the WebGL map of every transition, and frame pairs as HTML."""
from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from explorer import words
from explorer.corpus import Corpus, FramesGone

PALETTE = qualitative.Plotly
LEGEND_MAX = 12  # colour groups named in the legend; more (clips) are told apart by colour only


def corpus_figure(corpus: Corpus, color_by: str, chosen: int | None = None,
                  similar: np.ndarray | None = None) -> go.Figure:
    """Every row is a point of one of the first traces, one trace per colour, its customdata the row
    (the page's script relies on it): a single trace coloured through a colour scale takes the
    browser twice as long to draw at 100k points."""
    groups, names = corpus.colours(color_by)
    colours = groups % len(PALETTE)
    marker = dict(size=3 if len(corpus) > 20_000 else 6, opacity=0.8)  # a browser without a GPU fills every pixel itself
    traces = [dict(type="scattergl", x=corpus.points[rows, 0], y=corpus.points[rows, 1], customdata=rows,
                   mode="markers", hoverinfo="none", showlegend=False, marker=dict(marker, color=PALETTE[colour]))
              for colour in np.unique(colours) for rows in [np.flatnonzero(colours == colour).astype(np.int32)]]
    figure = go.Figure(dict(data=traces), _validate=False)  # checking 100k points' values takes seconds
    if len(names) <= LEGEND_MAX:
        for index, name in enumerate(names):
            figure.add_scattergl(x=[None], y=[None], mode="markers", name=name, hoverinfo="skip",
                                 marker=dict(size=8, color=PALETTE[index % len(PALETTE)]))
    if similar is not None and len(similar):
        figure.add_scattergl(x=corpus.points[similar, 0], y=corpus.points[similar, 1], mode="markers",
                             name="similar motions", hoverinfo="skip",
                             marker=dict(size=11, color="rgba(0,0,0,0)", line=dict(width=2, color="crimson")))
    if chosen is not None:
        figure.add_scattergl(x=corpus.points[[chosen], 0], y=corpus.points[[chosen], 1], mode="markers",
                             name="chosen transition", hoverinfo="skip",
                             marker=dict(size=18, color="rgba(0,0,0,0)", line=dict(width=3, color="black")))
    figure.update_layout(template="plotly_white", height=460, margin=dict(l=50, r=10, t=20, b=40),
                         legend=dict(orientation="h", y=-0.15), uirevision=f"corpus-{corpus.label}",
                         hovermode="closest", dragmode="lasso",
                         xaxis_title=f"direction 1 in σ ({words.share(corpus.explained[0])} of the actions' spread)",
                         yaxis_title=f"direction 2 ({words.share(corpus.explained[1])})")
    return figure


def pair_html(corpus: Corpus, row: int, caption: str, css: str = "dila-pair") -> str:
    """A row's frames t and t+1 with a caption; a sentence instead of the frames when they are gone."""
    try:
        first, second = corpus.frames(row)
        frames = f'<img src="{first}" alt="frame t"><img src="{second}" alt="frame t+1">'
    except FramesGone as gone:
        frames = f'<div class="dila-gone">The frames are gone: {html.escape(str(gone))}.</div>'
    return f'<div class="{css}" data-row="{row}">{frames}<div class="dila-caption">{caption}</div></div>'


def describe(corpus: Corpus, row: int) -> str:
    fields = corpus.row(row)
    return (f"{html.escape(fields['clip'])}<br>frames {fields['frame_index']} → {fields['next_frame_index']} "
            f"({fields['timestamp']:.2f} s)")


def hover_html(corpus: Corpus, row: int) -> str:
    """What the page's script copies into the hover tip."""
    return pair_html(corpus, row, describe(corpus, row), "dila-corpus-frames")


def strip_html(corpus: Corpus, rows: np.ndarray, captions: list[str], empty: str) -> str:
    if not len(rows):
        return f'<div class="dila-strip dila-empty">{html.escape(empty)}</div>'
    pairs = "".join(pair_html(corpus, int(r), c) for r, c in zip(rows, captions))
    return f'<div class="dila-strip">{pairs}</div>'

"""The page's script for the corpus map: it draws the map with the page's plotly and binds plotly's events.

Contract: `DRAW_JS` hands the script a figure's JSON, drawn into `#corpus-map .dila-corpus-plot`, in
which every row is a point whose customdata is the row. The bridge element (a `gr.HTML` with this
script) triggers `corpus_ready` once loaded, `corpus_hover` {row} when the pointer rests on a point,
`corpus_pick` {row} on a click and `corpus_select` {rows} after a lasso or box selection. A hover's
answer is the bridge's new content: a `.dila-corpus-frames[data-row]` that the script copies into the tip `#dila-corpus-tip`.
`window.dilaCorpusHoverMs` lists each hover's milliseconds from the pointer to the frames.
"""

CORPUS_JS = """
let tip = document.getElementById('dila-corpus-tip');
if (!tip) {
  tip = document.createElement('div');
  tip.id = 'dila-corpus-tip';
  tip.hidden = true;
  document.body.appendChild(tip);
}
window.dilaCorpusHoverMs = window.dilaCorpusHoverMs || [];
let pending = null, asked = 0;
const deliver = () => {
  const frames = element.querySelector('.dila-corpus-frames');
  if (!frames || pending === null || Number(frames.dataset.row) !== pending || tip.dataset.row === String(pending)) return;
  tip.innerHTML = frames.innerHTML;
  tip.dataset.row = String(pending);
  window.dilaCorpusHoverMs.push(performance.now() - asked);
};
new MutationObserver(deliver).observe(element, {childList: true, subtree: true, characterData: true});
// Ask again while the pointer stays and no answer came (a request may be lost on a busy server).
const ask = (row) => {
  trigger('corpus_hover', {row});
  setTimeout(() => { if (pending === row && tip.dataset.row !== String(row)) ask(row); }, 1500);
};
const rowOf = (data) => {
  const point = data && data.points && data.points.find((p) => p.customdata !== undefined);
  return point ? Number(point.customdata) : null;
};
const place = (event) => {
  if (!event) return;
  tip.style.left = `${Math.min(event.clientX + 16, window.innerWidth - 300)}px`;
  tip.style.top = `${Math.max(event.clientY - 170, 4)}px`;
};
const hide = () => { tip.hidden = true; pending = null; };
// The map is drawn here, into an element of its own: gr.Plot mounts a new element and WebGL context for
// every figure, and draws each figure twice (a second and more at 100k points without a GPU).
let drawn = null;
const draw = () => {
  const plot = document.querySelector('#corpus-map .dila-corpus-plot'), figure = window.dilaCorpusFigure;
  if (!plot || plot.offsetParent === null || !window.Plotly || !figure || figure === drawn) return;
  drawn = figure;
  const {data, layout} = JSON.parse(figure);
  Plotly.react(plot, data, {...layout, autosize: true}, {responsive: true, displaylogo: false}).then(() => {
    plot.dataset.state = 'drawn';
  });
};
window.dilaCorpusDraw = draw;
const bind = () => {
  draw();
  const plot = document.querySelector('#corpus-map .js-plotly-plot');
  if (!plot || !plot.on || plot.dilaCorpusBound) return;
  plot.dilaCorpusBound = true;
  plot.on('plotly_hover', (data) => {
    const row = rowOf(data);
    if (row === null) return;
    place(data.event);
    tip.hidden = false;
    if (row === pending) return;
    pending = row;
    asked = performance.now();
    tip.dataset.row = '';
    tip.textContent = 'reading the frames…';
    deliver();  // the bridge may hold this row's frames already: the server would answer the same
    if (tip.dataset.row !== String(row)) ask(row);
  });
  plot.on('plotly_unhover', hide);
  plot.on('plotly_click', (data) => {
    const row = rowOf(data);
    if (row === null) return;
    hide();
    trigger('corpus_pick', {row});
  });
  plot.on('plotly_selected', (data) => {
    if (!data || !data.points) return;
    hide();
    trigger('corpus_select', {rows: data.points.filter((p) => p.customdata !== undefined).map((p) => Number(p.customdata))});
  });
};
setInterval(bind, 250);
trigger('corpus_ready', {});
"""

MAP_HTML = '<div class="dila-corpus-plot" data-state="waiting"></div>'
# The figure's JSON arrives in a hidden textbox; its change hands it to the script above.
DRAW_JS = "(figure) => { window.dilaCorpusFigure = figure; if (window.dilaCorpusDraw) window.dilaCorpusDraw(); }"

CORPUS_CSS = """
#corpus-bridge { display: none; }
#corpus-map .dila-corpus-plot { height: 460px; }
#corpus-map .dila-corpus-plot[data-state="waiting"]::before { content: "Opening the index…"; color: #6b7280; }
#dila-corpus-tip { position: fixed; z-index: 1000; pointer-events: none; background: white; border: 1px solid #d1d5db;
  border-radius: 6px; padding: 6px; box-shadow: 0 4px 12px rgba(0,0,0,0.15); display: flex; flex-wrap: wrap;
  gap: 4px; width: 268px; font-size: 12px; color: #111; }
#dila-corpus-tip[hidden] { display: none; }
#dila-corpus-tip img { width: 128px; height: 128px; object-fit: contain; image-rendering: pixelated; background: #eee; }
.dila-caption { width: 100%; line-height: 1.3; font-size: 12px; }
.dila-gone { width: 100%; color: #b91c1c; }
.dila-strip { display: flex; flex-wrap: wrap; gap: 8px; }
.dila-pair { display: flex; flex-wrap: wrap; gap: 2px; width: 132px; }
.dila-pair img { width: 64px; height: 64px; object-fit: contain; image-rendering: pixelated; background: #eee; }
"""

"""The page's script for the latent-action map: hover a point to see its frames, click it to
choose it. `gr.Plot` has no click or hover events, so this binds plotly's own events.

Contract: the plot is inside `#action-map`; each library point's `customdata` is
[row, library version, clip index, t]; the bridge element (a `gr.HTML` with this script) holds
the clips' frame strips (`figures.sprites`). A click triggers the bridge's `point_pick` event
with {row, version}; hovering shows `#dila-map-tip` with frames t and t+1.
"""

TIP_SIZE = 96
NEAR_PX = 8  # the tip shows a point only while the pointer is this close to it

MAP_JS = f"""
const SIZE = {TIP_SIZE}, NEAR = {NEAR_PX};
let tip = document.getElementById('dila-map-tip');
if (!tip) {{
  tip = document.createElement('div');
  tip.id = 'dila-map-tip';
  tip.hidden = true;
  document.body.appendChild(tip);
}}
const frame = (strip, t) => {{
  const box = document.createElement('div');
  box.className = 'dila-tip-frame';
  if (strip) {{
    const count = Number(strip.dataset.frames);
    box.style.backgroundImage = `url(${{strip.src}})`;
    box.style.backgroundSize = `${{count * SIZE}}px ${{SIZE}}px`;
    box.style.backgroundPosition = `-${{t * SIZE}}px 0px`;
  }}
  return box;
}};
// Where a point is on screen: plotly reports the nearest point within its own hover distance,
// and a fast move can leave the pointer away from it.
const onScreen = (point) => {{
  const box = document.querySelector('#action-map .js-plotly-plot').getBoundingClientRect();
  return [box.left + point.xaxis._offset + point.xaxis.l2p(point.x), box.top + point.yaxis._offset + point.yaxis.l2p(point.y)];
}};
const near = (spot, event) => Math.hypot(event.clientX - spot[0], event.clientY - spot[1]) <= NEAR;
let shown = null;
const show = (data) => {{
  const point = data.points && data.points[0];
  if (!point || !point.customdata) return;
  const spot = point.xaxis && point.yaxis ? onScreen(point) : null;
  if (spot && data.event && !near(spot, data.event)) {{ tip.hidden = true; shown = null; return; }}
  shown = spot;
  const [row, version, clip, t] = point.customdata.map(Number);
  const strip = element.querySelector(`.dila-sprites[data-version="${{version}}"] img[data-clip-index="${{clip}}"]`);
  tip.replaceChildren(frame(strip, t), frame(strip, t + 1));
  const caption = document.createElement('div');
  caption.className = 'dila-tip-caption';
  caption.innerHTML = point.hovertext || '';
  tip.appendChild(caption);
  tip.dataset.row = row;
  const x = data.event ? data.event.clientX : 0, y = data.event ? data.event.clientY : 0;
  tip.style.left = `${{Math.min(x + 16, window.innerWidth - 2 * SIZE - 24)}}px`;
  tip.style.top = `${{Math.max(y - SIZE - 40, 4)}}px`;
  tip.hidden = false;
}};
const bind = () => {{
  const plot = document.querySelector('#action-map .js-plotly-plot');
  if (!plot || !plot.on || plot.dilaBound) return;
  plot.dilaBound = true;
  plot.on('plotly_hover', show);
  plot.on('plotly_unhover', () => {{ tip.hidden = true; shown = null; }});
  plot.addEventListener('mousemove', (event) => {{ if (shown && !near(shown, event)) {{ tip.hidden = true; shown = null; }} }});
  plot.on('plotly_click', (data) => {{
    const point = data.points && data.points[0];
    if (!point || !point.customdata) return;
    tip.hidden = true;
    trigger('point_pick', {{row: Number(point.customdata[0]), version: Number(point.customdata[1])}});
  }});
}};
setInterval(bind, 250);
"""

MAP_CSS = f"""
.dila-sprites {{ display: none; }}
#dila-map-tip {{ position: fixed; z-index: 1000; pointer-events: none; background: white; border: 1px solid #d1d5db;
  border-radius: 6px; padding: 6px; box-shadow: 0 4px 12px rgba(0,0,0,0.15); display: flex; flex-wrap: wrap;
  gap: 4px; width: {2 * TIP_SIZE + 4}px; font-size: 12px; color: #111; }}
#dila-map-tip[hidden] {{ display: none; }}
.dila-tip-frame {{ width: {TIP_SIZE}px; height: {TIP_SIZE}px; image-rendering: pixelated; background-repeat: no-repeat;
  background-color: #eee; }}
.dila-tip-caption {{ width: 100%; line-height: 1.3; }}
"""

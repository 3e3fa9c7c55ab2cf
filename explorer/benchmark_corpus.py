"""The corpus view's budgets on a synthetic index (`python -m explorer.benchmark --corpus 100000`):

- in process: opening the index (shards read, PCA layout), 20 nearest of every transition,
  a transition's two frames read cold and from the cache;
- `python app.py` in headless Chromium: the map of every transition drawn after Open, hover ->
  frames on screen (cold: never read; warm: read before by the server), and the app's memory
  before and after opening the index.
"""
from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path

import numpy as np

from explorer.benchmark import headless_chromium, open_tab, start_app

MAP_DRAWN = """(n) => { const p = document.querySelector('#corpus-map .js-plotly-plot');
    if (!p || !p._fullData || p.querySelector('canvas') === null) return false;
    return p._fullData.reduce((sum, trace) => sum + (trace.customdata ? trace.customdata.length : 0), 0) === n; }"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def in_process(folder: Path) -> dict:
    from explorer.corpus import PAIRS, load_corpus, read_manifest

    started = time.perf_counter()
    corpus = load_corpus(folder, folder.name, read_manifest(folder, folder.name))
    figures = {"open_s": time.perf_counter() - started}
    corpus.nearest(0, 20)
    rows = np.random.default_rng(0).integers(0, len(corpus), 50)
    times = []
    for row in rows:
        started = time.perf_counter()
        corpus.nearest(int(row), 20)
        times.append(time.perf_counter() - started)
    figures["nearest_ms"] = 1000 * statistics.median(times)
    PAIRS._pairs.clear()
    cold, warm = [], []
    for row in rows[:20]:
        for store in (cold, warm):
            started = time.perf_counter()
            corpus.frames(int(row))
            store.append(time.perf_counter() - started)
    figures["frames_cold_ms"], figures["frames_warm_ms"] = 1000 * np.median(cold), 1000 * np.median(warm)
    return figures


def in_chromium(folders: list[Path], count: int, port: int) -> dict | None:
    """Each folder (a copy of one index, so that every opening reads its shards) opened in turn."""
    with headless_chromium() as browser:
        if browser is None:
            return None
        process, _ = start_app(None, port)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.set_default_timeout(120_000)
            page.goto(f"http://127.0.0.1:{port}/")
            open_tab(page, "Corpus")
            page.wait_for_function(MAP_DRAWN, arg=1380, polling=50)
            before = rss_mb(process.pid)
            answered, drawn = zip(*(_open(page, folder, count) for folder in folders))
            cold, warm = _hovers(page, count)
            after = rss_mb(process.pid)
        finally:
            process.terminate()
            process.wait(10)
    return {"answered_s": answered, "drawn_s": drawn, "hover_cold_ms": cold, "hover_warm_ms": warm,
            "rss_before_mb": before, "rss_after_mb": after}


def _open(page, folder: Path, count: int) -> tuple[float, float]:
    """Seconds from the Open click to the server's note on the page, and to the map drawn (the demo
    index is opened first, so that the map and note on the page are not already this index's)."""
    page.get_by_label("Index").fill("demo")
    page.get_by_role("button", name="Open").click()
    page.wait_for_function(MAP_DRAWN, arg=1380, polling=50)
    page.get_by_label("Index").fill(str(folder))
    started = time.perf_counter()
    page.get_by_role("button", name="Open").click()
    page.locator("#corpus-note").get_by_text(f"{folder.name}: {count:,} transitions of").wait_for()
    answered = time.perf_counter() - started
    page.wait_for_function(MAP_DRAWN, arg=count, polling=50)
    return answered, time.perf_counter() - started


POINT = """(row) => {
    const plot = document.querySelector('#corpus-map .js-plotly-plot'), box = plot.getBoundingClientRect();
    const x = plot._fullLayout.xaxis, y = plot._fullLayout.yaxis;
    for (const trace of plot._fullData) {
        const i = trace.customdata ? Array.prototype.indexOf.call(trace.customdata, row) : -1;
        if (i >= 0) return [box.left + x._offset + x.l2p(trace.x[i]), box.top + y._offset + y.l2p(trace.y[i])];
    }
    return null;
}"""


def _hovers(page, count: int, spots: int = 6) -> tuple[list[float], list[float]]:
    """Hover latencies (ms) over points spread through the index: first visits (cold), then each
    again (warm: the server read them; the page holds only the last)."""
    box = page.locator("#corpus-map .nsewdrag").first.bounding_box()
    places = [page.evaluate(POINT, row) for row in np.linspace(0, count - 1, spots).astype(int).tolist()]
    latencies = []
    for x, y in places + places[::-1][1:]:  # back again: the last is still on the page, so skip it
        seen = len(page.evaluate("window.dilaCorpusHoverMs"))
        page.mouse.move(box["x"] + 2, box["y"] + 2)
        page.mouse.move(x, y, steps=3)
        page.wait_for_function(f"() => window.dilaCorpusHoverMs.length > {seen}", polling=50)
        latencies.append(page.evaluate("window.dilaCorpusHoverMs")[-1])
    return latencies[:spots], latencies[spots:]


def run(count: int, tmp: Path, port: int) -> None:
    from dila.index.synthetic import make_synthetic_index

    folder = tmp / f"synthetic-{count}"
    started = time.perf_counter()
    make_synthetic_index(folder, count)
    print(f"synthetic index of {count:,} transitions written in {time.perf_counter() - started:.1f} s")
    figures = in_process(folder)
    print(f"in process: open (shards, PCA layout) {figures['open_s']:.2f} s; 20 nearest of {count:,}: median "
          f"{figures['nearest_ms']:.1f} ms (budget 50); a transition's frames: cold {figures['frames_cold_ms']:.1f} ms, "
          f"cached {figures['frames_warm_ms']:.3f} ms")
    copies = [folder] + [tmp / f"{folder.name}-copy{i}" for i in (1, 2)]
    for copy in copies[1:]:
        shutil.copytree(folder, copy)
    browser = in_chromium(copies, count, port)
    if browser is None:
        print("Chromium figures skipped: needs Chromium and the playwright package")
        return
    drawn, answered = browser["drawn_s"], browser["answered_s"]
    print(f"Chromium: Open -> map of {count:,} transitions drawn, {len(drawn)} openings: median {statistics.median(drawn):.2f} s "
          f"(max {max(drawn):.2f}, budget 2); the server's answer on the page after a median {statistics.median(answered):.2f} s")
    print(f"Chromium: hover -> frames on screen: cold median {statistics.median(browser['hover_cold_ms']):.0f} ms "
          f"(max {max(browser['hover_cold_ms']):.0f}, budget 500), warm median "
          f"{statistics.median(browser['hover_warm_ms']):.0f} ms (max {max(browser['hover_warm_ms']):.0f}, budget 150)")
    print(f"app memory: {browser['rss_before_mb']:.0f} MB with the demo index, {browser['rss_after_mb']:.0f} MB with "
          f"{count:,} transitions open: +{browser['rss_after_mb'] - browser['rss_before_mb']:.0f} MB (budget +500)")

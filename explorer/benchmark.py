"""Measure the app's budgets: `python -m explorer.benchmark [--model SOURCE]`.

- `python app.py` to a served page,
- a 10 s, 30 fps, 640x480 upload to its map, through gradio_client,
- slider -> frame (the `preview` endpoint) through gradio_client (`ssl_verify=False`: on plain
  http it only spares the client building a TLS context per request), median of many moves,
- the PCA map (projection, figure and its JSON) of 2,000 transitions, in process,
- in headless Chromium (when it and playwright are installed): the page opened to its demo
  library, map and steering drawn, and key press -> new frame on screen in Play (median).

`--corpus N`: instead, the corpus view's budgets on a synthetic index of N transitions
(`explorer.benchmark_corpus`).
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SMALL_SCREENS = ((1024, 768), (390, 844))


def long_clip(path: Path, seconds: float = 10, fps: int = 30) -> Path:
    """A camera pan as MJPG AVI (quick to write without system ffmpeg)."""
    from dila.data.procedural import render_clip, sample_scene

    scene = sample_scene(np.random.default_rng(0), "train", 240, camera=True)
    steps = int(seconds * fps) - 1
    actions = np.tile(np.array([[0.2, 0.1, 0, 0]], np.float32), (steps, 1))
    frames = render_clip(scene, actions, "camera").frames
    writer = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*"MJPG"), fps, (640, 480))
    for frame in frames:
        writer.write(cv2.resize(frame[..., ::-1], (640, 480)))
    writer.release()
    return path


def start_app(model: str | None, port: int) -> tuple[subprocess.Popen, float]:
    args = [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)] + (["--model", model] if model else [])
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while process.poll() is None:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).close()
            return process, time.perf_counter() - started
        except OSError:
            time.sleep(0.05)
    raise SystemExit("app.py exited before serving its page")


def pca_map_seconds(count: int = 2000, dim: int = 16) -> float:
    from explorer.figures import Marks, action_map, empty_figure
    from explorer.projection import build_map

    empty_figure()  # as the app does at start: plotly loads its template once

    actions = np.random.default_rng(0).normal(size=(count, dim)).astype(np.float32)
    clip_index, times = np.arange(count) // 31, np.arange(count) % 31
    names = [f"clip {i}" for i in range(clip_index.max() + 1)]
    started = time.perf_counter()
    amap = build_map(1, actions, clip_index, times, None, 10)
    action_map(amap, names, "clip", "pca", Marks()).to_json()
    return time.perf_counter() - started


def chromium_path() -> str | None:
    import shutil

    return os.environ.get("DILA_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def headless_chromium():
    """A headless Chromium (software WebGL), or None without Chromium or the playwright package."""
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        executable = None
    if not executable:
        yield None
        return
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable,
                                             args=["--headless=new", "--no-sandbox", "--disable-gpu"])
        try:
            yield browser
        finally:
            browser.close()


def open_tab(page, name: str) -> None:
    """Choose a tab of the work column, from its "More tabs" menu when the tab bar is full."""
    tab = page.get_by_role("tab", name=name)
    if tab.is_visible():
        tab.click()
    else:
        page.get_by_role("button", name="More tabs").click()
        page.locator(".overflow-dropdown").get_by_text(name, exact=True).click()


def chromium_figures(url: str, presses: int, shots: Path | None = None) -> tuple[float, list[float]] | None:
    """(seconds from opening the page to its demo library, map and steering drawn, milliseconds
    from each key press to its new frame on screen), or None without Chromium or playwright.
    With `shots`, the first view (at 1366x768 and SMALL_SCREENS) and the Play tab after the presses
    are saved there as PNG."""
    with headless_chromium() as browser:
        if browser is None:
            return None
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.set_default_timeout(60_000)
        started = time.perf_counter()
        page.goto(url)
        page.locator("#clip-gallery .dila-card").first.wait_for()
        page.locator("#action-map .scatterlayer .point").first.wait_for(state="attached")
        page.wait_for_function("() => [...document.querySelectorAll('#steer-frames img')]"
                               ".filter(img => img.complete && img.naturalWidth > 0).length === 2")
        page_s = time.perf_counter() - started
        if shots:
            page.screenshot(path=str(shots / "bundled_first_view.png"))
            for width, height in SMALL_SCREENS:
                page.set_viewport_size({"width": width, "height": height})
                page.wait_for_timeout(500)  # the layout settles
                page.screenshot(path=str(shots / f"bundled_first_view_{width}x{height}.png"))
            page.set_viewport_size({"width": 1366, "height": 768})
        page.get_by_role("tab", name="Play").click()
        page.get_by_role("button", name="Bind keys").click()
        page.locator("#player .dila-play-frame").wait_for()
        page.locator("body").click(position={"x": 5, "y": 5})
        for count in range(1, presses + 1):
            page.keyboard.down("1")  # every key has its digit; arrows only where the move has that direction
            page.wait_for_function(f"() => (window.dilaPlayLatencies || []).length >= {count}")
            page.keyboard.up("1")
        if shots:
            page.screenshot(path=str(shots / "bundled_play.png"))
        return page_s, page.evaluate("window.dilaPlayLatencies")[:presses]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--moves", type=int, default=40)
    parser.add_argument("--presses", type=int, default=20)
    parser.add_argument("--screenshots", type=Path, default=None, help="save the Chromium views here as PNG")
    parser.add_argument("--corpus", type=int, default=None, metavar="N",
                        help="measure only the corpus view, on a synthetic index of N transitions")
    options = parser.parse_args(argv)
    from gradio_client import Client, handle_file

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    if options.corpus:
        from explorer.benchmark_corpus import run

        with tempfile.TemporaryDirectory() as tmp:
            run(options.corpus, Path(tmp), port)
        print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        return
    with tempfile.TemporaryDirectory() as tmp:
        clip = long_clip(Path(tmp) / "ten_seconds.avi")
        process, start_s = start_app(options.model, port)
        try:
            client = Client(f"http://127.0.0.1:{port}/", verbose=False, ssl_verify=False)
            started = time.perf_counter()
            client.predict([handle_file(clip)], api_name="/add_clips")
            client.predict("clip", "auto", api_name="/action_map")
            upload_s = time.perf_counter() - started
            values = client.predict("c1", 0, api_name="/steer_start")[3:]
            moves = []
            for i in range(options.moves):
                started = time.perf_counter()
                client.predict(values[0] + 0.05 * (i % 20), *values[1:], api_name="/preview")
                moves.append(time.perf_counter() - started)
            browser = chromium_figures(f"http://127.0.0.1:{port}/", options.presses, options.screenshots)
        finally:
            process.terminate()
            process.wait(10)
    print(f"app start to served page (demo library ready): {start_s:.2f} s (budget 10)")
    if browser is None:
        print("Chromium figures skipped: needs Chromium and the playwright package")
    else:
        print(f"Chromium: page opened to demo library, map and steering drawn: {browser[0]:.2f} s")
        print(f"Chromium: key press -> new frame on screen: median {statistics.median(browser[1]):.0f} ms, "
              f"p90 {np.percentile(browser[1], 90):.0f} ms over {len(browser[1])} presses (budget 150)")
    print(f"10 s 30 fps upload to map: {upload_s:.2f} s (budget 3)")
    print(f"slider -> frame through gradio_client: median {1000 * statistics.median(moves):.0f} ms, "
          f"p90 {1000 * np.percentile(moves, 90):.0f} ms (budget 80)")
    print(f"PCA map of 2,000 transitions: first {pca_map_seconds():.3f} s, then {pca_map_seconds():.3f} s (budget 0.5)")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()

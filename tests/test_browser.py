"""The app in a real browser: headless Chromium (Debian's `/usr/bin/chromium`, driven by the
Python `playwright` package) uses the page as a person would.

The suite's one app process (`app` in conftest: public mode, tiny random model, 127.0.0.1) and
one browser, a fresh context per test: upload two clips through the
file input, steer from a frame and move sliders (number box and range handle), drag clip cards
from the library onto the transfer drop zones (HTML5 drag and drop, real DOM events) and play
the transfer's result. Screenshots of each stage go to `runs/screenshots/` (or
$DILA_SCREENSHOTS); `tests/screenshots/` keeps a reviewed set. Every request of the page must stay on
the app's own 127.0.0.1 address.

Skipped when Chromium or playwright is missing, unless $CI is set: then that is a failure.
Chromium: $DILA_CHROMIUM, else `chromium` / `chromium-browser` on the PATH (Debian: `apt-get
install chromium`). Playwright's own browser download (`playwright install`) is not needed.
"""
import base64
import io
import os
import re
import time
from pathlib import Path
from urllib.parse import urljoin

import numpy as np
import pytest
from helpers import BROWSER_WAIT_MS
from PIL import Image

from explorer.benchmark import open_tab as choose_tab
from explorer.benchmark_corpus import MAP_DRAWN, POINT
from explorer.services import DEMO

try:
    from playwright.sync_api import expect
except ImportError:  # checked in the `chromium` fixture
    expect = None

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
SHOTS = Path(os.environ.get("DILA_SCREENSHOTS") or Path(__file__).parent.parent / "runs" / "screenshots")
WAIT_MS = BROWSER_WAIT_MS
UMAP_WAIT_MS = 120_000  # a first UMAP fit in the app's worker: about 20 s on 2 idle cores (numba compiles)
VIEWPORT = {"width": 1280, "height": 1024}
if expect is not None:
    expect.set_options(timeout=WAIT_MS)
SHOT_COLOURS = 128  # screenshots are committed: a 128-colour palette keeps each near 50 KB


@pytest.fixture(scope="module")
def server(app) -> str:
    return app.url


@pytest.fixture
def page(browser, server, tmp_path):
    """A fresh browser page (its own context) that may only reach the app; `page.foreign` lists
    what it tried elsewhere."""
    origin = server.rstrip("/")
    foreign = []
    context = browser.new_context(viewport=VIEWPORT, service_workers="block")
    context.set_default_timeout(WAIT_MS)

    def refuse(route):
        foreign.append(route.request.url)
        route.abort()

    # Only requests that are not the app's reach Python; the app's go straight through.
    context.route(re.compile(rf"^(?!{re.escape(origin)}(/|$))[a-z]+://"), refuse)
    page = context.new_page()
    page.foreign = foreign
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("websocket", lambda socket: socket.url.startswith(origin.replace("http", "ws", 1))
            or foreign.append(socket.url))
    try:
        yield page
    finally:  # the last state, for a failure (a tmp dir: the committed screenshots stay as they are)
        try:
            page.screenshot(path=tmp_path / "last.png", timeout=5_000)
            print(f"last page state: {tmp_path / 'last.png'}")
        except Exception as error:  # never hide the test's own error
            print(f"no screenshot of the last page state: {error}")
        context.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    image = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    image.quantize(SHOT_COLOURS, method=Image.Quantize.MEDIANCUT).save(SHOTS / name, optimize=True)


def block(page, label: str):
    """A component by its label (the block holding that label text)."""
    return page.locator(".block").filter(has=page.get_by_test_id("block-label").filter(has_text=label))


def image_pixels(page, image) -> tuple[str, np.ndarray]:
    """The image's src and its pixels, as the app serves them."""
    src = image.get_attribute("src")
    url = urljoin(page.url, src)
    assert url.startswith(page.url.rstrip("/") + "/"), url
    response = page.request.get(url)
    assert response.ok, f"{src}: {response.status}"
    return src, np.asarray(Image.open(io.BytesIO(response.body())).convert("RGB"), dtype=np.float32)


def differ(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two frames, in grey levels (0 to 255)."""
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a - b).mean())


def test_upload_steer_and_drag_clips_to_transfer(page, server):
    started = time.perf_counter()
    page.goto(server)
    expect(page.get_by_role("heading", name="DiLA explorer")).to_be_visible()
    gallery = page.locator("#clip-gallery")
    cards = gallery.locator(".dila-card[data-clip-id]")
    expect(cards).to_have_count(len(DEMO))  # the demo library

    # Upload two example clips through the file input, as a file chooser would.
    page.locator("input[type=file][data-testid=file-upload]").first.set_input_files(
        [ASSETS / "pair_motion.webm", ASSETS / "pair_appearance.webm"])
    expect(cards).to_have_count(len(DEMO) + 2)
    motion_card, appearance_card = cards.nth(len(DEMO)), cards.nth(len(DEMO) + 1)
    expect(motion_card).to_have_attribute("draggable", "true")
    expect(motion_card).to_contain_text("pair_motion")
    expect(appearance_card).to_contain_text("pair_appearance")
    expect(page.get_by_text("Added pair_motion, pair_appearance.")).to_be_visible()
    # The upload's follow-ups: the map draws the library's transitions (not the empty figure).
    expect(page.locator(".js-plotly-plot .scatterlayer .trace").first).to_be_attached()
    for card in cards.all():  # thumbnails decoded (data URIs)
        assert card.locator("img").evaluate("img => img.complete && img.naturalWidth > 0")
    shot(page, "01_library.png")
    upload_s = time.perf_counter() - started

    # Steer: pick the clip and a frame, start, then move sliders and watch the live frame.
    page.get_by_role("tab", name="Steer").click()
    page.get_by_label("Start in clip").click()
    page.get_by_role("option", name="pair_motion (c5)").click()
    frame_box = page.get_by_label("number input for at frame")
    expect(page.get_by_label("range slider for at frame")).not_to_have_attribute("max", "31")  # the clip's range came
    frame_box.fill("3")
    frame_box.press("Tab")
    current = block(page, "current frame").locator("img")
    preview = block(page, "next frame (live)").locator("img")
    expect(preview).to_have_attribute("src", re.compile(r"/gradio_api/file="))  # the first view's steering run
    first_run = preview.get_attribute("src")
    page.get_by_role("button", name="Start from this frame").click()
    expect(current).to_have_attribute("src", re.compile(r"/gradio_api/file="))
    expect(preview).not_to_have_attribute("src", first_run)
    expect(page.get_by_text(re.compile(r"\(cosine [-\d.]+\) and is \d+% off in size"))).to_be_visible()
    box = page.get_by_label("number input for Direction 1 (σ)")
    expect(box).not_to_have_value("0")  # the inferred action's coordinates came back
    src_before, before = image_pixels(page, preview)
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=preview.element_handle(), timeout=WAIT_MS)
    shot(page, "02_steer_before.png")

    steer_started = time.perf_counter()
    pc1 = float(box.input_value())
    box.fill(f"{-3.0 if pc1 > 0 else 3.0:g}")  # typing fires the slider's input event -> /preview
    expect(preview).not_to_have_attribute("src", src_before)
    src_typed, typed = image_pixels(page, preview)
    typed_change = differ(typed, before)
    assert typed_change > 0, "the generated frame did not change when PC1 was typed in"
    steer_s = time.perf_counter() - steer_started

    # Drag PC2's range handle with the mouse to its right end: pointer events, input events.
    pc2 = page.get_by_label("range slider for Direction 2 (σ)")
    area = pc2.bounding_box()
    page.mouse.move(area["x"] + area["width"] / 2, area["y"] + area["height"] / 2)
    page.mouse.down()
    page.mouse.move(area["x"] + area["width"] - 2, area["y"] + area["height"] / 2, steps=5)
    page.mouse.up()
    expect(page.get_by_label("number input for Direction 2 (σ)")).to_have_value(re.compile(r"^[1-5](\.\d+)?$"))
    expect(preview).not_to_have_attribute("src", src_typed)
    _, dragged = image_pixels(page, preview)
    dragged_change = differ(dragged, typed)
    assert dragged_change > 0, "the generated frame did not change when PC2 was dragged"
    page.locator("body").click(position={"x": 5, "y": 5})  # settle focus before the screenshot
    shot(page, "03_steer_after.png")

    # Transfer: drag the cards onto the two drop zones (HTML5 drag and drop in the page).
    page.get_by_role("tab", name="Transfer").click()
    motion_zone = page.locator("#drop-motion [data-drop-role=motion]")
    appearance_zone = page.locator("#drop-appearance [data-drop-role=appearance]")
    expect(motion_zone.locator(".dila-card[data-clip-id=c3]")).to_be_visible()  # the demo pair, at first
    motion_card.drag_to(motion_zone)
    expect(motion_zone.locator(".dila-card[data-clip-id=c5]")).to_be_visible()
    # The second by hand: press on the card, move over the zone (it lights up), release.
    start, end = appearance_card.bounding_box(), appearance_zone.bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=8)
    expect(appearance_zone).to_have_class(re.compile(r"\bdila-drop-over\b"))
    page.mouse.up()
    expect(appearance_zone.locator(".dila-card[data-clip-id=c6]")).to_be_visible()
    expect(appearance_zone).not_to_have_class(re.compile(r"\bdila-drop-over\b"))
    expect(page.get_by_label("Motion from")).to_have_value("pair_motion (c5)")
    expect(page.get_by_label("Apply to")).to_have_value("pair_appearance (c6)")
    expect(cards).to_have_count(len(DEMO) + 2)  # dragging copies: the library keeps its clips

    page.get_by_role("button", name="Transfer", exact=True).click()
    video = block(page, "motion | appearance | result").locator("video")
    expect(video).to_have_attribute("src", re.compile(r"\.webm"))
    expect(page.get_by_text(re.compile(r"Motion of pair_motion .* applied to pair_appearance"))).to_be_visible()
    # Chromium decodes it: metadata read, three panels side by side.
    page.wait_for_function("v => v.readyState >= 2 && v.videoWidth > 0", arg=video.element_handle(), timeout=WAIT_MS)
    width, height = video.evaluate("v => [v.videoWidth, v.videoHeight]")
    assert width > 2 * height, (width, height)
    video.evaluate("v => { v.pause(); v.currentTime = v.duration / 2; }")  # a frame with motion in it
    page.wait_for_function("v => !v.seeking && v.readyState >= 2", arg=video.element_handle(), timeout=WAIT_MS)
    shot(page, "04_transfer.png")

    assert page.errors == [], page.errors
    assert page.foreign == [], f"the page tried to leave 127.0.0.1: {page.foreign}"
    print(f"frame change (mean |diff|, grey levels): typed PC1 {typed_change:.1f}, dragged PC2 {dragged_change:.1f}")
    print(f"upload + map {upload_s:.1f} s, slider -> new frame {steer_s:.2f} s, "
          f"whole browser test {time.perf_counter() - started:.1f} s")


def first_view(page, server):
    """The page once its first view is complete: demo library, map drawn, steering started."""
    page.goto(server)
    expect(page.get_by_role("button", name="Use the new layout")).to_be_hidden()
    expect(page.locator("#clip-gallery .dila-card[data-clip-id]")).to_have_count(len(DEMO))
    expect(page.locator("#action-map .scatterlayer .trace .point").first).to_be_attached()
    expect(page.locator("#live-frame img")).to_have_attribute("src", re.compile(r"/gradio_api/file="))
    expect(page.locator("#action-map .legendtext", has_text="current action")).to_be_visible()  # the map's last redraw


def move_onto(page, tip, where) -> tuple[float, float]:
    """Move the pointer onto the point at `where()` until `tip` shows, as a person would: again
    while the map does not answer. Returns where the pointer rests."""
    for _ in range(20):
        x, y = where()
        page.mouse.move(x - 30, y - 30)
        page.mouse.move(x, y, steps=4)
        if tip.is_visible():
            break
        time.sleep(0.5)
    expect(tip).to_be_visible()
    return x, y


def open_tab(page, name: str) -> None:
    """Choose a tab of the work column, from its "More tabs" menu when the tab bar is full."""
    choose_tab(page, name)
    expect(page.get_by_role("tab", name=name, selected=True)).to_be_visible()


def map_point(page, index: int = 3):
    point = page.locator("#action-map .scatterlayer .trace").first.locator(".point").nth(index)
    box = point.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_first_view_holds_the_demo_library_map_steering_and_quality(page, server):
    started = time.perf_counter()
    first_view(page, server)
    ready_s = time.perf_counter() - started
    expect(page.get_by_text("Started with 4 example clips")).to_be_visible()
    expect(page.locator("#intro")).to_contain_text("Hover")
    expect(page.locator(".dila-quality").first).to_contain_text("Model quality: not evaluated")
    title = re.compile(r"direction 1 in σ \(\d+(\.\d)?% of the actions' spread\)")
    expect(page.locator("#action-map .xtitle")).to_contain_text(title)
    shot(page, "05_first_view.png")
    assert page.errors == [] and page.foreign == []
    print(f"page opened to demo library, map and steering ready: {ready_s:.1f} s")


def test_hover_shows_frames_and_click_chooses_the_transition(page, server):
    first_view(page, server)
    # PCA chosen: in "auto" the background UMAP fit's note redraws the map when it is ready, which
    # could fall between the hover and the click.
    page.get_by_role("radio", name="pca").check()
    expect(page.locator("#map-note")).to_have_text("")
    tip = page.locator("#dila-map-tip")
    x, y = move_onto(page, tip, lambda: map_point(page))
    expect(tip).to_contain_text(re.compile(r"frames \d+ → \d+"))
    frames = tip.locator(".dila-tip-frame")
    expect(frames).to_have_count(2)
    assert all("data:image/png;base64" in f.evaluate("e => getComputedStyle(e).backgroundImage") for f in frames.all())
    t = int(re.search(r"frames (\d+) →", tip.inner_text()).group(1))
    positions = [f.evaluate("e => e.style.backgroundPosition") for f in frames.all()]
    assert positions == [f"-{96 * t}px 0px", f"-{96 * (t + 1)}px 0px"], positions  # frames t and t+1 of the strip
    shot(page, "06_map_hover.png")

    page.mouse.click(x, y)
    expect(tip).to_be_hidden()
    expect(page.get_by_label("number input for frame t → t+1")).to_have_value(str(t))
    expect(page.get_by_label("number input for at frame")).to_have_value(str(t))
    for name in ("frame-t", "frame-t1", "predicted"):
        expect(page.locator(f"#{name} img")).to_have_attribute("src", re.compile(r"/gradio_api/file="))
    expect(page.locator("#action-map .legendtext", has_text="chosen transition")).to_be_visible()
    expect(page.locator("#action-map .legendtext", has_text="current action")).to_be_visible()
    shot(page, "07_map_click.png")
    assert page.errors == [] and page.foreign == []


def test_the_new_layout_button_shows_only_while_a_new_layout_waits(page, server):
    """The first view's steering run counts as using the map: its background UMAP fit waits
    for the user (note and button), and the button switches the map to it."""
    first_view(page, server)
    note, adopt = page.locator("#map-note"), page.get_by_role("button", name="Use the new layout")
    expect(note).to_contain_text("A new UMAP layout is ready", timeout=UMAP_WAIT_MS)
    expect(adopt).to_be_visible()
    expect(page.locator("#action-map .xtitle")).to_contain_text("direction 1")
    adopt.click()
    expect(page.locator("#action-map .xtitle")).to_contain_text("UMAP 1")
    expect(adopt).to_be_hidden()
    expect(note).not_to_contain_text("A new UMAP layout is ready")
    assert page.errors == [] and page.foreign == []


def test_removing_a_clip_clears_it_from_every_view_and_failures_replace_the_status(page, server, tmp_path):
    first_view(page, server)
    page.get_by_role("tab", name="Transfer").click()
    motion_zone = page.locator("#drop-motion [data-drop-role=motion]")
    expect(motion_zone.locator(".dila-card[data-clip-id=c3]")).to_be_visible()  # the demo pair is picked
    expect(page.get_by_label("Motion from")).to_have_value("pair_motion (c3)")
    page.get_by_label("Clip to remove").click()
    page.get_by_role("option", name="pair_motion (c3)").click()
    page.get_by_role("button", name="Remove").click()
    expect(page.get_by_text("Removed pair_motion.")).to_be_visible()
    expect(page.locator("#clip-gallery .dila-card[data-clip-id]")).to_have_count(len(DEMO) - 1)
    expect(motion_zone).to_contain_text("Drag a clip from the library here")
    expect(page.get_by_label("Motion from")).to_have_value("")
    page.get_by_label("Motion from").click()
    expect(page.get_by_role("option", name="pair_motion (c3)")).to_have_count(0)
    page.keyboard.press("Escape")
    shot(page, "08_removed.png")

    (tmp_path / "notes.mp4").write_text("not a video")
    page.locator("input[type=file][data-testid=file-upload]").first.set_input_files(tmp_path / "notes.mp4")
    status = page.locator("#library-status")
    expect(status).to_contain_text("⚠️", timeout=WAIT_MS)
    expect(status).to_contain_text("not a video")
    expect(status).not_to_contain_text("Removed")
    assert page.errors == [] and page.foreign == []


@pytest.mark.parametrize("width, height", [(1366, 768), (1024, 768), (390, 844)])
def test_the_live_frame_stays_in_view_while_the_sliders_move(page, server, width, height):
    page.set_viewport_size({"width": width, "height": height})
    first_view(page, server)
    live = page.locator("#live-frame img")
    for index in (1, 5):
        box = page.get_by_label(f"number input for Direction {index} (σ)")
        box.scroll_into_view_if_needed()
        before = live.get_attribute("src")
        box.fill("2.5" if box.input_value() != "2.5" else "-2.5")
        expect(live).not_to_have_attribute("src", before)
        frame = live.bounding_box()
        assert frame["y"] >= 0 and frame["y"] + frame["height"] <= height, (index, frame)
        assert frame["x"] >= 0 and frame["x"] + frame["width"] <= width, (index, frame)
    shot(page, f"09_layout_{width}x{height}.png")
    overflow = page.evaluate("document.documentElement.scrollWidth") - width
    assert overflow <= 1, f"the page scrolls sideways by {overflow} px"
    assert page.errors == [] and page.foreign == []


def test_keyboard_play_changes_the_served_frame(page, server):
    first_view(page, server)
    page.get_by_role("tab", name="Play").click()
    page.get_by_role("button", name="Bind keys").click()
    frame = page.locator("#player .dila-play-frame")
    expect(frame).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    expect(page.locator("#player [data-play-key]")).to_have_count(6)
    expect(page.locator("#player [data-play-key]").first).to_contain_text("1")
    first = frame.get_attribute("src")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.down("2")
    page.wait_for_function("() => (window.dilaPlayLatencies || []).length >= 3", timeout=WAIT_MS)
    page.keyboard.up("2")
    expect(frame).not_to_have_attribute("src", first)
    status = page.locator("#player .dila-play-status")
    expect(status).to_contain_text(re.compile(r"\d+ frames in this run"))
    played = int(re.search(r"(\d+) frames", status.inner_text()).group(1))
    assert played >= 4, played  # the start frame and at least three played ones
    page.keyboard.press("5")
    expect(status).to_contain_text(f"{played + 1} frames in this run")
    page.get_by_role("button", name="Save the played run (WebM)").click()
    expect(block(page, "played run").locator("video")).to_have_attribute("src", re.compile(r"\.webm"))
    latencies = page.evaluate("window.dilaPlayLatencies")
    shot(page, "10_play.png")
    assert page.errors == [] and page.foreign == []
    print(f"key press -> new frame on screen: median {np.median(latencies):.0f} ms over {len(latencies)} frames")


def test_a_failed_load_says_why_in_the_status_and_leaves_no_error_badge(page, server, app):
    first_view(page, server)
    open_tab(page, "Model")
    page.get_by_label("Model source").fill("nobody/no-such-model")
    page.get_by_role("button", name="Load", exact=True).click()
    status = page.locator("#library-status")
    expect(status).to_contain_text("⚠️ Could not load the model")
    expect(page.locator("#main-row [data-testid=status-tracker] .error")).to_have_count(0)
    assert "ComponentProcessingError" not in app.log.read_text()
    assert page.errors == [] and page.foreign == []


def test_a_reload_brings_the_steering_run_back(page, server):
    first_view(page, server)
    frame_box = page.get_by_label("number input for at frame")
    frame_box.fill("5")
    frame_box.press("Tab")
    page.get_by_label("Start in clip").click()
    page.get_by_role("option", name="rotation (c2)").click()
    expect(frame_box).to_have_value("0")  # the new clip's range came (it sets frame 0): a frame typed now stays
    frame_box.fill("3")
    frame_box.press("Tab")
    expect(frame_box).to_have_value("3")
    current, preview = block(page, "current frame").locator("img"), page.locator("#live-frame img")
    first_run = preview.get_attribute("src")
    page.get_by_role("button", name="Start from this frame").click()
    expect(preview).not_to_have_attribute("src", first_run)  # the new run's frames came
    before = current.get_attribute("src")
    page.get_by_role("button", name="Step", exact=True).click()
    expect(current).not_to_have_attribute("src", before)
    _, stepped = image_pixels(page, current)
    page.reload()
    expect(page.locator("#action-map .legendtext", has_text="current action")).to_be_visible()
    expect(page.get_by_label("Start in clip")).to_have_value("rotation (c2)")
    expect(frame_box).to_have_value("3")
    expect(current).to_have_attribute("src", re.compile(r"/gradio_api/file="))
    assert differ(image_pixels(page, current)[1], stepped) == 0  # the frame the run had reached
    assert page.errors == [] and page.foreign == []


def test_plan_starts_with_a_goal_apart_from_the_start_within_the_clip(page, server):
    first_view(page, server)
    page.get_by_role("tab", name="Plan").click()
    start, goal = page.get_by_label("range slider for frame", exact=True).all()
    last = goal.get_attribute("max")
    assert last != "31" and start.get_attribute("max") == last and int(last) > 0
    expect(page.get_by_label("number input for frame", exact=True).last).to_have_value(last)
    expect(page.get_by_label("number input for frame", exact=True).first).to_have_value("0")
    page.get_by_role("button", name="Plan", exact=True).click()
    note = page.get_by_text(re.compile(r"planned actions the last frame"))
    expect(note).to_be_visible()
    assert "already is the goal" not in note.inner_text() and "UMAP" not in note.inner_text()
    assert page.errors == [] and page.foreign == []


def test_ids_are_unique_and_screen_readers_hear_no_untranslated_keys(page, server):
    page.add_init_script("""window.dilaHeard = []; new MutationObserver(changes => changes.forEach(change => {
        const text = change.target.textContent || ''; if (text.includes('common.')) window.dilaHeard.push(text); }))
        .observe(document, {subtree: true, childList: true, characterData: true});""")
    first_view(page, server)
    page.get_by_role("tab", name="Play").click()
    page.get_by_role("button", name="Bind keys").click()
    expect(page.locator("#player .dila-play-frame")).to_be_visible()
    expect(page.locator("[id=steer-frames]")).to_have_count(1)
    time.sleep(1.5)  # a status is announced up to a second after its event
    assert page.evaluate("window.dilaHeard") == []
    assert page.errors == [] and page.foreign == []


@pytest.mark.parametrize("width, height", [(1024, 768), (390, 844)])
def test_the_first_screen_shows_the_live_frame_and_a_slider_and_nothing_covers_the_message(page, server, width, height):
    page.set_viewport_size({"width": width, "height": height})
    first_view(page, server)
    for element in (page.locator("#live-frame img"), page.get_by_label("number input for Direction 1 (σ)")):
        box = element.bounding_box()
        assert 0 <= box["y"] and box["y"] + box["height"] <= height, box  # on the first screen, unscrolled
    page.get_by_label("number input for Direction 5 (σ)").scroll_into_view_if_needed()
    readout = page.locator("#steer-readout")
    box = readout.bounding_box()
    assert box["y"] >= 0, box
    on_top = page.evaluate("([x, y]) => !!document.elementFromPoint(x, y).closest('#steer-readout')",
                           [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
    assert on_top, "the steering message is covered"
    assert page.errors == [] and page.foreign == []


JARGON = ("Horizon (actions)", "k-means", "group's centre", "of the variance", "by spread", "linear probe",
          "8-step rollout", "px ->", "-d latent", "in the model's tokens) went from", "Roll out N")
EXPLAINED = ("σ = one typical step", "umap: similar actions drawn close together", "magnitude: how big the action is",
             "the change from frame t to the next frame", "each is a short list of numbers for the change",
             "Cosine compares directions", "Steps to roll out", "how many actions the plan may take")
"""The model card's words (dB, what the model does well and not) need an eval.json: test_space_and_words."""


def test_the_page_explains_its_terms(page, server):
    first_view(page, server)
    texts = [page.locator("body").inner_text()]
    for tab in ("Plan", "Model", "Play"):
        open_tab(page, tab)
        texts.append(page.locator("body").inner_text())
    text = "\n".join(texts)
    assert [term for term in JARGON if term in text] == []
    assert [words for words in EXPLAINED if words not in text] == []
    label = page.locator("#direction-strip [data-testid=block-label]")
    assert label.count() == 0 or not label.is_visible()  # nothing drawn over the strip's top row
    assert page.errors == [] and page.foreign == []


def test_the_hover_tip_never_names_a_point_the_pointer_left(page, server):
    first_view(page, server)
    page.get_by_role("radio", name="pca").check()
    expect(page.locator("#map-note")).to_have_text("")
    points = page.locator("#action-map .scatterlayer .trace .point")
    centres = []
    for point in points.all():
        box = point.bounding_box()
        centres.append((box["x"] + box["width"] / 2, box["y"] + box["height"] / 2))
    centres = np.array(centres)
    gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1) + np.eye(len(centres)) * 1e9
    x, y = centres[int(gaps.min(axis=1).argmax())]  # the most isolated point: nothing else within reach
    tip = page.locator("#dila-map-tip")
    move_onto(page, tip, lambda: (x, y))
    page.mouse.move(x + 15, y)  # one fast move off the point, still within plotly's hover distance
    expect(tip).to_be_hidden()
    assert page.errors == [] and page.foreign == []


def test_a_clip_faded_in_from_black_shows_a_frame_with_content_and_a_reload_counts_no_upload_as_example(
        page, server, tmp_path):
    from dila.data.procedural import sample_clip
    from dila.video import write_video

    frames = sample_clip(np.random.default_rng(3), "train", "translate", frames=6, size=64).frames.copy()
    frames[0] = 0
    path = write_video(frames, tmp_path / "fade_in.webm", fps=8)
    first_view(page, server)
    page.locator("input[type=file][data-testid=file-upload]").first.set_input_files(path)
    card = page.locator("#clip-gallery .dila-card[data-clip-id]").filter(has_text="fade_in")
    expect(card).to_have_count(1)
    thumbnail = card.locator("img").get_attribute("src")
    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(thumbnail.split(",", 1)[1]))).convert("L"))
    assert pixels.mean() > 20, pixels.mean()  # not the black first frame
    page.reload()
    expect(page.locator("#library-status")).to_contain_text(f"Your library is back ({len(DEMO) + 1} clips)")
    expect(page.locator("#library-status")).not_to_contain_text("example clips")
    assert page.errors == [] and page.foreign == []


def test_an_upload_keeps_the_pca_layout_until_the_user_asks_for_umap(page, server):
    first_view(page, server)  # the steering run uses the PCA map, so its UMAP fit waits for the user
    note, title = page.locator("#map-note"), page.locator("#action-map .xtitle")
    points = page.locator("#action-map .scatterlayer .trace .point")
    expect(note).to_contain_text("A new UMAP layout is ready", timeout=UMAP_WAIT_MS)
    before = points.count()
    page.locator("input[type=file][data-testid=file-upload]").first.set_input_files(ASSETS / "scaling.webm")
    expect(page.locator("#clip-gallery .dila-card[data-clip-id]")).to_have_count(len(DEMO) + 1)
    expect(points).not_to_have_count(before)  # the new library's map (its UMAP fit may already be done)
    assert points.count() > before
    expect(note).to_contain_text("A new UMAP layout is ready", timeout=UMAP_WAIT_MS)
    expect(title).to_contain_text("direction 1 in σ")  # still PCA: not switched by itself
    assert page.errors == [] and page.foreign == []


def open_corpus(page, server):
    """The Corpus tab with the demo index drawn (every point in the map's WebGL trace)."""
    page.goto(server)
    open_tab(page, "Corpus")
    expect(page.locator("#corpus-note")).to_contain_text("1,380 transitions of 60 clips")
    page.wait_for_function(MAP_DRAWN, arg=1380)


def corpus_point(page, row: int) -> tuple[float, float]:
    """Where a corpus row's point is on screen."""
    return tuple(page.evaluate(POINT, row))


def isolated_row(page) -> int:
    """The row whose point has no other within 6 px, so the pointer finds it."""
    return page.evaluate("""() => {
        const plot = document.querySelector('#corpus-map .js-plotly-plot');
        const x = plot._fullLayout.xaxis, y = plot._fullLayout.yaxis, px = [], py = [], rows = [];
        for (const trace of plot._fullData.filter((t) => t.customdata)) {
            trace.customdata.forEach((row, i) => { rows.push(row); px.push(x.l2p(trace.x[i])); py.push(y.l2p(trace.y[i])); });
        }
        let best = 0, bestGap = -1;
        for (let i = 0; i < px.length; i += 1) {
            let gap = Infinity;
            for (let j = 0; j < px.length; j += 1) if (j !== i) gap = Math.min(gap, Math.hypot(px[i] - px[j], py[i] - py[j]));
            if (gap > bestGap && px[i] > 20 && py[i] > 20) { best = rows[i]; bestGap = gap; }
        }
        return best;
    }""")


def hover_corpus(page, row: int):
    tip = page.locator("#dila-corpus-tip")
    x, y = move_onto(page, tip, lambda: corpus_point(page, row))
    expect(tip.locator("img")).to_have_count(2)
    return tip, (x, y)


def test_corpus_opens_the_demo_index_hover_shows_frames_click_steers_and_finds_similar_motions(page, server):
    started = time.perf_counter()
    open_corpus(page, server)
    open_s = time.perf_counter() - started
    expect(page.locator("#corpus-note")).to_contain_text("not with the app's model")  # the suite's tiny model
    shot(page, "11_corpus_open.png")
    row = isolated_row(page)
    tip, (x, y) = hover_corpus(page, row)
    expect(tip).to_contain_text(re.compile(r"frames \d+ → \d+"))
    assert all("data:image/png;base64" in img.get_attribute("src") for img in tip.locator("img").all())
    shot(page, "12_corpus_hover.png")

    page.mouse.click(x, y)
    expect(tip).to_be_hidden()
    similar = page.locator("#corpus-similar .dila-pair")
    expect(similar).to_have_count(12)
    expect(page.locator("#corpus-similar")).to_contain_text("distance")
    expect(page.locator("#corpus-map .legendtext", has_text="chosen transition")).to_be_visible()
    expect(page.locator("#library-status")).to_contain_text("Steering starts at its frame")
    expect(page.locator("#clip-gallery .dila-card[data-clip-id]")).to_have_count(len(DEMO) + 1)
    expect(page.locator("#live-frame img")).to_have_attribute("src", re.compile(r"/gradio_api/file="))
    page.locator("#corpus-similar").scroll_into_view_if_needed()
    shot(page, "13_corpus_similar.png")
    assert page.errors == [] and page.foreign == []
    print(f"corpus tab: demo index drawn {open_s:.1f} s after the page opened; hover latencies "
          f"{page.evaluate('window.dilaCorpusHoverMs')} ms")


def test_corpus_lasso_shows_the_selection_and_exports_its_rows(page, server, tmp_path):
    open_corpus(page, server)
    box = page.locator("#corpus-map .nsewdrag").first.bounding_box()
    cx, cy, r = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, min(box["width"], box["height"]) / 4
    page.mouse.move(cx - r, cy - r)
    page.mouse.down()
    for angle in np.linspace(0, 2 * np.pi, 24):
        page.mouse.move(cx + r * np.cos(angle) - r, cy + r * np.sin(angle), steps=2)
    page.mouse.up()
    note = page.locator("#corpus-selection-note")
    expect(note).to_contain_text(re.compile(r"[\d,]+ transitions of \d+ clips selected"))
    expect(page.locator("#corpus-grid .dila-pair img").first).to_be_visible()
    page.locator("#corpus-grid").scroll_into_view_if_needed()
    shot(page, "14_corpus_lasso.png")
    selected = int(re.search(r"([\d,]+) transitions", note.inner_text()).group(1).replace(",", ""))
    page.get_by_role("radio", name="CSV").check()
    page.get_by_role("button", name="Export the rows").click()
    link = page.locator("#corpus-export a").first
    expect(link).to_have_attribute("href", re.compile(r"corpus-\d+\.csv"))
    response = page.request.get(urljoin(page.url, link.get_attribute("href")))
    assert response.ok and response.text().count("\n") == selected + 1
    assert page.errors == [] and page.foreign == []

"""The app restarted under the same browser: the page finds its saved session again (headless
Chromium, as in test_browser); bad goal images get our own sentence through the API. Both on
the suite's `app` (public mode), which the first test restarts."""
import json
import time

import pytest
from gradio_client import Client, handle_file
from helpers import BROWSER_WAIT_MS
from PIL import Image
from test_app import refused
from test_browser import first_view


def vm_peak_mb(pid: int, field: str = "VmHWM") -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(field)


def reopen(page, url: str, tries: int = 3) -> None:
    """Open the app again in the same tab. After a restart the page may be navigating by itself (its
    reconnect), which aborts a navigation of ours (net::ERR_ABORTED): then try again."""
    from playwright.sync_api import Error

    for attempt in range(tries):
        try:
            page.goto(url)
            return
        except Error as error:
            if "ERR_ABORTED" not in str(error) or attempt == tries - 1:
                raise
            time.sleep(0.5)


def saved_states(root):
    return sorted(root.glob("*/state/state.json"))


def test_a_restarted_app_gives_the_same_browser_its_library_back(app, browser):
    page = browser.new_context().new_page()
    page.set_default_timeout(BROWSER_WAIT_MS)
    before = set(saved_states(app.state_dir))
    first_view(page, app.url)  # complete: nothing more is saved until the page is used
    deadline = time.monotonic() + 30
    while not set(saved_states(app.state_dir)) - before and time.monotonic() < deadline:
        time.sleep(0.2)
    key = page.evaluate("() => window.localStorage.getItem('dila-session')")
    new = set(saved_states(app.state_dir)) - before
    assert key and len(new) == 1
    saved = new.pop()
    assert refused(app.url, saved)  # the saved state is never served
    content = json.loads(saved.read_text())
    content["clips"][0]["name"] = "kept-across-restarts"
    saved.write_text(json.dumps(content))
    app.restart()
    reopen(page, app.url)
    page.get_by_text("kept-across-restarts").first.wait_for()
    other = browser.new_context().new_page()
    other.set_default_timeout(BROWSER_WAIT_MS)
    other.goto(app.url)
    other.locator("[data-clip-id='c4']").first.wait_for()
    assert other.get_by_text("kept-across-restarts").count() == 0
    page.context.close()
    other.context.close()


def test_a_huge_goal_image_is_refused_in_our_words(app, tmp_path):
    Image.new("1", (12000, 12000)).save(tmp_path / "huge.png")
    (tmp_path / "empty.png").write_bytes(b"")
    client = Client(app.url, verbose=False, ssl_verify=False)
    client.predict("translation.webm", api_name="/add_example")
    pid = app.pid
    before = vm_peak_mb(pid)
    for name, message in (("huge.png", "12000×12000 pixels; the limit is 25 million"), ("empty.png", "cannot be read")):
        start = time.perf_counter()
        with pytest.raises(Exception, match=message) as error:
            client.predict("c1", 0, None, 0, handle_file(tmp_path / name), 2, "clip", "pca", api_name="/plan")
        elapsed = time.perf_counter() - start
        text = str(error.value)
        print(f"\n{name}: refused through gradio_client in {elapsed:.2f} s")
        assert "/tmp" not in text and "preprocess" not in text.lower() and elapsed < 3
    grown = vm_peak_mb(pid) - before
    print(f"app peak RSS grew by {grown:.1f} MB")
    assert grown < 200
    with pytest.raises(Exception, match="This server loads only these models"):
        client.predict("/proc/self/cwd", api_name="/load_model")

"""The app restarted under the same browser: the page finds its saved session again (headless
Chromium, as in test_browser); bad goal images get our own sentence through the API."""
import json
import time
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from helpers import free_port, running_app
from PIL import Image
from test_browser import CHROMIUM_ARGS, chromium  # noqa: F401 - the fixture

from explorer.dev_model import write_dev_model

START_TIMEOUT_S = 90
WAIT_MS = 60_000


def vm_peak_mb(pid: int, field: str = "VmHWM") -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(field)


def saved_states(root):
    return sorted(root.glob("*/state/state.json"))


def test_a_restarted_app_gives_the_same_browser_its_library_back(chromium, tmp_path):  # noqa: F811
    from playwright.sync_api import sync_playwright

    model = write_dev_model(tmp_path / "model", tiny=True)
    port, state = free_port(), tmp_path / "state"
    env = {"DILA_STATE_DIR": str(state)}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, timeout=WAIT_MS)
        try:
            page = browser.new_context().new_page()
            page.set_default_timeout(WAIT_MS)
            with running_app(model, tmp_path / "first.log", START_TIMEOUT_S, port=port, env=env) as url:
                page.goto(url)
                page.locator("[data-clip-id='c4']").first.wait_for()
                deadline = time.monotonic() + 30
                while not saved_states(state) and time.monotonic() < deadline:
                    time.sleep(0.2)
                key = page.evaluate("() => window.localStorage.getItem('dila-session')")
            assert key and len(saved_states(state)) == 1
            saved = saved_states(state)[0]
            content = json.loads(saved.read_text())
            content["clips"][0]["name"] = "kept-across-restarts"
            saved.write_text(json.dumps(content))
            with running_app(model, tmp_path / "second.log", START_TIMEOUT_S, port=port, env=env) as url:
                page.reload()
                page.get_by_text("kept-across-restarts").first.wait_for()
                other = browser.new_context().new_page()
                other.goto(url)
                other.locator("[data-clip-id='c4']").first.wait_for()
                assert other.get_by_text("kept-across-restarts").count() == 0
        finally:
            browser.close()


@pytest.fixture(scope="module")
def public_app(tmp_path_factory):
    model = write_dev_model(tmp_path_factory.mktemp("model"), tiny=True)
    root = tmp_path_factory.mktemp("app")
    with running_app(model, root / "app.log", START_TIMEOUT_S, env={"DILA_PUBLIC": "1", "DILA_STATE_DIR": str(root / "s")}) as url:
        yield url


def app_pid(url: str) -> int:
    port = url.rstrip("/").rsplit(":", 1)[1]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"app.py" in args and port.encode() in args:
            return int(cmdline.parent.name)
    raise RuntimeError("app.py not found")


def test_a_huge_goal_image_is_refused_in_our_words(public_app, tmp_path):
    Image.new("1", (12000, 12000)).save(tmp_path / "huge.png")
    (tmp_path / "empty.png").write_bytes(b"")
    client = Client(public_app, verbose=False, ssl_verify=False)
    client.predict("translation.webm", api_name="/add_example")
    pid = app_pid(public_app)
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

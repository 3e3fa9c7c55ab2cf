import os
import shutil
from pathlib import Path

import pytest
import torch
from helpers import APP_START_TIMEOUT_S, BROWSER_WAIT_MS, CHROMIUM_ARGS, RunningApp

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(min(2, torch.get_num_threads()))

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def tiny_config():
    from dila import DiLAConfig

    return DiLAConfig(
        embed_dim=32, structure_dim=4, content_dim=16, action_dim=8,
        encoder_spatial_depth=1, encoder_temporal_depth=1, encoder_heads=2, encoder_dim_head=8,
        mlp_depth=1, memory_depth=1, memory_state_dim=4,
        decoder_depth=1, decoder_heads=2, decoder_dim_head=8,
        inverse_channels=8, inverse_blocks=(1, 1, 1, 1), inverse_hidden=32,
        forward_dim=32, forward_depth=1, forward_heads=2, forward_dim_head=8,
    )


@pytest.fixture
def tiny_model(tiny_config):
    from dila import DiLAWorldModel

    torch.manual_seed(0)
    return DiLAWorldModel(tiny_config).eval()


def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def one_thread():
    """Tiny tensors: a second thread only adds synchronisation, which costs seconds on a busy machine."""
    yield from _one_thread()


@pytest.fixture(scope="module")
def module_one_thread():
    """`one_thread` for a whole module, its module fixtures included (as in the app: short calls, one thread)."""
    yield from _one_thread()


@pytest.fixture
def sid(service, request):
    """A session of the test module's own `service` fixture, named after the test and closed after it."""
    yield request.node.name
    service.close_session(request.node.name)


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    """One `python app.py` for every test that drives the app (gradio_client or Chromium), as
    deployed for the public: public mode, a tiny random model, and its state folder
    (DILA_STATE_DIR) apart from both its temp directory and the working directory."""
    from explorer.dev_model import write_dev_model

    root = tmp_path_factory.mktemp("app")
    model = write_dev_model(root / "model", tiny=True)
    (root / "tmp").mkdir()
    env = {"DILA_PUBLIC": "1", "DILA_STATE_DIR": str(root / "state"), "TMPDIR": str(root / "tmp")}
    running = RunningApp(model, root / "logs", APP_START_TIMEOUT_S, env=env)
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium executable; a skip (or, under CI, a failure) when it or playwright is missing.
    Chromium: $DILA_CHROMIUM, else `chromium` / `chromium-browser` on the PATH."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        found_playwright = False
    else:
        found_playwright = True
    executable = os.environ.get("DILA_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if executable and not os.access(executable, os.X_OK):
        executable = None
    needs = {"the Python package playwright (pip install playwright)": found_playwright,
             "Chromium (apt-get install chromium, or set DILA_CHROMIUM)": executable}
    missing = [what for what, found in needs.items() if not found]
    if missing:
        reason = "browser test needs " + " and ".join(missing)
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(reason + " ($CI is set, so this is not skipped)", pytrace=False)
        pytest.skip(reason)
    return executable


@pytest.fixture(scope="session")
def browser(chromium):
    """One headless Chromium for every browser test; each test opens its own context (its own
    cookies and localStorage), as a separate browser would."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, timeout=BROWSER_WAIT_MS)
        yield launched
        launched.close()

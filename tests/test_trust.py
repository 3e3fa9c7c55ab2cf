"""What a hostile or crashing world leaves behind: words that blame the right thing, no folders
or processes left over, one session's slow download never holding up another's load."""
from pathlib import Path

import pytest

from explorer import UserError
from explorer.dev_model import write_dev_model
from explorer.sources import SourcePolicy

pytestmark = pytest.mark.usefixtures("module_one_thread")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return write_dev_model(root / "served", tiny=True), write_dev_model(root / "listed", tiny=True, seed=1)


def test_public_words_for_an_uncached_repo_name_no_setting_and_no_retry(models, monkeypatch, tmp_path):
    from explorer.models import load

    served, listed = models
    policy = SourcePolicy(str(served), public=True, listed=[str(listed)])
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    for text in ("owner/not-cached", "etc/passwd"):
        with pytest.raises(UserError) as error:
            load(policy.find(text), None, policy)
        assert str(error.value) == (
            f"Could not load the model `{text}`: this server does not download models and holds no copy of this one. "
            "Choose one it holds: the default (leave the box empty), `bundled`, `listed`.")


# ------------------------------------------------------------ saved-session folders


def _store(root, idle_s=600.0):
    import numpy as np

    from explorer.clips import Library
    from explorer.sessions import Session, SessionStore

    def create(sid, directory, outputs):
        library = Library(4)
        library.add("x", np.zeros((2, 8, 8, 3), np.uint8), 8.0, np.zeros((1, 2), np.float32))
        return Session(sid, directory, outputs, library, "model")

    return SessionStore(create, idle_s=idle_s, max_sessions=64, root=root)


def _folders(root):
    return sorted(p.name for p in root.iterdir() if p.is_dir())


def test_sessions_that_never_saved_leave_no_folder(tmp_path):
    """40 API sessions (no browser key: never saved) leave nothing; a browser's saved one stays."""
    sessions = _store(tmp_path)
    for index in range(40):
        sessions.save(sessions.get(f"api-{index}"))
    assert _folders(tmp_path) == []
    browser = sessions.get(sessions.issue())
    sessions.save(browser)
    assert _folders(tmp_path) == [browser.directory.name] and (browser.state_dir / "state.json").is_file()
    sessions.close()
    assert _folders(tmp_path) == [browser.directory.name]


def test_folders_without_saved_state_are_removed_at_start_and_by_the_reaper(tmp_path, monkeypatch):
    import os
    import time

    from explorer import sessions as sessions_module

    saved = _store(tmp_path)
    kept = saved.get(saved.issue())
    saved.save(kept)
    for index in range(40):
        (tmp_path / f"{index:032x}").mkdir()
    (tmp_path / f"{40:032x}" / "state" / "clips").mkdir(parents=True)  # a save cut short by a crash
    old = time.time() - 120
    for folder in tmp_path.iterdir():
        if folder.is_dir() and folder != kept.directory:
            os.utime(folder, (old, old))
    (tmp_path / "recent").mkdir()  # a save may be under way in it: left for the reaper
    restarted = _store(tmp_path)
    assert _folders(tmp_path) == sorted([kept.directory.name, "recent"])
    monkeypatch.setattr(sessions_module, "UNSAVED_GRACE_S", 0.0)
    restarted.expire()
    assert _folders(tmp_path) == [kept.directory.name]
    assert (kept.state_dir / "state.json").is_file()


# ------------------------------------------------------------ after kill -9 of the app

APP = """
import sys, threading, time
from explorer.leftovers import OwnedFolder
from explorer.sessions import SessionStore
from explorer.worker import Worker

worker = Worker()
worker.start()
store = SessionStore(lambda *a: None, idle_s=60, max_sessions=1, root=sys.argv[1])
fitting = OwnedFolder("dila-umap-")
threading.Thread(target=worker.call, args=("time:sleep", [30], 60), daemon=True).start()
print(worker.pid, flush=True)
time.sleep(60)
"""


def test_a_killed_app_leaves_no_worker_running_and_its_folders_go_at_the_next_start(tmp_path, monkeypatch):
    import os
    import signal
    import subprocess
    import sys
    import tempfile
    import time
    from pathlib import Path

    from explorer.leftovers import OwnedFolder
    from explorer.sessions import SessionStore
    from explorer.worker import Worker

    temp = tmp_path / "tmp"
    temp.mkdir()
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "TMPDIR": str(temp), "PYTHONPATH": str(root)}
    with open(tmp_path / "stderr", "w") as stderr:
        app = subprocess.Popen([sys.executable, "-c", APP, str(tmp_path / "state")], stdout=subprocess.PIPE,
                               stderr=stderr, env=env, text=True, cwd=root)
        child = int(app.stdout.readline())
        time.sleep(0.5)  # the task is under way
        app.send_signal(signal.SIGKILL)
        app.wait()
        app.stdout.close()
        killed = time.monotonic()
        while _alive(child) and time.monotonic() - killed < 10:
            time.sleep(0.02)
        lived = time.monotonic() - killed
    print(f"\nthe worker ended {lived:.2f} s after its app's kill -9")
    assert lived < 2.0
    time.sleep(0.2)
    assert (tmp_path / "stderr").read_text() == ""
    kinds = ("dila-worker-", "dila-explorer-outputs-", "dila-umap-")
    left = sorted(p.name.rsplit("-", 1)[0] for p in temp.iterdir())
    assert left == sorted(k.rstrip("-") for k in kinds)
    (temp / "dila-worker-made-by-an-older-version").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    worker = Worker()
    store = SessionStore(lambda *a: None, idle_s=60, max_sessions=1, root=tmp_path / "state")
    fitting = OwnedFolder("dila-umap-")
    try:
        mine = {worker._dir.path, store.outputs_root, fitting.path, temp / "dila-worker-made-by-an-older-version"}
        assert set(temp.iterdir()) == mine
    finally:
        worker.close()
        store.close()
        fitting.cleanup()
    assert list(temp.iterdir()) == [temp / "dila-worker-made-by-an-older-version"]


def _alive(pid: int) -> bool:
    """Whether `pid` still runs (a zombie, dead but not yet reaped by its new parent, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# ------------------------------------------------------------ words that blame the right thing


def test_a_hung_decoder_is_blamed_not_the_file():
    from explorer.decode import decode_failure
    from explorer.worker import WorkerError, WorkerPool

    pool = WorkerPool(1, wait_s=5)
    try:
        with pytest.raises(WorkerError) as hung:
            pool.call("time:sleep", [30], 1.0)
        with pytest.raises(WorkerError) as crashed:
            pool.call("os:abort", [], 30)
    finally:
        pool.close()
    assert (hung.value.kind, crashed.value.kind) == ("timeout", "crashed")
    assert decode_failure("valid.webm", hung.value) == (
        "valid.webm: the decoder was stopped: it took longer than 1 s. That says nothing against the file: "
        "try again in a moment, or try a shorter video.")
    assert decode_failure("bad.webm", crashed.value).startswith("bad.webm: could not be decoded (the worker process crashed")


def test_a_raw_call_with_the_wrong_number_of_inputs_gets_a_sentence():
    import gradio as gr
    from helpers import free_port

    from explorer.ui.api_inputs import explain_wrong_counts

    with gr.Blocks() as blocks:
        motion, scale, result = gr.Textbox(label="motion clip id"), gr.Number(label="action scale"), gr.Textbox()
        gr.Button().click(lambda clip, value: f"{clip} x{value}", [motion, scale], result, api_name="transfer")
    explain_wrong_counts(blocks).queue()
    port = free_port()
    blocks.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, show_error=True, quiet=True)
    try:
        url = f"http://127.0.0.1:{port}/gradio_api/call/transfer"
        assert _raw_call(url, ["c1", 2]) == ("complete", ["c1 x2"])
        for inputs in (["c1"], ["c1", 2, 3]):
            event, data = _raw_call(url, inputs)
            assert (event, data["error"]) == ("error", f"/transfer takes 2 inputs (motion clip id, action scale); "
                                                       f"this call sent {len(inputs)}. The API page lists each input.")
    finally:
        blocks.close()


def _raw_call(url: str, inputs: list) -> tuple[str, object]:
    """One call through Gradio's HTTP API, as a client that sends whatever it likes: (event, data)."""
    import json
    import urllib.request

    request = urllib.request.Request(url, json.dumps({"data": inputs}).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        event_id = json.loads(response.read())["event_id"]
    with urllib.request.urlopen(f"{url}/{event_id}", timeout=30) as response:
        lines = response.read().decode().splitlines()
    event = [line.split(": ", 1)[1] for line in lines if line.startswith("event: ")][-1]
    data = [line.split(": ", 1)[1] for line in lines if line.startswith("data: ")][-1]
    return event, json.loads(data)


# ------------------------------------------------------------ one session's download, another's load


def test_a_slow_download_holds_up_no_other_load_and_its_waiters_share_its_outcome():
    """A fake source whose Hub loads hang until released: a second session asking for the same
    repo gets the first load's outcome (no second download), a third Hub load is refused at once,
    and the bundled or default model comes at once meanwhile."""
    import threading
    import time

    from explorer.models import ModelCache

    release, loads, outcomes = threading.Event(), [], {}

    def loader(source, device, policy):
        loads.append(source.key)
        if source.hub:
            release.wait(30)
            raise UserError(f"Could not load the model `{source.label}`: the Hub did not answer")
        return source.key

    cache = ModelCache(SourcePolicy("bundled", public=True, listed=[]), loader=loader)
    cache.get()

    def ask(name: str, text: str) -> None:
        start = time.perf_counter()
        try:
            outcomes[name] = cache.choose(text)
        except UserError as error:
            outcomes[name] = str(error)
        outcomes[name + " s"] = time.perf_counter() - start

    asks = [threading.Thread(target=ask, args=args) for args in
            (("first", "owner/slow"), ("same", "owner/slow"), ("other", "owner/also-slow"))]
    for thread in asks:
        thread.start()
        time.sleep(0.1)
    ask("third", "owner/third")
    ask("bundled", "bundled")
    ask("default", "")
    assert outcomes["third"].endswith("2 other models are being downloaded right now. Try again in a minute, "
                                      "or choose the default or `bundled`.")
    assert max(outcomes["third s"], outcomes["bundled s"], outcomes["default s"]) < 0.5
    release.set()
    for thread in asks:
        thread.join(10)
    assert outcomes["first"] == outcomes["same"] == "Could not load the model `owner/slow`: the Hub did not answer"
    assert loads.count("owner/slow") == 1 and "owner/third" not in loads


# ------------------------------------------------------------ on the page (need the hooks in the report)


def test_a_hung_decoder_on_a_valid_upload_is_blamed_not_the_file(models, tmp_path):
    import shutil

    from explorer import Explorer, Limits

    served, _ = models
    shutil.copy(Path(__file__).resolve().parent.parent / "assets" / "rotation.webm", tmp_path / "slow.webm")
    svc = Explorer(model=str(served), limits=Limits(decode_timeout_s=1.0, decoders=1), embedder=None,
                   assets=tmp_path, root=tmp_path / "sessions")
    svc.decode_task = "tests.slow_decode:decode_clip"
    try:
        with pytest.raises(UserError) as error:
            svc.library.add_example("api", "slow.webm")
    finally:
        svc.close()
    assert str(error.value) == ("slow.webm: the decoder was stopped: it took longer than 1 s. That says nothing "
                                "against the file: try again in a moment, or try a shorter video.")


def test_in_the_app_a_download_holds_up_no_other_load_and_a_wrong_count_gets_a_sentence(models, tmp_path):
    import time

    from gradio_client import Client
    from helpers import APP_START_TIMEOUT_S, running_app
    from test_hub import silent_hub

    served, _ = models
    env = {"DILA_PUBLIC": "1", "HF_HUB_OFFLINE": "0", "DILA_STATE_DIR": str(tmp_path / "state")}
    with silent_hub() as endpoint, running_app(served, tmp_path / "logs", APP_START_TIMEOUT_S,
                                               env={**env, "HF_ENDPOINT": endpoint}) as app:
        clients = [Client(app.url, verbose=False, ssl_verify=False) for _ in range(3)]
        downloads = [client.submit(repo, api_name="/load_model") for client, repo in zip(clients, ("owner/a", "owner/b"))]
        time.sleep(1.0)
        start = time.perf_counter()
        card = clients[2].predict("", api_name="/load_model")
        waited = time.perf_counter() - start
        for job in downloads:
            with pytest.raises(Exception, match="did not answer"):
                job.result(timeout=60)
        event, data = _raw_call(f"{app.url}gradio_api/call/transfer", ["c1"])
    print(f"\nthe default model's load took {waited:.2f} s beside two hanging downloads")
    assert "**Model** `served`" in card and waited < 3
    assert event == "error" and data["error"].startswith("/transfer takes 3 inputs (") and "this call sent 1." in data["error"]

"""`python app.py` on 127.0.0.1 with a tiny model (the suite's `app`, deployed as for the
public), driven through gradio_client."""
import statistics
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"


@pytest.fixture(scope="module")
def server(app) -> str:
    return app.url


@pytest.fixture(scope="module")
def client(server):
    return Client(server, verbose=False, ssl_verify=False)


def test_every_operation_has_a_stable_api_name(client):
    endpoints = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert endpoints == {f"/{name}" for name in (
        "add_clips", "add_example", "list_examples", "remove_clip", "list_clips", "load_model", "model_info", "action_map",
        "transition", "steer_start", "preview", "steer_map", "steer_reset", "steer_step", "steer_rollout",
        "steer_video", "play_setup", "transfer", "rebind", "plan")}


def test_an_api_client_builds_the_demo_library_from_the_listed_examples(server):
    client = Client(server, verbose=False, ssl_verify=False)
    listed = client.predict(api_name="/list_examples")
    assert listed["demo"] == ["translation.webm", "rotation.webm", "pair_motion.webm", "pair_appearance.webm"]
    assert set(listed["demo"]) <= set(listed["examples"]) and "camera_pan.webm" in listed["examples"]
    for name in listed["demo"]:
        client.predict(name, api_name="/add_example")
    assert [c["name"] for c in client.predict(api_name="/list_clips")] == [n.rsplit(".", 1)[0] for n in listed["demo"]]


def test_upload_steer_transfer_rebind(client):
    started = time.perf_counter()
    gallery, status = client.predict([handle_file(ASSETS / "pair_motion.webm"), handle_file(ASSETS / "pair_appearance.webm")],
                                     api_name="/add_clips")
    upload_s = time.perf_counter() - started
    assert "Added pair_motion, pair_appearance" in status and 'data-clip-id="c2"' in gallery
    started = time.perf_counter()
    figure, _ = client.predict("clip", "auto", api_name="/action_map")
    print(f"\nupload of 2 clips {upload_s:.2f} s, map {time.perf_counter() - started:.2f} s")
    assert figure["type"] == "plotly"
    assert [c["id"] for c in client.predict(api_name="/list_clips")] == ["c1", "c2"]

    current, preview, readout, *values = client.predict("c1", 2, api_name="/steer_start")
    assert Path(current).is_file() and "cosine" in readout and len(values) == 5
    times = []
    for i in range(15):
        started = time.perf_counter()
        frame = client.predict(values[0] + 0.2 * i, *values[1:], api_name="/preview")
        times.append(time.perf_counter() - started)
    print(f"slider -> frame through gradio_client: median {1000 * statistics.median(times):.0f} ms")
    assert Path(frame).is_file()
    frame, readout = client.predict(*values, api_name="/steer_step")
    assert Path(frame).is_file() and "off in size" in readout
    _, video, _ = client.predict(2, *values, api_name="/steer_rollout")
    assert Path(video).read_bytes()[:4] == b"\x1a\x45\xdf\xa3"

    video, status = client.predict("c1", "c2", 1.0, api_name="/transfer")
    assert video.endswith(".webm") and "Motion of pair_motion" in status
    video, status = client.predict("c2", "c1", api_name="/rebind")
    assert video.endswith(".webm") and "Structure of pair_appearance" in status
    frame_t, _, predicted, figure, _ = client.predict("c1", 3, "time", "pca", api_name="/transition")
    assert Path(predicted).is_file() and figure["type"] == "plotly"
    video, figure, status, actions = client.predict("c1", 0, "c1", 4, None, 3, "clip", "pca", api_name="/plan")
    assert video.endswith(".webm") and len(actions) == 3


def test_errors_are_clear_and_sessions_are_separate(server, client, tmp_path):
    other = Client(server, verbose=False)
    with pytest.raises(Exception, match="no clip 'c1'"):
        other.predict("c1", "c1", 1.0, api_name="/transfer")
    with pytest.raises(Exception, match="Invalid file type"):
        other.predict([handle_file(ROOT / "app.py")], api_name="/add_clips")
    (tmp_path / "notes.mp4").write_text("not a video")
    with pytest.raises(Exception, match="not a video file"):
        other.predict([handle_file(tmp_path / "notes.mp4")], api_name="/add_clips")
    with pytest.raises(Exception, match="Could not load"):
        other.predict("nobody/no-such-model", api_name="/load_model")
    assert "parameters" in other.predict(api_name="/model_info")
    assert other.predict(api_name="/list_clips") == []
    assert np.size(client.predict(api_name="/list_clips")) >= 1


def refused(url: str, path: Path) -> bool:
    try:
        urllib.request.urlopen(f"{url}gradio_api/file={path}", timeout=10).close()
    except urllib.error.HTTPError as error:
        return error.code in (403, 404)
    return False


def test_results_are_served_from_temp_files_never_from_the_state_folder(app):
    """The state folder lies outside the app's temp and working directories, as on a Space's
    persistent storage: results still reach the user, and nothing in the folder is served."""
    client = Client(app.url, verbose=False, ssl_verify=False)
    client.predict("pair_motion.webm", api_name="/add_example")
    client.predict("pair_appearance.webm", api_name="/add_example")
    video, _ = client.predict("c1", "c2", 1.0, api_name="/transfer")
    assert Path(video).read_bytes()[:4] == b"\x1a\x45\xdf\xa3"
    assert not [p for p in app.state_dir.rglob("*") if p.suffix in (".webm", ".png")]
    assert (app.state_dir / ".secret").is_file() and refused(app.url, app.state_dir / ".secret")


def test_the_app_leaves_no_generated_files_and_no_codec_tag_notice(app):
    client = Client(app.url, verbose=False, ssl_verify=False)
    client.predict("rotation.webm", api_name="/add_example")
    client.predict("c1", 0, api_name="/steer_start")
    client.predict(2, 0, 0, 0, 0, 0, api_name="/steer_rollout")  # writes a WebM
    assert sorted(ROOT.glob("*.pyi")) + sorted((ROOT / "explorer").glob("*.pyi")) == []
    assert "is not supported with codec id" not in app.log.read_text()


def test_a_failure_note_is_one_value_when_the_note_is_the_only_output():
    """A `.failure` listener with one output (the map click's, the model load's) must return a
    value, not a list: Gradio refuses a list for a Markdown and shows a bare "Error" badge."""
    from types import SimpleNamespace

    from explorer.ui.common import FAILURES, failed

    note, other = object(), object()
    request = SimpleNamespace(session_hash="s")
    FAILURES.record("s", "Could not load the model.")
    assert failed(note)["fn"](request) == "⚠️ Could not load the model."
    FAILURES.record("s", "Bad file.")
    message, skipped = failed(note, other)["fn"](request)
    assert message == "⚠️ Bad file." and failed(note, other)["outputs"] == [note, other]

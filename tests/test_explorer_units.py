"""The explorer's parts without a model: projections, figures, gallery, media, sessions, worker."""
import importlib
import sys
import threading
import time
import types
from concurrent.futures import Future

import numpy as np
import pytest

from dila.video import write_video
from explorer import UserError, device
from explorer.clips import Library
from explorer.figures import Marks, action_map, empty_figure
from explorer.gallery import (
    DROPZONE_JS,
    GALLERY_JS,
    MIME,
    card,
    dropzone,
    gallery,
    safe_name,
)
from explorer.media import fit_image, panels, png_data_uri
from explorer.models import ModelCache
from explorer.projection import Embedder, build_map, fit_pca, place
from explorer.sessions import Session, SessionStore
from explorer.sources import SourcePolicy
from explorer.worker import Worker, WorkerError


def actions(n=200, a=8, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, 3)) * [3, 1, 0.2]) @ rng.normal(size=(3, a)) + rng.normal(size=a)


# ------------------------------------------------------------ projection


def test_pca_orders_directions_and_reconstructs_coordinates():
    x = actions()
    pca = fit_pca(x, k=5)
    assert np.all(np.diff(pca.scales[:3]) <= 0) and np.allclose(pca.scales[3:], 0)
    assert np.allclose(np.linalg.norm(pca.components[:3], axis=1), 1)
    assert np.isclose(pca.explained[:3].sum(), 1)
    base = x[7]
    values = pca.coordinates(base)
    assert np.allclose(pca.steer(base, values), base, atol=1e-5)
    moved = pca.steer(base, values + [1, 0, 0, 0, 0])
    assert np.isclose(np.linalg.norm(moved - base), pca.scales[0], rtol=1e-5)


def test_pca_is_deterministic_and_handles_tiny_libraries():
    x = actions()
    assert np.array_equal(fit_pca(x).components, fit_pca(x.copy()).components)
    single = fit_pca(x[:1])
    assert np.allclose(single.scales, 0) and np.allclose(single.project(x[:1]), 0)


def test_pca_of_2000_transitions_is_fast():
    x = actions(2000, 16)
    start = time.perf_counter()
    fit_pca(x).project(x)
    assert time.perf_counter() - start < 0.5


def test_place_puts_library_actions_on_their_own_points():
    x = actions(50)
    points = np.random.default_rng(1).normal(size=(50, 2))
    assert np.allclose(place(x[:5], x, points), points[:5], atol=1e-3)


def test_build_map_runs_umap_in_the_background():
    release = threading.Event()

    def slow_fit(x):
        release.wait(5)
        return x[:, :2] * 10

    x = actions(30)
    amap = build_map(1, x, np.zeros(30, int), np.arange(30), Embedder(slow_fit), min_umap_points=10)
    assert amap.method("auto") == "pca" and "computing" in amap.umap_status()
    release.set()
    amap.umap.result(5)
    assert amap.method("auto") == "umap" and amap.method("pca") == "pca"
    assert np.allclose(amap.points("umap"), x[:, :2] * 10)


def test_build_map_explains_why_there_is_no_umap():
    x = actions(5)
    assert "at least 10" in build_map(1, x, np.zeros(5, int), np.arange(5), Embedder(lambda a: a), 10).umap_status()
    failed = build_map(1, actions(20), np.zeros(20, int), np.arange(20), Embedder(lambda a: 1 / 0), 10)
    with pytest.raises(ZeroDivisionError):
        failed.umap.result(5)
    assert failed.method("umap") == "pca" and "failed" in failed.umap_status()


# ------------------------------------------------------------ figures


@pytest.mark.parametrize("color_by", ["clip", "time", "magnitude"])
def test_action_map_figure(color_by):
    x = actions(40)
    amap = build_map(1, x, np.repeat([0, 1], 20), np.tile(np.arange(20), 2), None, 10)
    marks = Marks(selected=3, current=x[0], path=x[:4])
    figure = action_map(amap, ["a", "b"], color_by, "pca", marks)
    names = [trace.name for trace in figure.data]
    assert {"chosen transition", "plan", "current action"} <= set(names)
    points = sum(len(t.x) for t in figure.data if t.name not in ("chosen transition", "plan", "current action"))
    assert points == 40
    assert "frames 3 → 4" in figure.data[0].hovertext[3] and figure.data[0].hovertext[3].endswith(" action")
    assert figure.layout.xaxis.title.text.startswith("direction 1 in σ (")
    row = figure.data[0].customdata[3]
    assert list(row) == [3, 1, 0, 3]  # row, library version, clip index, t: what the page's map script reads


def test_empty_figure_has_a_message():
    assert "Add clips" in empty_figure().layout.annotations[0].text


# ------------------------------------------------------------ gallery, media


def test_gallery_cards_carry_ids_for_drag_and_drop():
    frame = np.zeros((8, 8, 3), np.uint8)
    html = gallery([card("c1", "<b>x</b>", 5, frame), card("c2", "y", 3, frame)])
    assert html.count('draggable="true"') == 2 and 'data-clip-id="c2"' in html
    assert "<b>" not in html and safe_name("a{{b}}$") == "a__b___"
    assert 'data-drop-role="motion"' in dropzone("motion")
    assert 'draggable="false" data-clip-id="c1"' in card("c1", "x", 5, frame, draggable=False)
    assert MIME in GALLERY_JS and "'clip_drop'" in DROPZONE_JS and MIME in DROPZONE_JS
    assert "No clips yet" in gallery([])


def test_panels_and_images():
    a = np.zeros((3, 8, 8, 3), np.uint8)
    b = np.full((5, 8, 8, 3), 255, np.uint8)
    out = panels([a, b])
    assert out.shape == (5, 8, 18, 3) and (out[:, :, -8:] == 255).all()
    assert fit_image(np.zeros((30, 50), np.uint8), 16).shape == (16, 16, 3)
    assert fit_image(np.zeros((30, 50, 4), np.uint8), 16).shape == (16, 16, 3)
    assert png_data_uri(a[0]).startswith("data:image/png;base64,")


# ------------------------------------------------------------ library, sessions


def test_library_limits_and_transitions():
    library = Library(max_clips=2)
    first = library.add("a", np.zeros((4, 8, 8, 3), np.uint8), 8, np.ones((3, 2)))
    library.add("b", np.zeros((3, 8, 8, 3), np.uint8), 8, np.zeros((2, 2)))
    with pytest.raises(UserError, match="at most 2"):
        library.add("c", np.zeros((3, 8, 8, 3), np.uint8), 8, np.zeros((2, 2)))
    x, index, times = library.transitions()
    assert x.shape == (5, 2) and index.tolist() == [0, 0, 0, 1, 1] and times.tolist() == [0, 1, 2, 0, 1]
    version = library.version
    library.remove(first.id)
    assert library.version > version and [c.name for c in library] == ["b"]
    with pytest.raises(UserError, match="no clip"):
        library.get(first.id)
    with pytest.raises(UserError, match="Choose a clip"):
        library.get(None)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def store(tmp_path, clock, max_sessions=3):
    create = lambda sid, directory, outputs: Session(sid, directory, outputs, Library(4), "model")  # noqa: E731
    return SessionStore(create, idle_s=60, max_sessions=max_sessions, root=tmp_path, clock=clock)


def test_sessions_are_separate_and_idle_ones_expire(tmp_path):
    clock = Clock()
    sessions = store(tmp_path, clock)
    a, b = sessions.get("a"), sessions.get("b")
    a.library.add("x", np.zeros((2, 8, 8, 3), np.uint8), 8, np.zeros((1, 2)))
    assert len(b.library) == 0 and a.directory != b.directory
    clock.now = 50
    sessions.get("a")
    clock.now = 100
    assert sessions.expire() == ["b"] and not b.directory.exists()
    assert "a" in sessions and sessions.get("a") is a
    clock.now = 200
    fresh = sessions.get("a")
    assert fresh is not a and len(fresh.library) == 0 and not a.directory.exists()


def test_sessions_beyond_the_maximum_evict_the_least_recent(tmp_path):
    clock = Clock()
    sessions = store(tmp_path, clock, max_sessions=2)
    first = sessions.get("1")
    sessions.get("2")
    sessions.get("1")
    sessions.get("3")
    assert "2" not in sessions and "1" in sessions and len(sessions) == 2
    first.state_dir.mkdir(parents=True)
    (first.state_dir / "state.json").write_text("{}")
    sessions.drop("1")
    assert "1" not in sessions and first.directory.exists()


def test_session_outputs_keep_only_the_latest(tmp_path):
    sessions = store(tmp_path, Clock())
    session = sessions.get("s")
    paths = []
    for _ in range(4):
        path = session.output("transfer")
        path.write_bytes(b"x")
        paths.append(path)
    assert [p.exists() for p in paths] == [False, False, True, True]
    assert not paths[-1].is_relative_to(tmp_path)  # never in the state folder
    umap = Future()
    session.action_map = type("Map", (), {"umap": umap})()
    session.close()
    assert umap.cancelled() and not session.directory.exists() and not session.outputs.exists()
    sessions.close()
    assert not sessions.outputs_root.exists()


# ------------------------------------------------------------ worker


@pytest.fixture(scope="module")
def worker():
    worker = Worker(memory_mb=1024)
    yield worker
    worker.close()


def test_worker_decodes_and_reports_user_errors(worker, tmp_path):
    frames = np.random.default_rng(0).integers(0, 255, (6, 24, 32, 3), dtype=np.uint8)
    path = write_video(frames, tmp_path / "clip.webm", fps=10)
    result = worker.call("explorer.decode:decode_clip", [str(path), 16, 4, 60.0], 30)
    assert result["frames"].shape == (4, 16, 16, 3) and result["frames"].dtype == np.uint8
    assert np.isclose(float(result["fps"]), 10 * 4 / 6)
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(UserError, match="empty"):
        worker.call("explorer.decode:decode_clip", [str(tmp_path / "empty.mp4"), 16, 8, 60.0], 30)


def test_worker_survives_timeouts_crashes_and_memory_exhaustion(worker):
    with pytest.raises(WorkerError, match="longer than"):
        worker.call("time:sleep", [5], 0.5)
    with pytest.raises(WorkerError, match=r"crashed \(SIGABRT\)"):
        worker.call("os:abort", [], 30)
    with pytest.raises(WorkerError, match="memory"):
        worker.call("numpy:ones", [[4096, 1024, 1024]], 30)
    pid = worker.pid
    assert worker.call("time:sleep", [0], 30) == {} and worker.pid == pid


# ------------------------------------------------------------ models, device


def test_model_cache_keeps_the_default_and_the_latest_other():
    loads = []

    def loader(source, device, max_bytes):
        if source.key == "o/broken":
            raise UserError("Could not load the model `o/broken`")
        loads.append(source.key)
        return source.key

    cache = ModelCache(SourcePolicy("o/default", public=True), "cpu", keep=1, loader=loader)
    assert cache.get() == "o/default" and cache.choose("o/a") == "o/a" and cache.choose("o/a") == "o/a"
    cache.choose("o/b")
    cache.choose("o/a")
    assert loads == ["o/default", "o/a", "o/b", "o/a"]
    with pytest.raises(UserError):
        cache.choose("o/broken")
    assert cache.choose("") == "o/default" and cache.get("o/a") == "o/a" and loads.count("o/default") == 1


def test_only_the_published_model_is_put_on_the_gpu(monkeypatch):
    import torch

    monkeypatch.delenv("DILA_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device.pick_device("rae") == "cuda" and device.pick_device("checkpoints/codec") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device.pick_device("rae") == "cpu"
    monkeypatch.setenv("DILA_DEVICE", "cuda:1")
    assert device.pick_device("checkpoints/codec") == "cuda:1"  # the operator's choice wins


def test_compute_uses_the_zerogpu_decorator_when_spaces_is_installed(monkeypatch):
    fake = types.ModuleType("spaces")
    fake.GPU = lambda fn: lambda *args: ("gpu", fn(*args))
    monkeypatch.setitem(sys.modules, "spaces", fake)
    reloaded = importlib.reload(device)
    on_cuda, on_cpu = types.SimpleNamespace(device="cuda:0"), types.SimpleNamespace(device="cpu")
    try:
        assert reloaded.compute(lambda model, x: x, on_cuda, 2) == ("gpu", 2)
        assert reloaded.compute(lambda model, x: x, on_cpu, 2) == 2  # CPU previews hold no GPU
        assert reloaded.compute(max, 1, 2) == 2
    finally:
        monkeypatch.delitem(sys.modules, "spaces")
        importlib.reload(device)
    assert device.compute(max, 1, 2) == 2


def test_closing_a_worker_ends_a_call_in_progress_and_later_ones():
    worker = Worker()
    errors = []
    call = threading.Thread(target=lambda: errors.append(pytest.raises(WorkerError, worker.call, "time:sleep", [30], 60)))
    call.start()
    time.sleep(1)
    started = time.perf_counter()
    worker.close()
    call.join(10)
    assert not call.is_alive() and errors and time.perf_counter() - started < 5
    with pytest.raises(WorkerError, match="stopped"):
        worker.call("time:sleep", [0], 5)

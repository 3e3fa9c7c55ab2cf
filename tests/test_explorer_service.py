"""Every explorer operation, without Gradio, on a tiny random model."""
import json
import re
import threading
import time

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from dila.data.procedural import render_pair, sample_clip
from dila.video import write_video
from explorer import KEEP, Choices, Explorer, Limits, Range, UserError, planning, play
from explorer.decode import check_upload
from explorer.dev_model import write_dev_model
from explorer.models import codec_for, load
from explorer.projection import Embedder
from explorer.services import NEW_LAYOUT, PICKS
from explorer.sources import SourcePolicy, local_source

UMAP_GATE = threading.Event()


def gated_umap(actions):
    UMAP_GATE.wait(10)
    return actions[:, :2] * 3


@pytest.fixture(scope="module", autouse=True)
def one_thread(module_one_thread):
    """As in the app: short calls, no waiting on OpenMP threads when the cores are busy."""


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return write_dev_model(tmp_path_factory.mktemp("model"), tiny=True)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Small example videos, a transfer pair and bad files."""
    folder = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(0)
    for kind in ("translate", "rotate", "camera"):
        write_video(sample_clip(rng, "train", kind, frames=6, size=32).frames, folder / f"{kind}.webm", fps=8)
    a, b = render_pair(1, "train", "translate", frames=6, size=32)
    write_video(a.frames, folder / "pair_motion.webm", fps=8)
    write_video(b.frames, folder / "pair_appearance.webm", fps=8)
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "notes.mp4").write_text("not a video at all")
    (folder / "truncated.webm").write_bytes((folder / "rotate.webm").read_bytes()[:200])
    Image.new("RGB", (16, 16)).save(folder / "one_frame.gif")
    red, blue = Image.new("RGB", (16, 16), "red"), Image.new("RGB", (16, 16), "blue")
    red.save(folder / "long.gif", save_all=True, append_images=[blue], duration=600_000, loop=0)
    Image.new("RGB", (8200, 16)).save(folder / "too_wide.gif")
    writer = cv2.VideoWriter(str(folder / "uhd.avi"), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*"MJPG"), 30, (3840, 2160))
    for value in (0, 80, 160):
        writer.write(np.full((2160, 3840, 3), value, np.uint8))
    writer.release()
    return folder


@pytest.fixture(scope="module")
def service(model_dir, clips, tmp_path_factory):
    limits = Limits(max_clips=4, clip_frames=6, plan_samples=8, plan_iterations=1, max_steer_frames=12, umap_min_points=4)
    svc = Explorer(model=str(model_dir), limits=limits, embedder=Embedder(gated_umap), assets=clips,
                   root=tmp_path_factory.mktemp("sessions"))
    svc.warm()
    yield svc
    svc.close()


def add(service, sid, *names):
    return service.library.add_files(sid, [str(service.assets / name) for name in names])


# ------------------------------------------------------------ model


def test_a_light_codec_model_stays_on_the_cpu_beside_a_gpu(model_dir, monkeypatch):
    monkeypatch.delenv("DILA_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    loaded = load(local_source(model_dir, "tiny"), None, SourcePolicy(str(model_dir), public=False, listed=[]))
    assert str(loaded.pipeline.device) == "cpu" and loaded.info.device == "cpu"
    assert {str(p.device) for p in loaded.pipeline.model.parameters()} == {"cpu"}


def test_model_info_and_a_bad_source_keeps_the_current_model(service, sid, tmp_path):
    info = service.model.info(sid)
    assert "parameters" in info and "device: cpu" in info and "preview" in info
    (tmp_path / "config.json").write_text("{}")
    for source in (str(tmp_path), str(tmp_path / "missing.pt"), "nobody/no-such-model"):
        with pytest.raises(UserError, match="Could not load|This server loads only"):
            service.model.load(sid, source)
    assert service.model.info(sid) == info


def test_the_codec_beside_the_model_is_used_when_it_fits(model_dir):
    width = json.loads((model_dir / "codec" / "config.json").read_text())["latent_dim"]
    assert codec_for(str(model_dir), width) == str(model_dir / "codec")
    assert codec_for(str(model_dir), 768) == "rae" and codec_for("owner/published-dila", 768) == "rae"


def test_switching_model_reencodes_the_library(service, sid, tmp_path):
    add(service, sid, "translate.webm")
    other = write_dev_model(tmp_path / "other", tiny=True, seed=1)
    before = service.map.action_map(sid)[0]
    assert "Re-encoded 1 clip" in service.model.load(sid, str(other))
    assert service.models.get(str(other)).key in service.model.info(sid)
    after = service.map.action_map(sid)[0]
    assert not np.allclose(before.data[0].x, after.data[0].x)
    service.model.load(sid, "")
    assert service.model.info(sid).startswith(service.models.get().info.markdown())


# ------------------------------------------------------------ library


def test_add_list_and_remove_clips(service, sid):
    html, status = add(service, sid, "translate.webm", "rotate.webm")
    assert status == "Added translate, rotate." and html.count("data-clip-id=") == 2
    listed = service.library.list_clips(sid)
    assert [c["name"] for c in listed] == ["translate", "rotate"] and listed[0]["frames"] == 6
    assert service.library.clip_choices(sid) == Choices([("translate (c1)", "c1"), ("rotate (c2)", "c2")])
    assert service.library.clip_range(sid, "c1") == Range(5, 0)
    assert service.library.clip_range(sid, "c1", transitions=True) == Range(4, 0)
    html, status = service.library.remove_clip(sid, "c1")
    assert "Removed translate" in status and 'data-clip-id="c1"' not in html
    assert [c["id"] for c in service.library.list_clips(sid)] == ["c2"]


def test_examples_come_from_the_assets_folder(service, sid):
    assert "translate.webm" in service.library.examples() and "notes.mp4" in service.library.examples()
    assert "Added translate" in service.library.add_example(sid, "translate.webm")[1]
    with pytest.raises(UserError, match="no example"):
        service.library.add_example(sid, "../secret.webm")


@pytest.mark.parametrize("name, message", [
    ("empty.mp4", "empty"),
    ("notes.mp4", "not a video"),
    ("truncated.webm", "corrupt|truncated|no decodable"),
    ("one_frame.gif", "at least 2"),
    ("long.gif", "limit is 10.0 min"),
    ("too_wide.gif", "not supported"),
    ("missing.webm", "no such file"),
])
def test_bad_files_give_clear_messages(service, sid, name, message):
    with pytest.raises(UserError, match=message):
        add(service, sid, name)
    assert service.library.list_clips(sid) == []


def test_a_4k_video_is_sampled_and_resized(service, sid):
    add(service, sid, "uhd.avi")
    assert service.library.list_clips(sid)[0]["frames"] == 3


def test_good_files_are_kept_when_others_fail_and_limits_hold(service, sid):
    status = add(service, sid, "notes.mp4", "translate.webm")[1]
    assert "Added translate" in status and "not a video" in status
    add(service, sid, "rotate.webm", "camera.webm", "pair_motion.webm")
    with pytest.raises(UserError, match="at most 4"):
        add(service, sid, "pair_appearance.webm")
    with pytest.raises(UserError, match="limit is 0 MB"):
        check_upload(service.assets / "rotate.webm", max_mb=0)


# ------------------------------------------------------------ map


def test_map_shows_pca_at_once_then_umap_when_ready(service, sid):
    UMAP_GATE.clear()
    figure, note = service.map.action_map(sid)
    assert "Add clips" in figure.layout.annotations[0].text
    add(service, sid, "translate.webm", "rotate.webm")
    figure, note = service.map.action_map(sid, "time", "auto")
    assert figure.layout.xaxis.title.text.startswith("direction 1 in σ (") and "computing" in note
    assert service.map.poll_map(sid, "time", "auto") == (KEEP, KEEP)
    UMAP_GATE.set()
    service.sessions.get(sid).action_map.umap.result(10)
    figure, note = service.map.poll_map(sid, "time", "auto")
    assert figure.layout.xaxis.title.text == "UMAP 1" and note == ""
    assert service.map.poll_map(sid, "time", "auto") == (KEEP, KEEP)
    figure, _ = service.map.action_map(sid, "magnitude", "pca")
    assert figure.layout.xaxis.title.text.startswith("direction 1 in σ (")


def test_transition_shows_frames_prediction_and_marks_the_map(service, sid):
    add(service, sid, "translate.webm", "rotate.webm")
    frame_t, frame_next, predicted, figure, _ = service.map.transition(sid, "c2", 2, "clip", "pca")
    assert frame_t.shape == frame_next.shape == predicted.shape == (64, 64, 3)
    assert predicted.dtype == np.uint8 and "chosen transition" in [t.name for t in figure.data]
    with pytest.raises(UserError, match="between 0 and 4"):
        service.map.transition(sid, "c2", 5)


# ------------------------------------------------------------ steer


def test_steer_preview_step_rollout_and_video(service, sid):
    add(service, sid, "translate.webm", "rotate.webm")
    with pytest.raises(UserError, match="start frame first"):
        service.steer.preview(sid, 0, 0, 0, 0, 0)
    current, preview, readout, *values = service.steer.start(sid, "c1", 2)
    assert current.shape == preview.shape == (64, 64, 3) and len(values) == 5 and "(cosine " in readout
    assert np.array_equal(service.steer.reset(sid)[0], preview)
    again = service.steer.preview(sid, *values)
    assert np.abs(again.astype(int) - preview).mean() < 2
    moved = service.steer.preview(sid, values[0] + 2, *values[1:])
    assert not np.array_equal(moved, preview)
    figure, _, readout = service.steer.locate(sid, "clip", "pca", values[0] + 2, *values[1:])
    assert "current action" in [t.name for t in figure.data] and "off in size" in readout
    frame, readout = service.steer.step(sid, values[0] + 2, *values[1:])
    assert np.array_equal(frame, moved)
    current, video, readout = service.steer.rollout(sid, 3, *values)
    assert video.endswith(".webm") and open(video, "rb").read(4) == b"\x1a\x45\xdf\xa3"
    assert len(service.sessions.get(sid).steering.frames) == 5
    assert service.steer.reset(sid)[2:] == tuple(values)
    with pytest.raises(UserError, match="at most 12 frames"):
        service.steer.rollout(sid, 8, *values)
    with pytest.raises(UserError, match="between 1 and"):
        service.steer.rollout(sid, 0, *values)


def test_controllability_of_the_inferred_action_is_measured(service, sid):
    add(service, sid, "translate.webm")
    service.steer.start(sid, "c1", 0)
    readout = service.steer.locate(sid, "clip", "pca", 0, 0, 0, 0, 0)[2]
    cosine = float(readout.split("(cosine ")[1].split(")")[0])
    assert -1 <= cosine <= 1


# ------------------------------------------------------------ transfer, rebind, plan


def test_pick_by_drop_and_transfer(service, sid):
    add(service, sid, "pair_motion.webm", "pair_appearance.webm")
    zone, value = service.library.pick(sid, "c1", role="motion")
    assert value == "c1" and 'data-drop-role="motion"' in zone and 'data-clip-id="c1"' in zone
    with pytest.raises(UserError, match="Unknown role"):
        service.library.pick(sid, "c1", role="elsewhere")
    video, status = service.transfer.run(sid, "c1", "c2", 0.5)
    assert video.endswith(".webm") and "×0.5" in status
    capture = cv2.VideoCapture(video)
    assert int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)) == 3 * 64 + 2 * 2
    capture.release()


def test_a_file_dropped_on_a_zone_is_added_and_picked(service, sid):
    html, status, zone, value = service.library.add_and_pick(sid, str(service.assets / "rotate.webm"), role="appearance")
    assert value == "c1" and "Added rotate" in status and 'data-drop-role="appearance"' in zone


def test_rebind(service, sid):
    add(service, sid, "translate.webm", "camera.webm")
    video, status = service.rebind.run(sid, "c1", "c2")
    assert video.endswith(".webm") and "Structure of translate" in status


def test_plan_from_a_clip_frame_or_an_image(service, sid):
    add(service, sid, "translate.webm", "rotate.webm")
    video, figure, status, actions = service.plan.run(sid, "c1", 0, "c1", 3, None, 2, "clip", "pca")
    assert video.endswith(".webm") and "after 2 planned actions" in status and np.shape(actions) == (2, 8)
    assert "closer to the goal" in status and status.startswith("**The plan")
    plot = service.plan.figure(sid)
    assert [trace.name for trace in plot.data] == [f"direction {i}" for i in range(1, 6)] and len(plot.data[0].x) == 2
    assert len(next(t for t in figure.data if t.name == "plan").x) == 2
    goal = np.zeros((40, 30, 4), np.uint8)
    assert "after 1 planned actions" in service.plan.run(sid, "c1", 0, None, 0, goal, 1)[2]


def test_plan_says_when_planning_is_unavailable(service, sid, monkeypatch):
    add(service, sid, "translate.webm")
    monkeypatch.setattr(planning, "available", lambda: "Planning is unavailable (ImportError: nope).")
    with pytest.raises(UserError, match="Planning is unavailable"):
        service.plan.run(sid, "c1", 0, "c1", 3, None, 2)


# ------------------------------------------------------------ sessions


def test_sessions_do_not_share_anything(service):
    """Two browsers (each page attached to its browser's key) and an API client without a key."""
    alice, bob = service.attach("alice", None), service.attach("bob", None)
    add(service, "alice", "translate.webm")
    add(service, "api", "rotate.webm")
    assert service.library.list_clips("bob") == []
    with pytest.raises(UserError, match="no clip"):
        service.transfer.run("bob", "c1", "c1")
    service.steer.start("alice", "c1", 0)
    with pytest.raises(UserError, match="start frame first"):
        service.steer.step("bob", 0, 0, 0, 0, 0)
    for page in ("alice", "bob", "api"):
        service.close_session(page)
    assert service.attach("alice-again", alice) == alice and service.attach("bob-again", bob) == bob
    assert [c["name"] for c in service.library.list_clips("alice-again")] == ["translate"]  # kept on disk for her return
    assert service.sessions.get("alice-again").steering is not None
    assert service.library.list_clips("bob-again") == []
    assert service.library.list_clips("api") == []  # a page without a key could never come back: nothing kept
    for page in ("alice-again", "bob-again", "api"):
        service.close_session(page)


def test_idle_sessions_are_freed_in_the_background(model_dir, clips, tmp_path):
    svc = Explorer(model=str(model_dir), limits=Limits(session_idle_s=0.2), embedder=None, assets=clips, root=tmp_path)
    try:
        directory = svc.sessions.get("idle").directory
        deadline = time.monotonic() + 5
        while ("idle" in svc.sessions or directory.exists()) and time.monotonic() < deadline:  # closed after removal
            time.sleep(0.05)
        assert "idle" not in svc.sessions and not directory.exists()
    finally:
        svc.close()


# ------------------------------------------------------------ first view, stale state, map clicks


def test_a_new_page_starts_with_the_demo_clips_and_useful_picks(service, sid, monkeypatch):
    monkeypatch.setattr(service, "demo", ("translate.webm", "pair_motion.webm", "pair_appearance.webm", "missing.webm"))
    monkeypatch.setattr(service, "_demo_clips", {})
    gallery_html, status, card, quality, *rest = service.library.start(sid)
    pickers, zones, (figure, _note, strips) = rest[:9], rest[9:13], rest[13:]
    assert [c["name"] for c in service.library.list_clips(sid)] == ["translate", "pair_motion", "pair_appearance"]
    assert "Started with 3 example clips" in status and gallery_html.count("data-clip-id=") == 3
    assert "**Quality**: not evaluated" in card and quality.startswith("Model quality: not evaluated")
    picks = dict(zip(PICKS, [p.value for p in pickers]))
    assert picks["remove"] is None and picks["map"] == picks["steer"] == "c1"
    assert (picks["motion"], picks["appearance"]) == ("c2", "c3") and 'data-clip-id="c2"' in zones[0]
    assert sum(len(t.x) for t in figure.data if t.name in ("translate", "pair_motion", "pair_appearance")) == 15
    assert strips.count("<img data-clip-index=") == 3
    service.library.remove_clip(sid, "c3")
    assert len(service.library.start(sid)[0].split("data-clip-id=")) == 3  # a reload does not add them again


def test_removing_a_clip_clears_it_from_every_view(service, sid):
    add(service, sid, "translate.webm", "rotate.webm")
    picks = ["c2", "c2", "c1", "c2", "c1", "c2", "c1", "c2", "c1"]
    service.library.remove_clip(sid, "c2")
    gallery_html, *rest = service.library.views(sid, *picks)
    pickers, zones, strips, frames = rest[:9], rest[9:13], rest[13], rest[14:]
    assert 'data-clip-id="c2"' not in gallery_html + "".join(zones) + strips
    assert all(p.options == [("translate (c1)", "c1")] for p in pickers)
    assert [p.value for p in pickers] == [None if v == "c2" else KEEP for v in picks]
    assert 'data-clip-id="c1"' in zones[1] and "Drag a clip" in zones[0]
    assert list(frames) == [None, None, None]  # the chosen transition's clip is gone
    assert list(service.library.views(sid, *["c1"] * 9)[-3:]) == [KEEP, KEEP, KEEP]


def test_clicking_a_map_point_chooses_its_transition_and_steering_start(service, sid):
    add(service, sid, "translate.webm", "rotate.webm")
    figure, _ = service.map.action_map(sid, "clip", "pca")
    row, version, clip_index, t = figure.data[1].customdata[2]
    clip, t_range, frame_t, frame_next, predicted, figure, _, steer_clip, frame_range = service.map.select_point(
        sid, row, version, "clip", "pca")
    assert (clip, steer_clip, t_range, frame_range) == ("c2", "c2", Range(4, 2), Range(5, 2)) and (clip_index, t) == (1, 2)
    assert np.array_equal(frame_t, service.sessions.get(sid).library.get("c2").frames[2]) and predicted.shape == (64, 64, 3)
    assert "chosen transition" in [trace.name for trace in figure.data]
    service.library.remove_clip(sid, "c1")
    with pytest.raises(UserError, match="library changed"):
        service.map.select_point(sid, row, version)


def test_auto_keeps_the_layout_the_user_is_using(service, sid):
    UMAP_GATE.set()
    add(service, sid, "translate.webm", "rotate.webm")
    service.map.action_map(sid, "clip", "auto")
    service.sessions.get(sid).action_map.umap.result(10)
    figure, _ = service.map.poll_map(sid, "clip", "auto")
    assert figure.layout.xaxis.title.text == "UMAP 1"
    UMAP_GATE.clear()
    add(service, sid, "camera.webm")
    figure, note = service.map.action_map(sid, "clip", "auto")
    assert figure.layout.xaxis.title.text == "UMAP 1 (earlier layout)" and "placed among their neighbours" in note
    service.map.transition(sid, "c1", 1, "clip", "auto")  # the user works with this layout
    UMAP_GATE.set()
    service.sessions.get(sid).action_map.umap.result(10)
    figure, note = service.map.poll_map(sid, "clip", "auto")
    assert figure.layout.xaxis.title.text == "UMAP 1 (earlier layout)" and note == NEW_LAYOUT  # the button shows
    assert service.map.poll_map(sid, "clip", "auto") == (KEEP, KEEP)
    figure, note = service.map.adopt_layout(sid, "clip", "auto")
    assert figure.layout.xaxis.title.text == "UMAP 1" and note == ""


def test_steering_strip_shows_each_direction(service, sid):
    add(service, sid, "translate.webm", "rotate.webm")
    service.steer.start(sid, "c1", 1)
    strip = service.steer.strip(sid)
    assert strip.shape == (5 * 64 + 4 * 2, 3 * 64 + 2 * 2, 3) and strip.dtype == np.uint8
    left, middle = strip[:64, :64].astype(int), strip[:64, 66:130].astype(int)
    assert np.abs(left - middle).mean() > 0  # -2 σ along direction 1 differs from 0 σ


def test_letterbox_or_crop_is_chosen_and_said_on_the_card(service, sid, tmp_path):
    frames = np.zeros((4, 48, 64, 3), np.uint8)
    frames[:, :, :8] = 255  # a white band at the left edge: kept by letterbox, cut by crop
    path = write_video(frames, tmp_path / "wide.webm", fps=4)
    gallery_html, _ = service.library.add_files(sid, [str(path)], "letterbox")
    assert "4:3, letterboxed" in gallery_html
    service.library.add_files(sid, [str(path)], "crop")
    boxed, cropped = (service.sessions.get(sid).library.get(c).frames[0] for c in ("c1", "c2"))
    assert boxed[:8].max() < 40 and boxed[32, :4].mean() > 200  # black bars above, the band kept
    assert cropped[32, :4].mean() < 40
    assert "centre-cropped (25% of the width not shown)" in service.library.gallery(sid)
    with pytest.raises(UserError, match="Fit must be one of"):
        service.library.add_files(sid, [str(path)], "stretch")


def test_play_binds_cluster_centres_to_keys_and_steps_the_run(service, sid):
    add(service, sid, "translate.webm", "rotate.webm")
    with pytest.raises(UserError, match="start frame first"):
        service.play.setup(sid, 3)
    service.steer.start(sid, "c1", 1)
    panel, status = service.play.setup(sid, 3)
    token = re.search(r'data-play-token="([^"]+)"', panel).group(1)
    assert panel.count("data-play-key=") == 3 and "3 keys bound" in status
    steering = service.sessions.get(sid).steering
    assert steering.keys.centres.shape == (3, 8) and [keys[-1] for keys in steering.keys.keys] == ["1", "2", "3"]
    arrows = [keys[0] for keys in steering.keys.keys if len(keys) == 3]
    assert panel.count("<b>") == 3 and sum(panel.count(s) for s in "↑↓←→") == len(arrows)
    first = service.play.key(token, "1")
    assert first["frames"] == 2 and first["frame"].startswith("data:image/png;base64,")
    assert service.play.key(token, "2")["frames"] == 3 and service.play.key(token, "3")["frames"] == 4
    assert len(steering.frames) == 4  # the played frames joined the steering run
    assert "No action is bound" in service.play.key(token, "9")["error"]
    assert "has ended" in service.play.key("not-a-token", "w")["error"]
    service.steer.start(sid, "c1", 0)
    assert "changed" in service.play.key(token, "w")["error"]


# ------------------------------------------------------------ paths that broke


def test_an_upload_keeps_the_pca_layout_in_use_until_the_user_asks(service, sid):
    UMAP_GATE.clear()
    add(service, sid, "translate.webm", "rotate.webm")
    service.map.action_map(sid, "clip", "auto")
    service.steer.start(sid, "c1", 0)
    service.steer.locate(sid, "clip", "auto", 0, 0, 0, 0, 0)  # steering on the PCA map: the user uses it
    UMAP_GATE.set()
    service.sessions.get(sid).action_map.umap.result(10)
    figure, note = service.map.poll_map(sid, "clip", "auto")
    assert figure.layout.xaxis.title.text.startswith("direction 1 in σ (") and note == NEW_LAYOUT
    add(service, sid, "camera.webm")
    service.map.action_map(sid, "clip", "auto")
    service.sessions.get(sid).action_map.umap.result(10)
    figure, note = service.map.poll_map(sid, "clip", "auto")
    assert figure.layout.xaxis.title.text.startswith("direction 1 in σ (") and note == NEW_LAYOUT  # not UMAP by itself


def test_the_steering_run_comes_back_with_its_clip_and_frame(service, sid):
    key = service.attach(sid, None)
    add(service, sid, "translate.webm", "rotate.webm")
    service.steer.start(sid, "c2", 2)
    service.steer.step(sid, 0.5, 0, 0, 0, 0)
    frames = [f.copy() for f in service.sessions.get(sid).steering.frames]
    service.close_session(sid)  # a reload: the page comes back with the browser's key
    again = f"{sid}-again"
    assert service.attach(again, key) == key
    clip, frame, current, preview, readout, *values = service.steer.resume(again, "c1")
    assert (clip, frame) == ("c2", Range(5, 2)) and np.array_equal(current, frames[-1])
    assert len(service.sessions.get(again).steering.frames) == 2 and len(values) == 5
    service.close_session(again)
    fresh = f"{sid}-fresh"
    add(service, fresh, "translate.webm")
    assert service.steer.resume(fresh, "c1")[:2] == ("c1", Range(5, 0))  # no run yet: a new one at frame 0
    service.close_session(fresh)


def test_a_reload_with_an_empty_library_shows_the_first_view_without_an_error(service, sid):
    key = service.attach(sid, None)
    add(service, sid, "translate.webm")
    service.library.start(sid)
    service.steer.start(sid, "c1", 1)
    service.library.remove_clip(sid, "c1")
    service.close_session(sid)  # a reload: the page's first view, in its order
    again = f"{sid}-again"
    service.attach(again, key)
    assert service.library.start(again)[1] == ""
    clip, frame, current, preview, readout, *values = service.steer.resume(again, None)
    assert (clip, frame, current, preview) == (None, Range(0, 0), None, None) and readout.startswith("Add a clip")
    assert service.steer.strip(again) is None
    assert service.steer.locate(again, "clip", "auto", *values)[2] is KEEP
    service.close_session(again)


def test_plan_defaults_aim_at_the_clips_last_frame_and_keep_the_map_note_out(service, sid):
    add(service, sid, "translate.webm")
    assert service.library.clip_range(sid, "c1", at_end=True) == Range(5, 5)
    UMAP_GATE.clear()
    service.map.action_map(sid, "clip", "auto")  # UMAP computing: the map has a note
    status = service.plan.run(sid, "c1", 0, "c1", 5, None, 2, "clip", "auto")[2]
    UMAP_GATE.set()
    assert status.startswith("**The plan") and "UMAP" not in status


def test_the_status_counts_only_the_example_clips_it_added(service, sid, monkeypatch):
    monkeypatch.setattr(service, "demo", ("translate.webm", "rotate.webm"))
    monkeypatch.setattr(service, "_demo_clips", {})
    assert "Started with 2 example clips" in service.library.start(sid)[1]
    add(service, sid, "camera.webm", "pair_motion.webm")
    status = service.library.start(sid)[1]  # a reload
    assert "example" not in status and "4 clips" in status


def test_a_clip_faded_in_from_black_gets_a_frame_with_content_as_thumbnail():
    from explorer.clips import Clip

    frames = np.zeros((4, 8, 8, 3), np.uint8)
    frames[1:, 2:6, 2:6] = 200
    clip = Clip("c1", "fade", frames, 8.0, np.zeros((3, 2), np.float32))
    assert clip.thumbnail().max() == 200


def test_only_keys_whose_move_has_a_direction_get_an_arrow():
    shifts = np.array([[0.1, 0.0], [3.0, 0.4], [-0.2, -2.0], [2.0, 2.0], [1.0, 0.0]])
    assert play.assign_keys(shifts) == [("1",), ("ArrowRight", "d", "2"), ("ArrowUp", "w", "3"), ("4",), ("5",)]
    frame = np.zeros((32, 32, 3), np.uint8)
    frame[8:16, 8:16] = 255
    assert play.shift(frame, np.roll(frame, 3, axis=1)) == pytest.approx([3, 0], abs=0.3)


def test_the_map_and_the_sliders_share_one_unit(service, sid):
    add(service, sid, "translate.webm", "rotate.webm")
    service.steer.start(sid, "c1", 1)
    figure, _, _ = service.steer.locate(sid, "clip", "pca", 2.5, -1.0, 0, 0, 0)
    star = next(t for t in figure.data if t.name == "current action")
    assert (star.x[0], star.y[0]) == pytest.approx((2.5, -1.0), abs=1e-4)  # the sliders' values are the map's
    assert "in σ" in figure.layout.xaxis.title.text

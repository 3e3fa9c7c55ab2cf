"""The corpus indexer (`python -m dila.index`): schema, manifest, errors, resume, determinism, sources,
loading by other tools, and the Ray engine against the single-process run."""
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from helpers import ROOT

import dila.index.build as build
import dila.index.local as local
from dila.index import IndexBusyError, IndexConfig, IndexMismatchError, IndexStore, build_index
from dila.index.__main__ import main
from dila.index.demo import write_procedural_corpus
from dila.index.encode import clip_actions, load_pipeline, weights_sha256, window_starts
from dila.index.schema import transition_schema
from dila.index.sources import open_corpus
from dila.video import read_video, write_gif

FRAMES = 10
CLIPS = ["camera/camera-00.webm", "rotate/rotate-00.webm", "translate/translate-00.webm", "wave.gif"]


@cache
def _cached_pipeline(model=None, codec=None):
    return load_pipeline(IndexConfig(".", ".", model=model, codec=codec))


@pytest.fixture(autouse=True)
def one_model_load(monkeypatch):
    """Load (and hash) each model once in this file."""
    monkeypatch.setattr(build, "load_pipeline", lambda config: _cached_pipeline(config.model, config.codec))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    write_procedural_corpus(root, clips_per_kind=1, frames=FRAMES, kinds=("translate", "rotate", "camera"))
    ramp = np.linspace(0, 255, 48 * 80).reshape(48, 80).astype(np.uint8)
    write_gif(np.stack([np.dstack([np.roll(ramp, 4 * t, axis=1)] * 3) for t in range(6)]), root / "wave.gif", fps=5)
    (root / "broken.mp4").write_bytes(b"not a video at all")
    shutil.copy(root / "rotate" / "rotate-00.webm", root / ".hidden.webm")
    return root


@pytest.fixture(scope="module")
def index(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("index")
    _cached_pipeline(None)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(build, "load_pipeline", lambda config: _cached_pipeline(config.model, config.codec))
        main([str(corpus), "--out", str(out), "--frames", str(FRAMES), "--window", str(FRAMES), "--no-progress"])
    return out


def rows(out) -> pa.Table:
    return pq.read_table(out / "data").sort_by([("clip_id", "ascending"), ("transition", "ascending")])


def errors(out) -> pa.Table:
    return pq.read_table(out / "errors")


def test_rows_follow_the_schema_one_per_transition(index, corpus):
    table = rows(index)
    assert table.schema == transition_schema(16)
    ids = table.column("clip_id").to_pylist()
    assert sorted(set(ids)) == CLIPS
    counts = {clip: ids.count(clip) for clip in CLIPS}
    assert counts == {**{clip: FRAMES - 1 for clip in CLIPS[:3]}, "wave.gif": 5}
    gif = table.filter(pa.compute.equal(table.column("clip_id"), "wave.gif")).to_pydict()
    assert gif["transition"] == list(range(5)) and gif["frame_index"] == list(range(5))
    assert gif["next_frame_index"] == list(range(1, 6))
    assert gif["timestamp"] == pytest.approx([i / 5 for i in range(5)])
    assert set(gif["clip_frames"]) == {6} and set(gif["clip_fps"]) == {5.0}
    assert (set(gif["clip_height"]), set(gif["clip_width"])) == ({48}, {80})
    webm = table.filter(pa.compute.equal(table.column("clip_id"), CLIPS[0])).to_pydict()
    assert set(webm["clip_height"]) == {64} and set(webm["source"]) == {CLIPS[0]}
    assert IndexStore(index).clip_path(CLIPS[0]).resolve() == (corpus / CLIPS[0]).resolve()
    assert np.isfinite(np.stack(webm["action"])).all()


def test_actions_are_the_ones_the_explorer_computes(index, corpus):
    from explorer.decode import decode_clip

    pipeline, _ = _cached_pipeline(None)
    for clip in (CLIPS[1], "wave.gif"):
        frames = decode_clip(str(corpus / clip), pipeline.image_size, FRAMES, 7200.0)["frames"]
        table = rows(index)
        mine = table.filter(pa.compute.equal(table.column("clip_id"), clip)).column("action").to_pylist()
        np.testing.assert_array_equal(np.array(mine, np.float32), pipeline.encode_clip(frames).actions)


def test_an_undecodable_file_goes_to_the_errors_table(index):
    table = errors(index).to_pydict()
    assert table["clip_id"] == ["broken.mp4"] and table["source"] == ["broken.mp4"]
    assert "not a video file" in table["error"][0]


def test_manifest_names_model_codec_settings_and_counts(index):
    manifest = json.loads((index / "manifest.json").read_text())
    pipeline, _ = _cached_pipeline(None)
    assert manifest["format"] == "dila-index" and manifest["complete"] is True
    assert manifest["model"]["source"] == "bundled" and manifest["model"]["action_dim"] == 16
    assert manifest["model"]["sha256"] == weights_sha256(pipeline.model)
    assert manifest["codec"] == {"source": "bundled", "kind": "LightCodec", "image_size": 64,
                                 "sha256": weights_sha256(pipeline.codec)}
    assert manifest["settings"]["frames"] == FRAMES and manifest["settings"]["fit"] == "letterbox"
    assert manifest["counts"] == {"clips": 4, "transitions": 3 * (FRAMES - 1) + 5, "errors": 1, "shards": 1}
    assert manifest["schema"]["action"] == "fixed_size_list<item: float>[16]"


def test_same_input_same_rows(index, corpus, tmp_path):
    build_index(IndexConfig(str(corpus), tmp_path, frames=FRAMES, window=FRAMES, progress=False, shard_rows=5))
    assert rows(tmp_path).equals(rows(index))
    assert len(list((tmp_path / "data").glob("*.parquet"))) == 4


def test_a_killed_run_resumes_without_doing_a_clip_twice(index, corpus, tmp_path, monkeypatch):
    config = IndexConfig(str(corpus), tmp_path, frames=FRAMES, window=FRAMES, progress=False, shard_rows=1)
    calls = []

    def dies_on_the_third_clip(pipeline, frames, window):
        calls.append(len(frames))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return clip_actions(pipeline, frames, window)

    monkeypatch.setattr(local, "clip_actions", dies_on_the_third_clip)
    with pytest.raises(KeyboardInterrupt):
        build_index(config)
    assert sorted(p.name for p in (tmp_path / "data").glob("*.parquet")) == ["part-00000.parquet", "part-00001.parquet"]
    assert [p.name for p in (tmp_path / "errors").glob("*.parquet")] == ["part-00000.parquet"]
    assert json.loads((tmp_path / "manifest.json").read_text())["complete"] is False
    (tmp_path / "data" / ".part-00003.parquet.tmp").write_bytes(b"PAR1 half a shard")
    monkeypatch.setattr(local, "clip_actions", clip_actions)
    manifest = build_index(config)
    assert rows(tmp_path).equals(rows(index))
    assert errors(tmp_path).equals(errors(index))
    assert manifest["complete"] and manifest["counts"]["clips"] == 4
    assert not list(tmp_path.rglob("*.tmp"))
    assert build_index(config)["counts"] == manifest["counts"]


def test_a_run_killed_with_sigkill_resumes(index, corpus, tmp_path):
    out = tmp_path / "index"
    command = [sys.executable, "-m", "dila.index", str(corpus), "--out", str(out), "--frames", str(FRAMES),
               "--window", str(FRAMES), "--shard-rows", "1", "--no-progress"]
    threads = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}  # the same rows as in this process
    process = subprocess.Popen(command, cwd=ROOT, env=threads, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list((out / "data").glob("part-*.parquet")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.kill()
    process.wait()
    assert json.loads((out / "manifest.json").read_text())["complete"] is False
    assert 1 <= len(list((out / "data").glob("part-*.parquet"))) < 4
    build_index(IndexConfig(str(corpus), out, frames=FRAMES, window=FRAMES, shard_rows=1, progress=False))
    assert rows(out).equals(rows(index)) and errors(out).equals(errors(index))


def test_an_index_made_another_way_is_not_added_to(index, corpus):
    with pytest.raises(IndexMismatchError, match="different settings"):
        build_index(IndexConfig(str(corpus), index, frames=FRAMES + 2, progress=False))


def test_two_runs_never_write_one_index_at_once(index, corpus):
    config = IndexConfig(str(corpus), index, frames=FRAMES, window=FRAMES, progress=False)
    holder = IndexStore(index)
    holder.open(json.loads((index / "manifest.json").read_text()))
    with pytest.raises(IndexBusyError, match="another run is writing this index"):
        build_index(config)
    holder.close()
    assert build_index(config)["counts"]["transitions"] == rows(index).num_rows


def test_long_clips_are_encoded_in_windows_that_share_a_frame(corpus):
    assert window_starts(5, 8) == [0]
    assert window_starts(10, 4) == [0, 3, 6]
    assert window_starts(9, 4) == [0, 3, 5]
    pipeline, _ = _cached_pipeline(None)
    frames = read_video(corpus / CLIPS[2], size=(64, 64)).frames
    actions = clip_actions(pipeline, frames, 4)
    assert actions.shape == (FRAMES - 1, 16)
    np.testing.assert_allclose(actions[:3], pipeline.encode_clip(frames[:4]).actions, atol=1e-6)
    np.testing.assert_allclose(actions[-2:], pipeline.encode_clip(frames[-4:]).actions[-2:], atol=1e-6)


def test_any_model_and_codec_the_app_loads(corpus, tmp_path, tiny_model):
    from dila.codecs.light import LightCodec, LightCodecConfig
    from dila.hub import save_world_model

    model_dir = save_world_model(tiny_model, tmp_path / "model")
    torch.manual_seed(0)
    codec = LightCodec(LightCodecConfig(image_size=32, grid_size=4, latent_dim=32, width=16, groups=4)).eval()
    codec.save_pretrained(model_dir / "codec")
    manifest = build_index(IndexConfig(str(corpus), tmp_path / "index", model=str(model_dir), frames=FRAMES,
                                       progress=False))
    assert manifest["model"]["source"] == str(model_dir) and manifest["model"]["action_dim"] == 8
    assert manifest["model"]["sha256"] == weights_sha256(tiny_model)
    assert manifest["codec"]["source"] == str(model_dir / "codec") and manifest["codec"]["image_size"] == 32
    assert rows(tmp_path / "index").schema == transition_schema(8)
    assert manifest["counts"]["transitions"] == 3 * (FRAMES - 1) + 5


def test_sources_folder_glob_and_single_file(corpus):
    assert [t.clip_id for t in open_corpus(str(corpus)).tasks] == ["broken.mp4", *CLIPS]
    globbed = open_corpus(str(corpus / "*" / "*.webm"))
    assert [t.clip_id for t in globbed.tasks] == CLIPS[:3] and globbed.root == str(corpus)
    single = open_corpus(str(corpus / "wave.gif"))
    assert [t.clip_id for t in single.tasks] == ["wave.gif"]
    with pytest.raises(FileNotFoundError, match="no such file"):
        open_corpus(str(corpus / "nothing-here"))
    with pytest.raises(FileNotFoundError, match="no videos"):
        open_corpus(str(corpus / "*.mkv"))


def test_read_video_says_where_each_frame_is_in_the_source(corpus):
    video = read_video(corpus / CLIPS[0], max_frames=4)
    assert video.indices.tolist() == [0, 3, 6, 9]
    assert video.source.frames == FRAMES and video.source.fps == pytest.approx(8.0)
    assert (video.source.height, video.source.width) == (64, 64)


def test_a_local_datasets_video_dataset_is_a_source(index, corpus, tmp_path):
    datasets = pytest.importorskip("datasets")
    files = [str(corpus / clip) for clip in CLIPS[:2]] + [str(corpus / "broken.mp4")]
    dataset = datasets.Dataset.from_dict({"video": files}).cast_column("video", datasets.Video())
    dataset.save_to_disk(str(tmp_path / "dataset"))
    out = tmp_path / "index"
    manifest = build_index(IndexConfig(str(tmp_path / "dataset"), out, frames=FRAMES, window=FRAMES, progress=False))
    assert manifest["source"]["kind"] == "dataset" and manifest["counts"]["clips"] == 2
    assert IndexStore(out).clip_path("camera-00.webm") is None
    table = rows(out)
    assert sorted(set(table.column("clip_id").to_pylist())) == ["train/0", "train/1"]
    assert sorted(set(table.column("source").to_pylist())) == ["camera-00.webm", "rotate-00.webm"]
    reference = rows(index).filter(pa.compute.is_in(rows(index).column("clip_id"), pa.array(CLIPS[:2])))
    assert table.column("action").equals(reference.column("action"))
    assert errors(out).column("error").to_pylist()[0].startswith("broken.mp4: not a video file")


def test_the_index_loads_in_datasets_polars_and_duckdb(index):
    shards = str(index / "data" / "*.parquet")
    expected = rows(index)
    datasets = pytest.importorskip("datasets")
    loaded = datasets.load_dataset("parquet", data_files=shards, split="train")
    assert len(loaded) == expected.num_rows and loaded.features["action"].length == 16
    polars = pytest.importorskip("polars")
    frame = polars.read_parquet(shards)
    assert frame.height == expected.num_rows and frame.schema["action"] == polars.Array(polars.Float32, 16)
    duckdb = pytest.importorskip("duckdb")
    [(count, width)] = duckdb.sql(f"SELECT count(*), max(len(action)) FROM '{shards}'").fetchall()
    assert (count, width) == (expected.num_rows, 16)


def test_the_default_engine_needs_no_ray(index, corpus, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    config = IndexConfig(str(corpus), tmp_path / "local", frames=FRAMES, window=FRAMES, progress=False)
    build_index(config)
    assert rows(tmp_path / "local").equals(rows(index))
    with pytest.raises(ImportError, match=r'pip install "ray\[data\]"'):
        build_index(replace(config, out=tmp_path / "ray", engine="ray"))


def test_ray_with_two_workers_gives_the_single_process_rows(corpus, tmp_path):
    """Bit for bit at the same torch thread count (one per actor); float results depend on it (~1e-6)."""
    ray = pytest.importorskip("ray")
    config = IndexConfig(str(corpus), tmp_path / "local", frames=FRAMES, window=FRAMES, progress=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        single = build_index(config)
    finally:
        torch.set_num_threads(threads)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        spread = build_index(replace(config, out=tmp_path / "ray", engine="ray", workers=2))
    finally:
        ray.shutdown()
    assert spread["counts"] == single["counts"]
    assert rows(tmp_path / "ray").equals(rows(tmp_path / "local"))
    assert errors(tmp_path / "ray").equals(errors(tmp_path / "local"))


def test_the_demo_index_ships_complete():
    from dila.index.demo import DEMO_INDEX

    manifest = json.loads((DEMO_INDEX / "manifest.json").read_text())
    table = pq.read_table(DEMO_INDEX / "data")
    assert manifest["complete"] and manifest["source"]["root"] == "clips" and manifest["model"]["source"] == "bundled"
    assert manifest["model"]["sha256"] == weights_sha256(_cached_pipeline(None)[0].model)
    assert table.num_rows == manifest["counts"]["transitions"] and table.schema == transition_schema(16)
    store = IndexStore(DEMO_INDEX)
    assert all(store.clip_path(source).is_file() for source in set(table.column("source").to_pylist()))
    assert store.clip_path("rotate/rotate-00.webm") == DEMO_INDEX / "clips" / "rotate" / "rotate-00.webm"


def test_a_synthetic_index_of_any_size(tmp_path):
    from dila.index.synthetic import make_synthetic_index

    manifest = make_synthetic_index(tmp_path, transitions=1000, shard_rows=400)
    table = pq.read_table(tmp_path / "data")
    assert manifest["counts"]["transitions"] == table.num_rows == 1000 and manifest["counts"]["shards"] == 3
    assert table.schema == transition_schema(16)
    again = make_synthetic_index(tmp_path / "again", transitions=1000, shard_rows=400)
    assert pq.read_table(tmp_path / "again" / "data").equals(table) and again["counts"] == manifest["counts"]


def test_the_weights_hash_reads_every_tensor_a_scalar_too():
    module = torch.nn.Linear(2, 2)
    module.gain = torch.nn.Parameter(torch.ones(()))
    before = weights_sha256(module)
    with torch.no_grad():
        module.gain.fill_(2.0)
    assert weights_sha256(module) != before

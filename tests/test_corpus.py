"""The corpus view's service without Gradio: a latent-action index opened, coloured, searched,
hovered, clicked, selected and exported, and each kind of bad input answered with a sentence."""
import shutil
import time

import numpy as np
import pyarrow.parquet as pq
import pytest

from dila.index.demo import DEMO_INDEX
from dila.index.synthetic import make_synthetic_index
from dila.video import read_video
from explorer import Explorer, Limits, UserError
from explorer.corpus import PAIRS, load_corpus, read_manifest
from explorer.corpus_figure import PALETTE
from explorer.dev_model import write_dev_model
from explorer.projection import Embedder
from explorer.services.corpus import CorpusService, IndexSources


@pytest.fixture(scope="module", autouse=True)
def one_thread(module_one_thread):
    """As in the app: short calls, no waiting on OpenMP threads when the cores are busy."""


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    model = write_dev_model(tmp_path_factory.mktemp("model"), tiny=True)
    svc = Explorer(model=str(model), limits=Limits(max_clips=6, clip_frames=24), embedder=Embedder(lambda a: a[:, :2]),
                   root=tmp_path_factory.mktemp("sessions"))
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def copied_demo(tmp_path_factory):
    """A copy of the demo index (clips included), free to damage."""
    folder = tmp_path_factory.mktemp("copy") / "demo_copy"
    shutil.copytree(DEMO_INDEX, folder)
    return folder


def rows_drawn(figure) -> np.ndarray:
    """The rows on the map, one per point of the traces that carry rows."""
    return np.concatenate([trace.customdata for trace in figure.data if trace.customdata is not None])


def public(service, listed, cap=1_000_000) -> CorpusService:
    return CorpusService(service, service.library, IndexSources(True, [str(p) for p in listed]), cap)


def test_the_demo_index_opens_with_every_transition_and_names_the_other_model(service, sid):
    figure, note = service.corpus.ready(sid)
    rows = [trace for trace in figure.data if trace.customdata is not None]
    assert {trace.type for trace in rows} == {"scattergl"} and np.array_equal(np.sort(rows_drawn(figure)), np.arange(1380))
    corpus, _ = service.corpus._current(sid)
    for trace in rows:  # a trace per colour, each point at its row's place
        assert isinstance(trace.marker.color, str) and np.array_equal(trace.x, corpus.points[trace.customdata, 0])
    assert "1,380 transitions of 60 clips in 5 source folders" in note
    assert "made with the model `bundled`" in note and "not with the app's model" in note  # the tiny model


@pytest.mark.parametrize("color_by, groups", [("clip", 60), ("source folder", 5), ("cluster", 8)])
def test_colouring_by_clip_folder_and_cluster(service, sid, color_by, groups):
    service.corpus.ready(sid)
    figure, _ = service.corpus.recolour(sid, color_by)
    corpus, _ = service.corpus._current(sid)
    codes, names = corpus.colours(color_by)
    assert len(names) == groups and len(np.unique(codes)) == groups and len(codes) == 1380
    legend = [trace.name for trace in figure.data if trace.customdata is None]
    assert legend == ([] if groups > 12 else names)
    for trace in figure.data:
        if trace.customdata is not None:  # one colour per trace: the rows of one colour group (clips share them)
            assert len(np.unique(codes[trace.customdata] % len(PALETTE))) == 1
    if color_by == "source folder":
        assert names == ["camera", "compose", "rotate", "scale", "translate"]
    with pytest.raises(UserError, match="Colour by must be one of"):
        service.corpus.recolour(sid, "mood")


def test_nearest_neighbours_match_brute_force(service, sid):
    service.corpus.ready(sid)
    corpus, _ = service.corpus._current(sid)
    for row in (0, 500, 1379):
        rows, distances = corpus.nearest(row, 20)
        brute = np.linalg.norm(corpus.actions - corpus.actions[row], axis=1)
        brute[row] = np.inf
        assert np.allclose(np.sort(brute)[:20], distances, atol=1e-5)
        assert np.allclose(brute[rows], distances, atol=1e-5) and row not in rows
    similar = service.corpus.similar(sid, 7, 5)
    assert len(similar) == 5 and similar[0]["distance"] <= similar[-1]["distance"] and "clip_id" in similar[0]


def test_hover_reads_frames_t_and_t1_from_the_video_and_caches_them(service, sid):
    service.corpus.ready(sid)
    corpus, _ = service.corpus._current(sid)
    row = 30
    fields = corpus.row(row)
    PAIRS._pairs.clear()
    started = time.perf_counter()
    tip = service.corpus.hover(sid, row)
    cold = time.perf_counter() - started
    assert f'data-row="{row}"' in tip and tip.count("data:image/png;base64,") == 2
    assert f"frames {fields['frame_index']} → {fields['next_frame_index']}" in tip
    started = time.perf_counter()
    assert service.corpus.hover(sid, row) == tip
    assert time.perf_counter() - started < cold and len(PAIRS._pairs) == 1
    video = read_video(corpus.video(row), max_frames=64, max_pixels=10**6).frames
    first, second = corpus.frames(row)
    from explorer.media import png_data_uri

    assert (first, second) == (png_data_uri(video[fields["frame_index"]]), png_data_uri(video[fields["next_frame_index"]]))
    with pytest.raises(UserError, match="point must be between 0 and 1379"):
        service.corpus.hover(sid, 5000)


def test_a_click_chooses_the_transition_for_steering_and_transfer_with_similar_motions(service, sid):
    service.corpus.ready(sid)
    figure, strip, note = service.corpus.choose(sid, 100, 6)
    assert strip.count('class="dila-pair"') == 6 and "distance" in strip and "Chosen:" in note
    assert [t.name for t in figure.data[-2:]] == ["similar motions", "chosen transition"]
    corpus, _ = service.corpus._current(sid)
    gallery, status, clip_id, frame, zone, motion = service.corpus.to_library(sid)
    assert "Added" in status and motion == clip_id and clip_id in gallery
    assert frame.value == corpus.row(100)["frame_index"]
    assert service.corpus.to_library(sid)[1].startswith(f"{corpus.row(100)['source'].split('/')[-1][:-5]} is in")
    assert len(service.library.list_clips(sid)) == 1


def test_a_selection_shows_its_frames_adds_its_clips_and_exports_its_rows(service, sid, tmp_path):
    service.corpus.ready(sid)
    rows = list(range(0, 92))  # the first four clips, 23 transitions each
    grid, note = service.corpus.select(sid, rows)
    assert "92 transitions of 4 clips selected; 24 of them shown." == note
    assert grid.count('class="dila-pair"') == 24
    gallery, status = service.corpus.add_selection(sid)
    assert status.count("Added") == 4 and len(service.library.list_clips(sid)) == 4
    corpus, _ = service.corpus._current(sid)
    parquet = pq.read_table(service.corpus.export(sid, "Parquet"))
    assert parquet.num_rows == 92 and parquet.column("clip_id").to_pylist() == corpus.table.column("clip_id")[:92].to_pylist()
    assert np.allclose(np.stack(parquet.column("action").to_numpy(zero_copy_only=False)), corpus.actions[:92])
    csv = service.corpus.export(sid, "CSV")
    header = open(csv).readline()
    assert '"action_0"' in header and '"action_15"' in header and sum(1 for _ in open(csv)) == 93
    service.corpus.select(sid, [])
    with pytest.raises(UserError, match="Select transitions"):
        service.corpus.export(sid, "Parquet")


def test_a_corrupt_or_truncated_shard_is_left_out_with_a_sentence(service, sid, tmp_path):
    folder = tmp_path / "two_shards"
    make_synthetic_index(folder, transitions=230, shard_rows=100)
    shards = sorted((folder / "data").glob("part-*.parquet"))
    assert len(shards) == 2  # 115 rows each: five clips of 23 transitions
    shards[0].write_bytes(shards[0].read_bytes()[:300])  # truncated
    figure, note = service.corpus.open(sid, str(folder))
    assert "part-00000.parquet cannot be read (corrupt or truncated) and is left out" in note
    assert len(rows_drawn(figure)) == 230 - 115
    for shard in shards:
        shard.write_bytes(b"PAR1 not parquet")
    with pytest.raises(UserError, match="holds no transitions .*cannot be read: corrupt or truncated"):
        service.corpus.open(sid, str(folder))


def test_a_moved_video_keeps_its_point_and_the_hover_says_its_frames_are_gone(service, sid, copied_demo):
    (copied_demo / "clips" / "rotate" / "rotate-03.webm").rename(copied_demo / "rotate-03.webm")
    figure, _ = service.corpus.open(sid, str(copied_demo))
    corpus, _ = service.corpus._current(sid)
    row = int(np.flatnonzero(corpus.table.column("source").to_numpy(zero_copy_only=False) == "rotate/rotate-03.webm")[0])
    assert len(rows_drawn(figure)) == 1380
    tip = service.corpus.hover(sid, row)
    assert "The frames are gone: rotate/rotate-03.webm has moved or been deleted since indexing." in tip
    service.corpus.choose(sid, row)
    with pytest.raises(UserError, match="rotate-03.webm cannot be added to the library: it has moved or been deleted"):
        service.corpus.to_library(sid)


def test_public_mode_opens_only_the_demo_and_listed_indexes_up_to_its_cap(service, sid, tmp_path):
    listed = tmp_path / "listed"
    make_synthetic_index(listed, transitions=230)
    corpus = public(service, [listed], cap=200)
    with pytest.raises(UserError) as refused:
        corpus.open(sid, str(tmp_path))
    assert str(refused.value) == "This server opens only these indexes: `demo` (the bundled demo index), `listed`."
    with pytest.raises(UserError, match="The index listed holds 230 transitions; this server opens indexes of up to 200."):
        corpus.open(sid, "listed")
    opened = public(service, [listed])
    assert len(rows_drawn(opened.open(sid, "demo")[0])) == 1380
    assert len(rows_drawn(opened.open(sid, "listed")[0])) == 230


def test_a_folder_that_is_no_index_gets_a_sentence(service, sid, tmp_path):
    with pytest.raises(UserError, match="has no manifest.json"):
        service.corpus.open(sid, str(tmp_path))
    (tmp_path / "manifest.json").write_text('{"format": "something else"}')
    with pytest.raises(UserError, match="is not a DiLA index"):
        service.corpus.open(sid, str(tmp_path))


def test_the_layout_is_made_once_per_index(tmp_path):
    manifest = read_manifest(DEMO_INDEX, "demo")
    corpus = load_corpus(DEMO_INDEX, "demo", manifest)
    assert corpus.points.shape == (1380, 2) and np.allclose(corpus.points.std(0), 1, atol=0.01)
    assert corpus.explained[0] >= corpus.explained[1] > 0

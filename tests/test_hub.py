"""Loading and saving: our format, published .pt files, hostile files, and the Hub offline."""
import contextlib
import gc
import os
import socket
import sys
import threading
import time
import warnings

import pytest
import torch
from helpers import free_port
from safetensors.torch import save_file

from dila import hub, hub_fetch
from dila.hub import (
    CheckpointError,
    HubUnavailableError,
    load_world_model,
    save_world_model,
)

REPO = "someone/dila-tiny"


@pytest.fixture
def published_state(fixtures):
    return torch.load(fixtures / "dila_tiny.pt", weights_only=True)["model"]


@pytest.fixture
def tokens():
    return torch.randn(1, 3, 32, 4, 4, generator=torch.Generator().manual_seed(1))


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """An empty Hugging Face cache; `put` stores a file there as a download would."""
    from huggingface_hub import constants

    cache = tmp_path / "hf"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    revision = "0" * 40

    def put(repo_id: str, name: str, write) -> None:
        root = cache / f"models--{repo_id.replace('/', '--')}"
        target = root / "snapshots" / revision / name
        target.parent.mkdir(parents=True, exist_ok=True)
        write(target)
        (root / "refs").mkdir(exist_ok=True)
        (root / "refs" / "main").write_text(revision)

    return put


@torch.no_grad()
def test_round_trip_is_exact(tiny_model, tokens, tmp_path):
    save_world_model(tiny_model, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    loaded = load_world_model(tmp_path)
    assert loaded.config == tiny_model.config and not loaded.training
    assert torch.equal(loaded.one_step(tokens), tiny_model.one_step(tokens))


@pytest.mark.parametrize("wrap", ["model", "module", "bare-prefixed"])
def test_published_pt_variants(published_state, tmp_path, wrap):
    if wrap == "model":
        obj = {"model": published_state, "optimizer": {}}
    elif wrap == "module":
        obj = {"module": {f"module.{k}": v for k, v in published_state.items()}}
    else:
        obj = {f"_orig_mod.{k}": v for k, v in published_state.items()}
    torch.save(obj, tmp_path / "ckpt.pt")
    model = load_world_model(tmp_path / "ckpt.pt")
    assert model.config.embed_dim == 64 and model.config.action_dim == 16


class Exploit:
    def __init__(self, call, *args):
        self.call, self.args = call, args

    def __reduce__(self):
        return (self.call, self.args)


class Payload:
    """A class of this test module: unpickling it would import and build it."""


@pytest.mark.parametrize("make, named", [
    (lambda marker: Exploit(open, str(marker), "w"), "open"),
    (lambda marker: Exploit(os.system, f"touch {marker}"), "system"),
    (lambda marker: Exploit(os.makedirs, str(marker)), "os.makedirs"),
    (lambda marker: Payload(), "Payload"),
], ids=["builtins-open", "os-system", "os-makedirs", "a-class"])
@pytest.mark.parametrize("save", [
    {}, {"pickle_protocol": 4}, {"_use_new_zipfile_serialization": False},
], ids=["zip", "protocol-4", "legacy"])
def test_a_checkpoint_with_code_is_refused_as_code(tmp_path, make, named, save):
    """torch 2.13 words its refusals differently per global (a blocked module's `os.system` is
    not an "Unsupported global"); the pickle's globals decide, whatever the wording."""
    marker = tmp_path / "pwned"
    torch.save({"model": {"x": make(marker)}}, tmp_path / "evil.pt", **save)
    with pytest.raises(CheckpointError, match=f"evil.pt: refused because it contains code \\(.*{named}") as error:
        load_world_model(tmp_path / "evil.pt")
    assert "truncated" not in str(error.value)
    assert not marker.exists()


def test_the_pickle_scan_runs_nothing_and_passes_plain_weights(published_state, tmp_path):
    from dila.pickled import code_globals, pickle_globals

    torch.save({"model": published_state}, tmp_path / "plain.pt")
    torch.save({"model": published_state}, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    assert code_globals(tmp_path / "plain.pt") == [] and code_globals(tmp_path / "legacy.pt") == []
    assert pickle_globals(b"\x80\x02cos\nsystem\nq\x00.") == ["os.system"]


def test_truncated_file(published_state, tmp_path):
    torch.save({"model": published_state}, tmp_path / "full.pt")
    data = (tmp_path / "full.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.pt"):
        load_world_model(tmp_path / "cut.pt")


def test_wrong_shape_names_the_key(published_state, tmp_path):
    key = "content_fusion.fusion_decoder.dec_spatial_transformer.layers.0.4.4.weight"
    state = dict(published_state, **{key: torch.zeros(64, 7)})
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match=r"fusion_decoder\.layers\.0\.ff\.proj_out\.weight"):
        load_world_model(tmp_path / "bad.pt")


def test_foreign_state_dict(tmp_path):
    torch.save({"encoder.weight": torch.zeros(3, 3)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a DiLA checkpoint"):
        load_world_model(tmp_path / "other.pt")


def test_corrupt_safetensors_and_config(tiny_model, tmp_path):
    save_world_model(tiny_model, tmp_path)
    (tmp_path / "config.json").write_text('{"embed_dim": -3}')
    with pytest.raises(CheckpointError, match="invalid config"):
        load_world_model(tmp_path)
    save_world_model(tiny_model, tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match="safetensors"):
        load_world_model(tmp_path)


def test_missing_path_is_not_a_repo_id(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        load_world_model(tmp_path / "nothing-here")


def test_repo_id_from_cache_offline(tiny_model, hf_cache, tokens):
    hf_cache(REPO, "config.json", tiny_model.config.save)
    hf_cache(REPO, "model.safetensors", lambda p: save_file(tiny_model.state_dict(), str(p)))
    model = load_world_model(REPO)
    with torch.no_grad():
        assert torch.equal(model.one_step(tokens), tiny_model.one_step(tokens))


def test_published_repo_from_cache_offline(published_state, hf_cache):
    hf_cache(hub.PUBLISHED_REPO, "phase2/DiLA_final.pt", lambda p: torch.save({"model": published_state}, p))
    assert load_world_model(hub.PUBLISHED_REPO).config.structure_dim == 4


def test_offline_and_uncached_fails_fast(hf_cache):
    start = time.perf_counter()
    with pytest.raises(HubUnavailableError, match="HF_HUB_OFFLINE"):
        load_world_model(REPO)
    assert time.perf_counter() - start < 2.0


def test_offline_fallback(tiny_model, hf_cache, tmp_path):
    save_world_model(tiny_model, tmp_path)
    with pytest.warns(UserWarning, match="instead"):
        model = load_world_model(REPO, fallback=tmp_path)
    assert model.config == tiny_model.config


def test_unreachable_hub_fails_fast_without_retries(hf_cache, monkeypatch):
    port = free_port()
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    start = time.perf_counter()
    with pytest.raises(HubUnavailableError, match="cannot be reached"):
        load_world_model(REPO)
    assert time.perf_counter() - start < 5.0


def test_push_to_hub_uploads_our_format(tiny_model, monkeypatch):
    seen = {}

    class FakeApi:
        def __init__(self, token=None):
            pass

        def create_repo(self, repo_id, private, exist_ok):
            seen["repo"] = repo_id

        def upload_folder(self, repo_id, folder_path, commit_message):
            seen["files"] = sorted(os.listdir(folder_path))
            return "https://hub/commit/1"

    monkeypatch.setattr("huggingface_hub.HfApi", FakeApi)
    assert hub.push_to_hub(tiny_model, REPO) == "https://hub/commit/1"
    assert seen == {"repo": REPO, "files": ["config.json", "model.safetensors"]}


def test_action_adapter_inside_and_beside(published_state, tmp_path):
    adapter = {"mapping.0.weight": torch.randn(16, 4), "mapping.0.bias": torch.zeros(16),
               "mapping.2.weight": torch.randn(16, 16), "mapping.2.bias": torch.zeros(16)}
    torch.save({"model": {**published_state, **{f"Action_decoder.{k}": v for k, v in adapter.items()}}}, tmp_path / "p3.pt")
    model = load_world_model(tmp_path / "p3.pt")
    assert model.config.robot_action_dim == 4
    torch.save({"model": published_state}, tmp_path / "p2.pt")
    torch.save({"model_state_dict": adapter}, tmp_path / "mlp.pth")
    beside = load_world_model(tmp_path / "p2.pt", action_adapter=tmp_path / "mlp.pth")
    actions = torch.randn(3, 4)
    with torch.no_grad():
        assert torch.allclose(model.robot_to_latent(actions), beside.robot_to_latent(actions))


# ---------------------------------------------------------------- hostile files, silent Hubs


@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty"),
    (b"hello world\n" * 10, "not a PyTorch checkpoint"),
    (b"\x80\x04garbage-after-a-pickle-marker", "truncated or damaged"),
])
def test_unreadable_checkpoints_get_a_sentence(tmp_path, content, message):
    (tmp_path / "bad.pt").write_bytes(content)
    with pytest.raises(CheckpointError, match=message) as error:
        load_world_model(tmp_path / "bad.pt")
    assert "(101)" not in str(error.value) and "Errno" not in str(error.value)


def test_empty_dict_and_truncated_zip(published_state, tmp_path):
    torch.save({}, tmp_path / "empty.pt")
    with pytest.raises(CheckpointError, match="holds no weights"):
        load_world_model(tmp_path / "empty.pt")
    torch.save({"model": published_state}, tmp_path / "full.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "full.pt").read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="cut.pt: the checkpoint is truncated or damaged"):
        load_world_model(tmp_path / "cut.pt")


def test_special_files_are_refused_without_opening_them(tmp_path):
    os.mkfifo(tmp_path / "pipe.pt")
    start = time.perf_counter()
    for source in (tmp_path / "pipe.pt", "/dev/zero", "/proc/self/environ"):
        with pytest.raises(CheckpointError, match="not a (regular file|model file)"):
            load_world_model(source)
    assert time.perf_counter() - start < 1.0


@contextlib.contextmanager
def silent_hub(trickle_s: float | None = None):
    """A loopback "Hub" that accepts connections and never answers, or (with `trickle_s`) answers
    one byte every `trickle_s` seconds."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn):
        with conn:
            while trickle_s is not None and not stop.wait(trickle_s):
                try:
                    conn.sendall(b"H")
                except OSError:
                    return
            stop.wait()

    def accept():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        server.close()


def test_a_hub_that_never_answers_falls_back_within_15_s(monkeypatch, tiny_model, tmp_path, hf_cache):
    """15 s: the default 10-s deadline plus at most 5 s of probing, child process and loading;
    measured with a 3-s deadline and the same 5 s beyond it."""
    assert hub_fetch.METADATA_S == 10
    save_world_model(tiny_model, tmp_path)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub_fetch, "METADATA_S", 3.0)
    with silent_hub() as endpoint:
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        start = time.perf_counter()
        with pytest.warns(UserWarning, match="did not answer within 3 s"):
            model = load_world_model(REPO, fallback=tmp_path)
        elapsed = time.perf_counter() - start
    print(f"\nsilent Hub -> fallback model in {elapsed:.1f} s with a 3-s deadline")
    assert model.config == tiny_model.config and 3 <= elapsed < 3 + 5


def test_a_hub_that_trickles_fails_at_the_deadline(monkeypatch, hf_cache):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub_fetch, "METADATA_S", 3.0)
    with silent_hub(trickle_s=0.2) as endpoint:
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        start = time.perf_counter()
        with pytest.raises(HubUnavailableError, match="did not answer within.*HF_HUB_OFFLINE=1"):
            load_world_model(REPO)
        assert time.perf_counter() - start < 6


def test_a_slow_download_is_not_called_a_silent_hub_and_leaves_no_open_pipe(monkeypatch):
    """A fake child that sends the file list (1 MB of files), then nothing: the Hub answered."""
    child = "import json, time; print(json.dumps({'bytes': 1024 ** 2}), flush=True); time.sleep(60)"
    monkeypatch.setattr(hub_fetch, "CHILD", (sys.executable, "-c", child))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        with pytest.raises(hub_fetch.FetchError, match=r"^the Hub answered, but the download \(1.0 MB\) did not finish "
                                                       r"within 1 s$") as error:
            hub_fetch.fetch(REPO, None, metadata_s=0.5)
        elapsed = time.perf_counter() - start
        gc.collect()
    assert error.value.kind == "unavailable" and elapsed < 3
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    stalled = hub_fetch._network_failure(TimeoutError(), downloading=True)
    assert stalled == f"the download stopped (no data for {hub_fetch.REQUEST_TIMEOUT_S} s)"


def test_repo_ids_and_hub_only():
    assert hub_fetch.is_repo_id(REPO) and hub_fetch.is_repo_id(hub.PUBLISHED_REPO)
    for text in ("/etc/passwd", "~", "../a/b", "a/b/c", "a--b/c", "a/b.git", "etc/..", ".a/b", "a/"):
        assert not hub_fetch.is_repo_id(text), text
    with pytest.raises(CheckpointError, match="not a Hub repo id"):
        load_world_model("/etc", hub_only=True)


def test_the_published_checkpoint_is_picked_by_name():
    names = ["phase1/DiLA_final.pt", "phase2/DiLA_step10.pt", "phase2/DiLA_final.pt", "README.md"]
    assert hub_fetch.pick_checkpoint(names, REPO) == "phase2/DiLA_final.pt"
    assert hub_fetch.choose(["config.json", "model.safetensors", "x.pt"], REPO, None) == ["config.json", "model.safetensors"]
    with pytest.raises(hub_fetch.FetchError, match="2 checkpoint files"):
        hub_fetch.pick_checkpoint(["a.pt", "b.pt"], REPO)


def test_codec_files_from_a_trickling_hub_fail_at_the_deadline(monkeypatch, tmp_path):
    from dila.codecs.rae import CodecLoadError, load_rae_codec

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(hub_fetch, "METADATA_S", 2.0)
    with silent_hub(trickle_s=0.2) as endpoint:
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        start = time.perf_counter()
        with pytest.raises(CodecLoadError, match="RAE decoder.*did not answer within"):
            load_rae_codec()
        assert time.perf_counter() - start < 5

"""Which model sources a user may load, in public and in local use."""
import os
import time
from pathlib import Path

import pytest

from explorer import Explorer, Limits, UserError
from explorer.dev_model import write_dev_model
from explorer.sources import SourcePolicy

pytestmark = pytest.mark.usefixtures("module_one_thread")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return write_dev_model(root / "served", tiny=True), write_dev_model(root / "listed", tiny=True, seed=1)


@pytest.fixture(scope="module")
def public(models, tmp_path_factory):
    served, listed = models
    policy = SourcePolicy(str(served), public=True, listed=[str(listed)])
    svc = Explorer(sources=policy, limits=Limits(), embedder=None, root=tmp_path_factory.mktemp("sessions"))
    yield svc
    svc.close()


def test_public_refusals_are_one_sentence_and_fast(public, tmp_path):
    os.mkfifo(tmp_path / "pipe")
    sources = ["/etc/passwd", "/etc/passwdX", "/etc", "~", "/proc/self/cwd", str(tmp_path / "pipe"),
               "../checkpoints", "./checkpoints", "/dev/zero", "~root/x"]
    messages = set()
    for source in sources:
        start = time.perf_counter()
        with pytest.raises(UserError) as error:
            public.model.load("visitor", source)
        assert time.perf_counter() - start < 1.0, source
        messages.add(str(error.value))
    assert messages == {public.models.policy.refusal()}
    assert "`bundled`, `listed`, a Hub repo id" in messages.pop()


def test_public_loads_default_bundled_listed_and_shows_no_paths(public, models):
    served, listed = models
    card = public.model.load("visitor", "listed")
    assert "**Model** `listed`" in card and str(listed) not in card
    assert public.models.get(public.sessions.get("visitor").model_key).key == str(listed.resolve())
    card = public.model.load("visitor", "")
    assert "**Model** `served`" in card and str(served) not in card and "/" not in card.split("·")[0]


def test_public_repo_ids_are_hub_only_and_their_errors_name_no_path(public, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("x")
    with pytest.raises(UserError, match="Could not load the model `etc/passwd`: this server does not download") as error:
        public.model.load("visitor", "etc/passwd")
    assert str(tmp_path) not in str(error.value)


def test_an_unavailable_hub_model_gets_advice_that_fits_the_mode(public, models, tmp_path):
    """Public: offline mode is the operator's setting; the sentence neither names it nor asks to
    try again (retrying cannot help)."""
    served, _ = models
    with pytest.raises(UserError) as error:
        public.model.load("visitor", "owner/not-cached")
    assert str(error.value) == (
        "Could not load the model `owner/not-cached`: this server does not download models and holds no copy of "
        "this one. Choose one it holds: the default (leave the box empty), `bundled`, `listed`.")
    local = Explorer(sources=SourcePolicy(str(served), public=False, listed=[]), embedder=None, root=tmp_path)
    try:
        with pytest.raises(UserError) as error:
            local.model.load("me", "owner/not-cached")
    finally:
        local.close()
    assert "HF_HUB_OFFLINE is set" in str(error.value)
    assert str(error.value).endswith("(`hf download owner/not-cached`) and copy the cache, "
                                     "or pass a local directory or .pt file.")
    assert "local directory" not in public.models.policy.placeholder() and "`listed`" in public.models.policy.placeholder()
    assert "a local directory or .pt file" in local.models.policy.placeholder()


def test_local_use_loads_paths_but_never_opens_special_files(models, tmp_path):
    served, _ = models
    policy = SourcePolicy(str(served), public=False, listed=[])
    assert policy.find(str(served)).key == str(served.resolve())
    assert policy.find("bundled").label == "bundled" and policy.find("").label == "served"
    os.mkfifo(tmp_path / "pipe.pt")
    for source in (str(tmp_path / "pipe.pt"), "/dev/zero", "/proc/self/environ", str(tmp_path / "missing")):
        with pytest.raises(UserError, match="This server loads only"):
            policy.find(source)
    assert policy.find("owner/name").hub and policy.from_key("owner/name").hub
    assert SourcePolicy(str(served), public=True, listed=[]).from_key(str(tmp_path)) is None


def test_a_deployment_on_a_space_is_public(monkeypatch):
    monkeypatch.setenv("SPACE_ID", "someone/dila")
    assert SourcePolicy().public and SourcePolicy().max_download_bytes == Limits().max_download_mb * 1024**2
    monkeypatch.delenv("SPACE_ID")
    monkeypatch.setenv("DILA_MODELS", os.pathsep.join(["/srv/a", "/srv/b"]))
    assert not SourcePolicy().public and sorted(SourcePolicy().listed) == ["a", "b"]
    assert SourcePolicy().default.path == Path(__file__).resolve().parent.parent / "checkpoints"

"""What a hostile or crashing world leaves behind: words that blame the right thing, no folders
or processes left over, one session's slow download never holding up another's load."""
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

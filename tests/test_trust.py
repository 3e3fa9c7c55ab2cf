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

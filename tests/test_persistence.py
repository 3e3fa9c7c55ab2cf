"""Sessions kept on disk: the same browser key finds its library, picks, model and steering run
again after a restart; forged and expired keys get a fresh session; disk use is capped."""
import os
import time

import numpy as np
import pytest

from dila.data.procedural import render_pair
from dila.video import write_video
from explorer import Explorer, Limits
from explorer.dev_model import write_dev_model
from explorer.sessions import STATE_DIR

pytestmark = pytest.mark.usefixtures("module_one_thread")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    a, b = render_pair(1, "train", "translate", frames=6, size=32)
    write_video(a.frames, folder / "motion.webm", fps=8)
    write_video(b.frames, folder / "look.webm", fps=8)
    models = tmp_path_factory.mktemp("models")
    return folder, write_dev_model(models / "first", tiny=True), write_dev_model(models / "second", tiny=True, seed=1)


def explorer(setup, root, **limits):
    folder, model, _ = setup
    return Explorer(model=str(model), limits=Limits(clip_frames=6, umap_min_points=100, **limits), embedder=None,
                    assets=folder, root=root)


def test_a_restarted_app_gives_the_same_browser_its_session_back(setup, tmp_path):
    _, _, second = setup
    before = explorer(setup, tmp_path)
    try:
        key = before.attach("page-1", None)
        before.library.add_example("page-1", "motion.webm")
        before.library.add_example("page-1", "look.webm")
        before.model.load("page-1", str(second))
        before.library.pick("page-1", "c2", "motion")
        before.steer.start("page-1", "c1", 2)
        before.steer.step("page-1", 0.5, 0, 0, 0, 0)
        steered = [f.copy() for f in before.sessions.get("page-1").steering.frames]
        clips = before.library.list_clips("page-1")
    finally:
        before.close()
    after = explorer(setup, tmp_path)
    try:
        assert after.attach("page-2", key) == key
        assert after.library.list_clips("page-2") == clips and [c["name"] for c in clips] == ["motion", "look"]
        session = after.sessions.get("page-2")
        assert session.picks == {"motion": "c2"} and session.model_key == str(second.resolve())
        assert "**Model** `" + str(second) in after.model.info("page-2")
        assert len(session.steering.frames) == 2 and all(np.array_equal(a, b) for a, b in zip(steered, session.steering.frames))
        frame, _ = after.steer.step("page-2", 0, 0, 0, 0, 0)
        assert frame.shape == steered[0].shape and len(session.steering.frames) == 3
        after.library.add_example("page-2", "motion.webm")
        assert [c["id"] for c in after.library.list_clips("page-2")] == ["c1", "c2", "c3"]
    finally:
        after.close()


def test_forged_foreign_and_expired_keys_get_a_fresh_session(setup, tmp_path):
    svc = explorer(setup, tmp_path, session_idle_s=60)
    try:
        key = svc.attach("owner", None)
        svc.library.add_example("owner", "motion.webm")
        token, signature = key.split(".")
        for forged in (f"{token}.{'0' * len(signature)}", f"x{token}.{signature}", "../../etc", 42, {"key": key}):
            fresh = svc.attach("visitor", forged)
            assert fresh != key and svc.sessions.valid(fresh)
            assert svc.library.list_clips("visitor") == []
        state = svc.sessions.get("owner").state_dir / "state.json"
        svc.close_session("owner")
        old = time.time() - 120
        os.utime(state, (old, old))
        assert svc.attach("owner-again", key) != key and svc.library.list_clips("owner-again") == []
        svc.sessions.expire()
        assert not state.exists()
    finally:
        svc.close()


def test_disk_use_is_capped_and_the_longest_idle_go_first(setup, tmp_path):
    svc = explorer(setup, tmp_path)
    try:
        pages = ["oldest", "middle", "newest"]
        for page in pages:
            svc.attach(page, None)
            svc.library.add_example(page, "motion.webm")
            time.sleep(0.05)
        directories = {p: svc.sessions.get(p).directory for p in pages}
        per_session = sum(f.stat().st_size for f in (directories["oldest"] / STATE_DIR).rglob("*") if f.is_file())
        svc.sessions.total_bytes = int(3.5 * per_session)
        svc.library.add_example("middle", "look.webm")
        assert not directories["oldest"].exists() and directories["newest"].exists() and directories["middle"].exists()
        svc.sessions.session_bytes = 1
        svc.library.add_example("newest", "look.webm")
        assert len(list((directories["newest"] / STATE_DIR / "clips").glob("*.npz"))) == 1
    finally:
        svc.close()

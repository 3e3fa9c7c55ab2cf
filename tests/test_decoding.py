"""Fair decoding: a pool of decoders shared by sessions, clear words for a killed decoder, and
videos whose later frames fail keep the frames that decode."""
import os
import shutil
import signal
import threading
import time

import cv2
import numpy as np
import pytest
from slow_decode import SLOW_S

from dila.data.procedural import sample_clip
from dila.video import VideoError, read_video, write_video
from explorer import Explorer, Limits, UserError
from explorer.dev_model import write_dev_model
from explorer.worker import WorkerError, WorkerPool


def broken_tail_avi(path, frames: int = 60, good: int = 19):
    """An MJPG AVI whose container is fine but whose frames from `good` on are zeroed JPEG data."""
    writer = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 48))
    for i in range(frames):
        frame = np.zeros((48, 64, 3), np.uint8)
        frame[:, (3 * i) % 64] = 255
        writer.write(frame)
    writer.release()
    data = bytearray(path.read_bytes())
    chunks = [i for i in range(data.index(b"movi"), len(data) - 8) if data[i:i + 4] == b"00dc"][:frames]
    for start in chunks[good:]:
        size = int.from_bytes(data[start + 4:start + 8], "little")
        data[start + 8:start + 8 + size] = bytes(size)
    path.write_bytes(bytes(data))
    return path


def test_later_frames_that_fail_leave_the_decodable_part(tmp_path):
    path = broken_tail_avi(tmp_path / "tail.avi")
    with pytest.raises(VideoError, match="truncated or corrupt"):
        read_video(path, max_frames=8)
    video = read_video(path, max_frames=8, allow_partial=True)
    assert (video.decodable, video.announced) == (19, 60) and len(video.frames) == 8
    columns = [int(np.argmax(frame[24, :, 0])) for frame in video.frames]
    assert columns == sorted(columns) and columns[0] == 0 and columns[-1] == 3 * 18


@pytest.fixture(scope="module")
def pool():
    pool = WorkerPool(2, wait_s=30, memory_mb=1024)
    pool.start()
    yield pool
    pool.close()


def exited(pid: int) -> bool:
    """Whether our child `pid` has ended, asked of the kernel without reaping it (a /proc reading can
    miss it where /proc belongs to another process namespace)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:  # reaped already
        return True


def test_a_killed_decoder_is_reported_as_stopped_not_as_memory(pool):
    errors = []
    call = threading.Thread(target=lambda: errors.append(pytest.raises(WorkerError, pool.call, "time:sleep", [30], 60)))
    call.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(pool.pids):
        time.sleep(0.05)
    time.sleep(0.5)
    started = [pid for pid in pool.pids if pid]
    for pid in started:
        os.kill(pid, signal.SIGKILL)
    while not all(map(exited, started)):  # the idle one too, before the next call is given to it
        time.sleep(0.01)
    call.join(20)
    message = str(errors[0].value)
    assert "stopped from outside (SIGKILL)" in message and "memory" not in message
    with pytest.raises(WorkerError, match="memory cap of 1024 MB"):
        pool.call("numpy:ones", [[4096, 1024, 1024]], 30)
    with pytest.raises(WorkerError, match=r"crashed \(SIGABRT\): the file may be damaged, or it needed more than"):
        pool.call("os:abort", [], 30)


def test_a_call_waits_its_turn_and_gives_up_with_a_message():
    pool_of_one = WorkerPool(1, wait_s=0.5)
    try:
        busy = threading.Thread(target=pool_of_one.call, args=("time:sleep", [2], 10))
        busy.start()
        time.sleep(0.3)
        with pytest.raises(UserError, match="All 1 decoders stayed busy for 0.5 s; try again"):
            pool_of_one.call("time:sleep", [0], 10)
        busy.join(10)
        assert pool_of_one.call("time:sleep", [0], 10) == {}
    finally:
        pool_of_one.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory, module_one_thread):
    folder = tmp_path_factory.mktemp("clips")
    clip = sample_clip(np.random.default_rng(0), "train", "translate", frames=6, size=32).frames
    write_video(clip, folder / "quick.webm", fps=8)
    shutil.copy(folder / "quick.webm", folder / "slow.webm")
    broken_tail_avi(folder / "tail.avi")
    model = write_dev_model(tmp_path_factory.mktemp("model"), tiny=True)
    svc = Explorer(model=str(model), limits=Limits(clip_frames=6), embedder=None, assets=folder,
                   root=tmp_path_factory.mktemp("sessions"))
    svc.decode_task = "tests.slow_decode:decode_clip"
    svc.warm()
    yield svc
    svc.close()


def test_two_sessions_upload_at_once_and_neither_waits_for_the_other(service):
    times = {}

    def upload(sid, name):
        start = time.perf_counter()
        service.library.add_example(sid, name)
        times[sid] = time.perf_counter() - start

    slow = threading.Thread(target=upload, args=("hanging", "slow.webm"))
    slow.start()
    time.sleep(0.5)
    upload("quick", "quick.webm")
    assert slow.is_alive()
    slow.join(30)
    print(f"\nquick upload {times['quick']:.2f} s while the other session's decode took {times['hanging']:.1f} s")
    assert times["quick"] < SLOW_S / 2 and times["hanging"] >= SLOW_S
    assert [c["name"] for c in service.library.list_clips("hanging")] == ["slow"]
    assert [c["name"] for c in service.library.list_clips("quick")] == ["quick"]


def test_an_upload_keeps_the_frames_that_decode_and_says_so(service):
    _, status = service.library.add_example("partial", "tail.avi")
    assert status == "Added tail (only the first 19 of its 60 frames decode)."
    assert service.library.list_clips("partial")[0]["frames"] == 6

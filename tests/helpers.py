"""Test helpers shared by several test files."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from einops import rearrange
from torch import nn

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A loopback port that nobody listens on (now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PatchCodec(nn.Module):
    """Lossless codec: frames `b 3 (h p) (w p)` <-> grids `b (3 p p) h w`."""

    def __init__(self, image_size: int = 16, patch: int = 4):
        super().__init__()
        self.image_size, self.patch = image_size, patch
        self.grid_size, self.latent_dim = image_size // patch, 3 * patch * patch

    def encode(self, pixels):
        return rearrange(pixels, "b c (h p) (w q) -> b (c p q) h w", p=self.patch, q=self.patch)

    def decode(self, latents):
        return rearrange(latents, "b (c p q) h w -> b c (h p) (w q)", p=self.patch, q=self.patch)


@contextlib.contextmanager
def running_app(model: Path, log_path: Path, timeout_s: float, port: int | None = None, env: dict | None = None):
    """`python app.py` on a loopback port (a free one by default); yields its URL once it serves its page."""
    port = port or free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "OPENCV_LOG_LEVEL": "ERROR",
           **(env or {})}
    started = time.perf_counter()
    with open(log_path, "w") as log:  # a file, not a pipe: a full pipe would block the app
        process = subprocess.Popen([sys.executable, "app.py", "--model", str(model), "--host", "127.0.0.1",
                                    "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"app.py exited: {log_path.read_text()}")
            if time.perf_counter() - started > timeout_s:
                raise RuntimeError(f"app.py did not serve its page in {timeout_s} s: {log_path.read_text()}")
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        print(f"\napp.py served its page after {time.perf_counter() - started:.1f} s")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

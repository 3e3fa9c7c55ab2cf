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

import torch
from einops import rearrange
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
APP_START_TIMEOUT_S = 90
BROWSER_WAIT_MS = 30_000  # generous bound for one server round trip on a busy 2-core machine
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
                 "--disable-dev-shm-usage", "--mute-audio"]


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


def shifting_model(config, patch: int, shift: int = 2, mode: str = "flow", to_pixels: torch.Tensor | None = None):
    """A warping world model (`config`'s sizes, 3-channel `patch`-px patches) whose warp moves everything
    `shift` px right whatever the action, its head still at "no change". Its tokens are patch pixels: in
    the warp's `(p q c)` order, or as the token -> pixel matrix `to_pixels` says (a permutation)."""
    from dataclasses import replace

    from dila import DiLAWorldModel

    d = 3 * patch * patch
    config = replace(config, embed_dim=d, residual_decoder=True, decoder_warp=3, warp_patch=patch,
                     warp_channels=3, warp_mode=mode, dropout=0.0)
    model = DiLAWorldModel(config).eval()
    warp = model.fusion_decoder.warp
    view = torch.eye(d) if to_pixels is None else to_pixels
    with torch.no_grad():
        warp.to_pixels.copy_(view)
        warp.to_tokens.copy_(view.T)
        warp.shifts.bias.fill_(-1e3)
        warp.shifts.bias[[warp.radius - shift, 3 * warp.radius + 1]] = 0.0
        if mode == "blend":
            warp.gate.bias.fill_(1.0)
    return model


class RunningApp:
    """`python app.py` on a loopback port (a free one by default), restartable on the same port
    and environment; each start logs to its own file in `log_dir`."""

    def __init__(self, model: Path, log_dir: Path, timeout_s: float, port: int | None = None, env: dict | None = None):
        self.model, self.log_dir, self.timeout_s = model, Path(log_dir), timeout_s
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})}
        self.starts, self.process = 0, None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def state_dir(self) -> Path | None:
        """Where it saves sessions (its DILA_STATE_DIR), when the environment names it."""
        folder = self.env.get("DILA_STATE_DIR")
        return Path(folder) if folder else None

    @property
    def log(self) -> Path:
        return self.log_dir / f"app-{self.starts}.log"

    def start(self) -> str:
        """Start it and return its URL once it serves its page."""
        self.starts += 1
        self.log_dir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        with open(self.log, "w") as log:  # a file, not a pipe: a full pipe would block the app
            self.process = subprocess.Popen([sys.executable, "app.py", "--model", str(self.model), "--host", "127.0.0.1",
                                             "--port", str(self.port)], cwd=ROOT, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT)
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"app.py exited: {self.log.read_text()}")
            if time.perf_counter() - started > self.timeout_s:
                self.stop()
                raise RuntimeError(f"app.py did not serve its page in {self.timeout_s} s: {self.log.read_text()}")
            try:
                urllib.request.urlopen(self.url, timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        print(f"\napp.py served its page after {time.perf_counter() - started:.1f} s")
        return self.url

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def restart(self) -> str:
        self.stop()
        return self.start()


@contextlib.contextmanager
def running_app(model: Path, log_dir: Path, timeout_s: float, port: int | None = None, env: dict | None = None):
    """A `RunningApp`, started, stopped at the end."""
    app = RunningApp(model, log_dir, timeout_s, port, env)
    try:
        app.start()
        yield app
    finally:
        app.stop()

"""Which model sources a user may load. Local use (`python app.py`) may load paths on the
machine; a public deployment (a Space, `--public`, DILA_PUBLIC=1) loads only the bundled model,
the directories its operator lists (`--models DIR`, DILA_MODELS) and Hub repo ids.

A refusal is one sentence naming what is allowed: it never says whether a path exists, never
shows a resolved path, and nothing is opened to decide it (FIFOs and devices cannot block)."""
from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dila.hub_fetch import is_repo_id
from explorer.errors import UserError
from explorer.limits import Limits

ENV_PUBLIC, ENV_MODELS = "DILA_PUBLIC", "DILA_MODELS"
SYSTEM_ROOTS = (Path("/proc"), Path("/sys"), Path("/dev"))


@dataclass(frozen=True)
class Source:
    key: str  # a local source's resolved path or a repo id: internal, never shown
    label: str  # what the model card and messages show: never a resolved path
    path: Path | None  # the local file or directory; None for a Hub repo id

    @property
    def hub(self) -> bool:
        return self.path is None


def local_source(path: Path, label: str) -> Source:
    return Source(str(path.resolve()), label, path.resolve())


def bundled() -> Source:
    from dila.hub import BUNDLED

    return local_source(BUNDLED, "bundled")


def public_from_env() -> bool:
    flag = os.environ.get(ENV_PUBLIC, "").strip().lower() in ("1", "true", "yes", "on")
    return flag or bool(os.environ.get("SPACE_ID"))


def listed_from_env() -> list[str]:
    return [p for p in os.environ.get(ENV_MODELS, "").split(os.pathsep) if p.strip()]


class SourcePolicy:
    def __init__(self, default: str | None = None, public: bool | None = None, listed: Sequence[str] | None = None,
                 max_download_mb: int = Limits.max_download_mb):
        self.public = public_from_env() if public is None else public
        self.max_download_bytes = max_download_mb * 1024**2 if self.public else None
        entries = [Path(p).expanduser() for p in (listed_from_env() if listed is None else listed)]
        self.listed = {path.name: local_source(path, path.name) for path in entries}
        self.default = self._operator(default) if default else bundled()

    def find(self, text: str | None) -> Source:
        """The source a user's text names, or UserError with the refusal."""
        text = (text or "").strip()
        if text in ("", "default"):
            return self.default
        if text == "bundled":
            return bundled()
        if text in self.listed:
            return self.listed[text]
        if is_repo_id(text) and (self.public or not os.path.lexists(text)):
            return Source(text, text, None)
        local = None if self.public else _local(text)
        if local is None:
            raise UserError(self.refusal())
        return local

    def from_key(self, key: str) -> Source | None:
        """The source of a key given out earlier (a session's model after a restart), if still allowed."""
        known = [self.default, bundled(), *self.listed.values()]
        for source in known:
            if source.key == key:
                return source
        if is_repo_id(key):
            return Source(key, key, None)
        return None if self.public else _local(key)

    def refusal(self) -> str:
        return "This server loads only these models: " + self._allowed() + "."

    def placeholder(self) -> str:
        """The model box's hint: what may be typed there."""
        listed = "".join(f", `{name}`" for name in sorted(self.listed))
        local = "" if self.public else ", a local directory or .pt file"
        return f"a Hub repo id (published DiLA, RAE codec), `bundled`{listed}{local}; empty: the default"

    def advice(self, library_advice: str) -> str:
        """What a user can do when the Hub cannot deliver a model: the library's advice (download
        it, pass a local path) is for local use; the public can only choose another model."""
        if not self.public:
            return library_advice
        return "Try again later, or choose another model: " + self._allowed() + "."

    def not_held(self) -> str:
        """Why a repo id cannot be loaded when this server never downloads (offline mode), in
        words that neither reveal its settings nor suggest trying again."""
        held = ["the default (leave the box empty)", "`bundled`"] + [f"`{name}`" for name in sorted(self.listed)]
        return "this server does not download models and holds no copy of this one. Choose one it holds: " + ", ".join(held) + "."

    def _allowed(self) -> str:
        allowed = ["the default (leave the box empty)", "`bundled`"] + [f"`{name}`" for name in sorted(self.listed)]
        allowed.append("a Hub repo id such as `owner/name`")
        if not self.public:
            allowed.append("a model directory or .pt file on this machine")
        return ", ".join(allowed)

    @staticmethod
    def _operator(text: str) -> Source:
        """The operator's default: any local path or repo id, shown by its name only."""
        path = Path(text).expanduser()
        if path.resolve() == bundled().path:
            return bundled()
        if os.path.lexists(path) or not is_repo_id(text):
            return local_source(path, path.resolve().name)
        return Source(text, text, None)


def _local(text: str) -> Source | None:
    path = Path(text).expanduser()
    try:
        mode = os.stat(path).st_mode
        resolved = path.resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)) or any(resolved.is_relative_to(r) for r in SYSTEM_ROOTS):
        return None
    return Source(str(resolved), text, resolved)

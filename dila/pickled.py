"""What a `.pt` file's pickle would import, read with `pickletools` (nothing is unpickled): the
names the weights-only loader refuses are code the file would run."""
from __future__ import annotations

import io
import os
import pickletools
import zipfile

STRING_OPS = {"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8"}
PUT_OPS = {"PUT", "BINPUT", "LONG_BINPUT"}
GET_OPS = {"GET", "BINGET", "LONG_BINGET"}
MAX_PICKLE_BYTES = 64 * 1024**2


def code_globals(path: str | os.PathLike) -> list[str]:
    """The globals (`module.name`) the checkpoint's pickle names that the weights-only loader
    does not allow, in the order they appear; empty when there are none or it cannot be read."""
    allowed = allowed_globals()
    found = [name for name in pickle_globals(_pickle_bytes(path)) if name not in allowed]
    return list(dict.fromkeys(found))


def allowed_globals() -> set[str]:
    """What `torch.load(weights_only=True)` accepts: its own list and the user's additions."""
    import torch
    from torch import _weights_only_unpickler as unpickler

    names = set(getattr(unpickler, "_get_allowed_globals", dict)())
    names |= set(getattr(unpickler, "_get_user_allowed_globals", dict)())
    names |= {f"{g.__module__}.{g.__qualname__}" for g in torch.serialization.get_safe_globals() if hasattr(g, "__qualname__")}
    return names


def pickle_globals(data: bytes) -> list[str]:
    """Every global the pickles in `data` name (a legacy `.pt` holds several in a row, then raw bytes)."""
    stream, names = io.BytesIO(data), []
    while stream.tell() < len(data):
        start = stream.tell()
        try:
            names += _globals_of_one(stream)
        except Exception:  # the raw storage bytes after a legacy file's pickles, or a damaged end
            break
        if stream.tell() == start:
            break
    return names


def _globals_of_one(stream: io.BytesIO) -> list[str]:
    """The globals of one pickle; `pushed` follows the strings on top of the stack, which name a
    protocol-4 STACK_GLOBAL."""
    names, pushed, memo = [], [None, None], {}
    for op, arg, _ in pickletools.genops(stream):
        if op.name in PUT_OPS or op.name == "MEMOIZE":
            memo[arg if op.name in PUT_OPS else len(memo)] = pushed[-1]
            continue
        if op.name in ("GLOBAL", "INST"):
            names.append(_clean(".".join(arg.split(" ", 1))))
        elif op.name == "STACK_GLOBAL":
            names.append(_clean(".".join(pushed[-2:])) if all(pushed[-2:]) else "an unnamed global")
        value = arg if op.name in STRING_OPS else memo.get(arg) if op.name in GET_OPS else None
        pushed = [pushed[-1], value.decode("latin-1") if isinstance(value, bytes) else value]
    return names


def _clean(name: str) -> str:
    """A name fit for a message: the file chose it."""
    return "".join(c for c in name if c.isalnum() or c in "._")[:80] or "an unnamed global"


def _pickle_bytes(path: str | os.PathLike) -> bytes:
    """The pickle of a zip checkpoint (`<archive>/data.pkl`), else the file's start."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = [n for n in archive.namelist() if n == "data.pkl" or n.endswith("/data.pkl")]
            if not members or archive.getinfo(members[0]).file_size > MAX_PICKLE_BYTES:
                return b""
            return archive.read(members[0])
    except zipfile.BadZipFile:
        with open(path, "rb") as file:
            return file.read(MAX_PICKLE_BYTES)
    except (OSError, ValueError, RuntimeError, EOFError):
        return b""

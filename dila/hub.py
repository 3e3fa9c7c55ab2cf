"""Load and save world models: our format (`config.json` + `model.safetensors`), the published
`.pt` checkpoints, and both on the Hugging Face Hub (through its cache, offline-aware)."""
from __future__ import annotations

import json
import os
import socket
import stat
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from urllib.parse import urlparse

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from dila.config import DiLAConfig
from dila.hub_fetch import CHECKPOINT_SUFFIXES, FetchError, fetch, is_repo_id, pick_checkpoint
from dila.pickled import code_globals
from dila.published import infer_config, is_published_layout, strip_wrappers, to_our_layout
from dila.world_model import ActionAdapter, DiLAWorldModel

BUNDLED = Path(__file__).resolve().parent.parent / "checkpoints"
PUBLISHED_REPO = "senngadaisuki/disentangled-latent-action-world-models"
CONFIG_NAME, WEIGHTS_NAME = "config.json", "model.safetensors"
HUB_PROBE_SECONDS = 3.0
SYSTEM_ROOTS = (Path("/proc"), Path("/sys"), Path("/dev"))


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the model; the message says why."""


class HubUnavailableError(OSError):
    """The Hub cannot be reached and the files are not in the local cache: `problem` says what
    happened, `advice` what a user of the library can do about it; `lasting`: offline mode is
    set, so trying again cannot help."""

    def __init__(self, problem: str, advice: str = "", *, lasting: bool = False):
        super().__init__(f"{problem}. {advice}" if advice else problem)
        self.problem, self.advice, self.lasting = problem, advice, lasting


def load_world_model(
    source: str | os.PathLike = BUNDLED,
    *,
    filename: str | None = None,
    revision: str | None = None,
    action_adapter: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    fallback: str | os.PathLike | None = None,
    hub_only: bool = False,
    max_download_bytes: int | None = None,
) -> DiLAWorldModel:
    """Load a DiLA world model in eval mode from

    - a directory in our format (`config.json` + `model.safetensors`),
    - a published `.pt` file (`{'model': sd}`, `{'module': sd}` or a bare state dict), or
    - a Hub repo id (our format, or the `.pt` named by `filename`).

    `hub_only`: read `source` as a repo id only, never as a local path. `max_download_bytes`:
    refuse a repo whose model files are larger. When the Hub cannot be reached, does not answer
    in time (about 10 s), or the files are not cached offline, raise `HubUnavailableError`, or,
    if `fallback` is given, warn and load that source instead.
    """
    try:
        path, name = resolve(source, filename=filename, revision=revision, hub_only=hub_only,
                             max_download_bytes=max_download_bytes)
    except HubUnavailableError as error:
        if fallback is None:
            raise
        warnings.warn(f"{error} Loading {fallback} instead.", stacklevel=2)
        path, name = Path(fallback), str(fallback)
    model = _load_path(path, name)
    if action_adapter is not None:
        load_action_adapter(model, action_adapter)
    return model.to(device).eval()


def save_world_model(model: DiLAWorldModel, directory: str | os.PathLike) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.config.save(directory / CONFIG_NAME)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(directory / WEIGHTS_NAME))
    return directory


def push_to_hub(model: DiLAWorldModel, repo_id: str, *, private: bool = False, token: str | None = None) -> str:
    """Upload the model in our format; returns the commit URL."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        save_world_model(model, tmp)
        return str(api.upload_folder(repo_id=repo_id, folder_path=tmp, commit_message="Upload DiLA world model"))


def load_action_adapter(model: DiLAWorldModel, path: str | os.PathLike) -> None:
    """Load a published phase-3 adapter file (`{'model_state_dict': {'mapping.0.weight', ...}}`)."""
    state = _unwrap(read_pt(path), path, keys=("model_state_dict", "model", "module"))
    state = to_our_layout({f"Action_decoder.{strip_wrappers(k)}": v for k, v in state.items()})
    state = {k.removeprefix("action_adapter."): v for k, v in state.items()}
    if set(state) != {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}:
        raise CheckpointError(f"{path}: not an action adapter; keys {sorted(state)[:8]}")
    robot_dim, action_dim = state["fc1.weight"].shape[1], state["fc2.weight"].shape[0]
    if action_dim != model.config.action_dim:
        raise CheckpointError(f"{path}: adapter outputs {action_dim}-d actions, the model uses {model.config.action_dim}")
    model.config.robot_action_dim = robot_dim
    model.action_adapter = ActionAdapter(robot_dim, action_dim)
    model.action_adapter.load_state_dict(state)


# ---------------------------------------------------------------- files


def read_pt(path: str | os.PathLike, name: str | None = None) -> object:
    """Read a `.pt` with `weights_only=True`: tensors and plain containers only, no code runs.
    `name`: how messages call the file (its path by default)."""
    name = name or str(path)
    check_regular_file(path, name)
    with open(path, "rb") as file:
        head = file.read(4)
    if not head:
        raise CheckpointError(f"{name}: the file is empty")
    if head[:2] != b"PK" and head[:1] != b"\x80":
        raise CheckpointError(f"{name}: not a PyTorch checkpoint (neither a zip archive nor a pickle)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # code the weights-only loader refuses, truncated archives, damaged records
        code = code_globals(path)
    if code:
        raise CheckpointError(
            f"{name}: refused because it contains code ({', '.join(code[:3])}); this loader reads only "
            "tensors and plain containers and never runs a file's code"
        )
    raise CheckpointError(f"{name}: the checkpoint is truncated or damaged; download or save it again")


def check_regular_file(path: str | os.PathLike, name: str) -> None:
    """Refuse, without opening it, anything but a regular file (a FIFO or a device could block)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        raise CheckpointError(f"{name}: no such file") from None
    if not stat.S_ISREG(mode) or _is_system_path(Path(path)):
        raise CheckpointError(f"{name}: not a regular file")


def _is_system_path(path: Path) -> bool:
    resolved = path.resolve()
    return any(resolved.is_relative_to(root) for root in SYSTEM_ROOTS)


def _unwrap(obj: object, name: str, keys=("model", "module", "state_dict")) -> dict[str, torch.Tensor]:
    if isinstance(obj, dict):
        for key in keys:
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if isinstance(obj, dict) and not obj:
        raise CheckpointError(f"{name}: the checkpoint holds no weights (an empty dictionary)")
    if not isinstance(obj, dict):
        raise CheckpointError(f"{name}: expected a dictionary of weights (a state dict), found a {type(obj).__name__}")
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{name}: entries that are not tensors: {bad[:8]}")
    return obj


def _load_path(path: Path, name: str) -> DiLAWorldModel:
    if _is_system_path(path):
        raise CheckpointError(f"{name}: not a model file or directory")
    if path.is_dir():
        return _load_directory(path, name)
    check_regular_file(path, name)
    if path.suffix == ".safetensors":
        return _from_state_dict(_read_safetensors(path, name), name)
    state = _unwrap(read_pt(path, name), name)
    if is_published_layout(state):
        state = to_our_layout(state)
    return _from_state_dict({strip_wrappers(k): v for k, v in state.items()}, name)


def _load_directory(directory: Path, name: str) -> DiLAWorldModel:
    weights = directory / WEIGHTS_NAME
    if not weights.is_file():
        found = sorted(p.name for p in directory.glob("*.pt*") if p.is_file())
        if len(found) == 1:
            return _load_path(directory / found[0], f"{name}/{found[0]}")
        raise CheckpointError(f"{name}: no {WEIGHTS_NAME} (and {len(found)} .pt files: {found})")
    config = None
    if (directory / CONFIG_NAME).is_file():
        try:
            check_regular_file(directory / CONFIG_NAME, f"{name}/{CONFIG_NAME}")
            config = DiLAConfig.load(directory / CONFIG_NAME)
        except (ValueError, TypeError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CheckpointError(f"{name}/{CONFIG_NAME}: invalid config ({error})") from None
    return _from_state_dict(_read_safetensors(weights, f"{name}/{WEIGHTS_NAME}"), f"{name}/{WEIGHTS_NAME}", config)


def _read_safetensors(path: Path, name: str) -> dict[str, torch.Tensor]:
    check_regular_file(path, name)
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError):
        raise CheckpointError(f"{name}: not a readable safetensors file (truncated or damaged)") from None


def _from_state_dict(state: dict[str, torch.Tensor], origin, config: DiLAConfig | None = None) -> DiLAWorldModel:
    if config is None:
        try:
            config = infer_config(state)
        except KeyError as missing:
            raise CheckpointError(f"{origin}: not a DiLA checkpoint, missing key {missing}") from None
        except ValueError as error:
            raise CheckpointError(f"{origin}: inconsistent sizes ({error})") from None
    model = DiLAWorldModel(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(v.shape)}"
             for k, v in expected.items() if k in state and state[k].shape != v.shape]
    if missing or unexpected or wrong:
        problems = (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
        parts = [f"{name} ({len(keys)}): {keys[:6]}" for name, keys in problems if keys]
        raise CheckpointError(f"{origin} does not fit a DiLA model with the inferred config; " + "; ".join(parts))
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})
    return model


# ---------------------------------------------------------------- the Hub


def resolve(source: str | os.PathLike, *, filename: str | None = None, revision: str | None = None,
            hub_only: bool = False, max_download_bytes: int | None = None) -> tuple[Path, str]:
    """A local path as it is; a repo id -> the path of its file(s) in the Hugging Face cache.
    Returns the path and the name messages use for it (never a cache path)."""
    path, text = Path(source), str(source)
    if not hub_only and path.exists():
        return (path / filename, f"{text}/{filename}") if filename else (path, text)
    if isinstance(source, Path) or not is_repo_id(text):
        what = "not a Hub repo id 'owner/name'" if hub_only else "no such file or directory (and not a Hub repo id 'owner/name')"
        raise CheckpointError(f"{text}: {what}")
    return _resolve_repo(text, filename, revision, max_download_bytes)


def _resolve_repo(repo_id: str, filename: str | None, revision: str | None, max_bytes: int | None) -> tuple[Path, str]:
    lasting = hub_offline()
    offline, reason = lasting, "HF_HUB_OFFLINE is set"
    if not offline and not hub_reachable():
        offline, reason = True, "the Hub cannot be reached"
    if offline:
        return _from_cache(repo_id, filename, revision, reason, lasting)
    try:
        paths = [Path(p) for p in fetch(repo_id, filename, revision=revision, cache_dir=hub_cache_dir(), max_bytes=max_bytes)]
    except FetchError as error:
        if error.kind != "unavailable":
            raise CheckpointError(str(error)) from None
        raise HubUnavailableError(
            f"{repo_id}: {error}", f"Try again later, or download it where the Hub answers "
            f"(`hf download {repo_id}`), copy the cache and set HF_HUB_OFFLINE=1."
        ) from None
    name = f"{repo_id}/{paths[-1].name}"
    return (paths[-1].parent, repo_id) if paths[-1].name == WEIGHTS_NAME and not filename else (paths[-1], name)


def _from_cache(repo_id: str, filename: str | None, revision: str | None, reason: str,
                lasting: bool = False) -> tuple[Path, str]:
    from huggingface_hub import try_to_load_from_cache

    def cached(name: str) -> Path | None:
        found = try_to_load_from_cache(repo_id, name, cache_dir=hub_cache_dir(), revision=revision)
        return Path(found) if isinstance(found, str) else None

    if filename and cached(filename):
        return cached(filename), f"{repo_id}/{filename}"
    if not filename and cached(CONFIG_NAME) and cached(WEIGHTS_NAME):
        return cached(WEIGHTS_NAME).parent, repo_id
    snapshot = _cached_snapshot(repo_id, revision)
    names = [str(p.relative_to(snapshot)) for p in snapshot.rglob("*") if p.suffix in CHECKPOINT_SUFFIXES] if snapshot else []
    if names and not filename:
        try:
            chosen = pick_checkpoint(names, repo_id)
        except FetchError as error:
            raise CheckpointError(str(error)) from None
        return snapshot / chosen, f"{repo_id}/{chosen}"
    raise HubUnavailableError(
        f"{repo_id}: {reason} and the files are not in the local cache", f"Download them where the Hub is "
        f"reachable (`hf download {repo_id}`) and copy the cache, or pass a local directory or .pt file.",
        lasting=lasting,
    )


def _cached_snapshot(repo_id: str, revision: str | None) -> Path | None:
    root = Path(hub_cache_dir()) / f"models--{repo_id.replace('/', '--')}"
    ref = root / "refs" / (revision or "main")
    commit = ref.read_text().strip() if ref.is_file() else revision
    snapshot = root / "snapshots" / commit if commit else None
    return snapshot if snapshot is not None and snapshot.is_dir() else None


def hub_file(repo_id: str, filename: str, *, cache_dir: str | None = None, local_only: bool | None = None) -> Path:
    """One file of a repo through the cache, every network wait bounded (see `dila.hub_fetch`);
    raises `HubUnavailableError` or `CheckpointError`."""
    offline = local_files_only(local_only)
    if offline:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir or hub_cache_dir())
        if isinstance(found, str):
            return Path(found)
        raise HubUnavailableError(f"{repo_id}/{filename}: offline (or the Hub cannot be reached) and not in the local cache")
    try:
        return Path(fetch(repo_id, filename, cache_dir=cache_dir or hub_cache_dir())[0])
    except FetchError as error:
        raise (HubUnavailableError if error.kind == "unavailable" else CheckpointError)(str(error)) from None


def hub_cache_dir() -> str:
    """The hub cache as the environment says now (`huggingface_hub` freezes it at import)."""
    from huggingface_hub import constants

    if cache := os.environ.get("HF_HUB_CACHE"):
        return os.path.expanduser(cache)
    return constants.HF_HUB_CACHE


def hub_offline() -> bool:
    """Whether the environment asks for offline mode (read now: `huggingface_hub` reads it at import)."""
    return any(os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on")
               for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def local_files_only(requested: bool | None = None) -> bool:
    """Use the cache alone: when asked, when offline mode is set, or when the Hub is unreachable."""
    return requested if requested is not None else hub_offline() or not hub_reachable()


def hub_reachable(timeout: float = HUB_PROBE_SECONDS) -> bool:
    """One TCP connection to the Hub endpoint (name lookup included), bounded in time: the
    download client would otherwise retry an unreachable Hub for ~25 s."""
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = url.port or (443 if url.scheme == "https" else 80)

    def connect() -> bool:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            return True

    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(connect).result(timeout=timeout)
    except (OSError, FutureTimeout):
        return False
    finally:
        pool.shutdown(wait=False)

"""Load and save world models: our format (`config.json` + `model.safetensors`), the published
`.pt` checkpoints, and both on the Hugging Face Hub (through its cache, offline-aware)."""
from __future__ import annotations

import json
import os
import pickle
import socket
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
from dila.published import infer_config, is_published_layout, strip_wrappers, to_our_layout
from dila.world_model import ActionAdapter, DiLAWorldModel

BUNDLED = Path(__file__).resolve().parent.parent / "checkpoints"
PUBLISHED_REPO = "senngadaisuki/disentangled-latent-action-world-models"
CONFIG_NAME, WEIGHTS_NAME = "config.json", "model.safetensors"
HUB_PROBE_SECONDS = 3.0


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the model; the message says why."""


class HubUnavailableError(OSError):
    """The Hub cannot be reached and the files are not in the local cache."""


def load_world_model(
    source: str | os.PathLike = BUNDLED,
    *,
    filename: str | None = None,
    revision: str | None = None,
    action_adapter: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    fallback: str | os.PathLike | None = None,
) -> DiLAWorldModel:
    """Load a DiLA world model in eval mode from

    - a directory in our format (`config.json` + `model.safetensors`),
    - a published `.pt` file (`{'model': sd}`, `{'module': sd}` or a bare state dict), or
    - a Hub repo id (our format, or the `.pt` named by `filename`).

    When the Hub cannot be reached and the files are not cached, raise `HubUnavailableError`
    within seconds, or, if `fallback` is given, warn and load that source instead.
    """
    try:
        path = resolve(source, filename=filename, revision=revision)
    except HubUnavailableError as error:
        if fallback is None:
            raise
        warnings.warn(f"{error} Loading {fallback} instead.", stacklevel=2)
        path = Path(fallback)
    model = _load_path(path)
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


def read_pt(path: str | os.PathLike) -> object:
    """Read a `.pt` with `weights_only=True`: tensors and plain containers only, no code runs."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"{path}: refused by the weights-only loader: it holds objects other than tensors and plain "
            "containers, and unpickling them could run code"
        ) from None
    except Exception as error:  # truncated archives, garbage bytes, directories
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"{path}: not a readable weights-only PyTorch checkpoint ({reason})") from None


def _unwrap(obj: object, path, keys=("model", "module", "state_dict")) -> dict[str, torch.Tensor]:
    if isinstance(obj, dict):
        for key in keys:
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj:
        raise CheckpointError(f"{path}: expected a state dict (or {{'model': state_dict}}), got {type(obj).__name__}")
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{path}: entries that are not tensors: {bad[:8]}")
    return obj


def _load_path(path: Path) -> DiLAWorldModel:
    if path.is_dir():
        return _load_directory(path)
    if path.suffix == ".safetensors":
        return _from_state_dict(_read_safetensors(path), path)
    state = _unwrap(read_pt(path), path)
    if is_published_layout(state):
        state = to_our_layout(state)
    return _from_state_dict({strip_wrappers(k): v for k, v in state.items()}, path)


def _load_directory(directory: Path) -> DiLAWorldModel:
    weights = directory / WEIGHTS_NAME
    if not weights.is_file():
        found = sorted(p.name for p in directory.glob("*.pt*"))
        if len(found) == 1:
            return _load_path(directory / found[0])
        raise CheckpointError(f"{directory}: no {WEIGHTS_NAME} (and {len(found)} .pt files: {found})")
    config = None
    if (directory / CONFIG_NAME).is_file():
        try:
            config = DiLAConfig.load(directory / CONFIG_NAME)
        except (ValueError, TypeError, json.JSONDecodeError) as error:
            raise CheckpointError(f"{directory / CONFIG_NAME}: invalid config ({error})") from None
    return _from_state_dict(_read_safetensors(weights), weights, config)


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path}: not a readable safetensors file ({error})") from None


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
    wrong = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(v.shape)}" for k, v in expected.items() if k in state and state[k].shape != v.shape]
    if missing or unexpected or wrong:
        parts = [f"{name} ({len(keys)}): {keys[:6]}" for name, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if keys]
        raise CheckpointError(f"{origin} does not fit a DiLA model with the inferred config; " + "; ".join(parts))
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})
    return model


# ---------------------------------------------------------------- the Hub


def resolve(source: str | os.PathLike, *, filename: str | None = None, revision: str | None = None) -> Path:
    """A local path as it is; a repo id -> the path of its file(s) in the Hugging Face cache."""
    path = Path(source)
    if path.exists():
        return path / filename if filename else path
    if isinstance(source, Path) or str(source).count("/") != 1 or str(source).startswith((".", "/", "~")):
        raise CheckpointError(f"{source}: no such file or directory (and not a Hub repo id 'owner/name')")
    offline = hub_offline()
    if not offline and not hub_reachable():
        offline = True
        unreachable = "the Hub cannot be reached"
    else:
        unreachable = "HF_HUB_OFFLINE is set"
    try:
        return _resolve_repo(str(source), filename, revision, local_only=offline)
    except FileNotFoundError as error:
        if not offline:
            raise CheckpointError(f"{source}: {error}") from None
        raise HubUnavailableError(
            f"{source}: {unreachable} and the files are not in the local cache ({error}). "
            f"Download them where the Hub is reachable (`huggingface-cli download {source}`) "
            "and copy the cache, or pass a local directory or .pt file."
        ) from None


def _resolve_repo(repo_id: str, filename: str | None, revision: str | None, local_only: bool) -> Path:
    from huggingface_hub import hf_hub_download, snapshot_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    def fetch(name: str) -> Path:
        try:
            return Path(hf_hub_download(repo_id, name, revision=revision, local_files_only=local_only))
        except (LocalEntryNotFoundError, EntryNotFoundError) as error:
            raise FileNotFoundError(f"{repo_id}/{name}: {type(error).__name__}") from None

    if filename:
        return fetch(filename)
    try:
        fetch(CONFIG_NAME)
        return fetch(WEIGHTS_NAME).parent
    except FileNotFoundError:
        pass
    try:
        snapshot = Path(snapshot_download(repo_id, revision=revision, local_files_only=local_only, allow_patterns=["*.pt", "*.pth"]))
    except LocalEntryNotFoundError:
        raise FileNotFoundError(f"{repo_id}: nothing cached") from None
    return _pick_published_file(snapshot, repo_id)


def _pick_published_file(snapshot: Path, repo_id: str) -> Path:
    files = sorted(p for p in snapshot.rglob("*") if p.suffix in (".pt", ".pth"))
    if len(files) == 1:
        return files[0]
    preferred = [p for p in files if "phase2" in str(p.relative_to(snapshot)) and "final" in p.name]
    if len(preferred) == 1:
        return preferred[0]
    names = [str(p.relative_to(snapshot)) for p in files]
    raise CheckpointError(f"{repo_id}: {len(files)} checkpoint files {names[:10]}; choose one with filename=...")


def hub_offline() -> bool:
    """Whether the environment asks for offline mode (read now: `huggingface_hub` reads it at import)."""
    return any(os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on") for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


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

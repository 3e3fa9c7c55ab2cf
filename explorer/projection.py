"""Latent actions -> 2D: PCA at once, UMAP in the background; PCA directions for steering."""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from explorer.leftovers import OwnedFolder

N_COMPONENTS = 5
NEIGHBOURS = 5


@dataclass(frozen=True)
class Pca:
    """`components` (k a) are unit rows, `scales` (k) the standard deviations along them;
    fewer than k directions in the data leave zero rows."""

    mean: np.ndarray
    components: np.ndarray
    scales: np.ndarray
    explained: np.ndarray

    def project(self, actions: np.ndarray) -> np.ndarray:
        return (np.atleast_2d(actions) - self.mean) @ self.components.T

    def standardized(self, actions: np.ndarray) -> np.ndarray:
        """Where each action lies along each direction, in standard deviations (the sliders' unit)."""
        raw = self.project(actions)
        return np.divide(raw, self.scales, out=np.zeros_like(raw), where=self.scales > 0)

    def coordinates(self, action: np.ndarray) -> np.ndarray:
        return self.standardized(action)[0]

    def steer(self, base: np.ndarray, values: np.ndarray) -> np.ndarray:
        """`base` moved so that its coordinates become `values`; the rest of it is kept."""
        delta = (np.asarray(values, np.float64) - self.coordinates(base)) * self.scales
        return (base + delta @ self.components).astype(np.float32)


def fit_pca(actions: np.ndarray, k: int = N_COMPONENTS) -> Pca:
    """From the eigenvectors of the `a a` covariance: as exact as an SVD of the `n a` actions
    here, and far cheaper (an SVD with two BLAS threads on busy cores took 170 ms for 2,000)."""
    x = np.asarray(actions, np.float64)
    mean = x.mean(axis=0)
    centred = x - mean
    variance, vectors = np.linalg.eigh(centred.T @ centred / max(len(x) - 1, 1))
    variance, vt = variance[::-1], vectors[:, ::-1].T
    signs = np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)])
    vt = vt * np.where(signs == 0, 1, signs)[:, None]
    keep = variance > 1e-10 * max(variance.max(initial=0), 1e-30)
    total = max(variance[keep].sum(), 1e-30)
    vt, variance = vt[keep][:k], variance[keep][:k]
    components, scales, explained = np.zeros((k, x.shape[1])), np.zeros(k), np.zeros(k)
    components[: len(vt)] = vt
    scales[: len(vt)] = np.sqrt(variance)
    explained[: len(vt)] = variance / total
    return Pca(mean, components, scales, explained)


def umap_embed(path: str) -> dict[str, np.ndarray]:
    """UMAP of the actions saved at `path` (run inside the background worker)."""
    import umap

    actions = np.load(path)
    reducer = umap.UMAP(n_neighbors=min(15, len(actions) - 1), min_dist=0.1, random_state=0, n_jobs=1,
                        init="spectral" if len(actions) > 50 else "random")
    return {"points": reducer.fit_transform(actions).astype(np.float32)}


def place(queries: np.ndarray, actions: np.ndarray, points: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray:
    """Positions for new actions in an embedding without a transform: the inverse-distance
    weighted mean of their nearest library actions' positions."""
    distances = np.linalg.norm(np.atleast_2d(queries)[:, None] - actions[None], axis=2)
    nearest = np.argsort(distances, axis=1)[:, :k]
    weights = 1 / (np.take_along_axis(distances, nearest, axis=1) + 1e-6)
    return (points[nearest] * weights[..., None]).sum(axis=1) / weights.sum(axis=1, keepdims=True)


class Embedder:
    """Runs UMAP fits one at a time off the request threads; `fit(actions) -> points`."""

    def __init__(self, fit: Callable[[np.ndarray], np.ndarray]):
        self._fit = fit
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="umap")

    def submit(self, actions: np.ndarray) -> Future:
        return self._pool.submit(self._fit, actions)


def worker_fit(worker, timeout: float) -> Callable[[np.ndarray], np.ndarray]:
    """A UMAP fit that runs in `worker` (an `explorer.worker.Worker`)."""

    def fit(actions: np.ndarray) -> np.ndarray:
        with OwnedFolder("dila-umap-") as folder:
            path = folder / "actions.npy"
            np.save(path, actions.astype(np.float32))
            return worker.call("explorer.projection:umap_embed", [str(path)], timeout)["points"]

    return fit


@dataclass
class ActionMap:
    """The library's transitions and their projections, for one library version."""

    version: int
    actions: np.ndarray
    clip_index: np.ndarray
    times: np.ndarray
    pca: Pca
    pca_points: np.ndarray
    umap: Future | None = None
    umap_note: str = ""
    interim: np.ndarray | None = None  # these actions placed on the previous version's UMAP layout
    touched: bool = False  # the user chose a point or steered on this map
    adopted: bool = False  # the user asked for the new UMAP layout
    shown: str = ""  # the projection last drawn
    note_shown: str = ""  # the note last shown with it

    @property
    def magnitudes(self) -> np.ndarray:
        return np.linalg.norm(self.actions, axis=1)

    def umap_points(self) -> np.ndarray | None:
        if self.umap is None or not self.umap.done() or self.umap.cancelled() or self.umap.exception():
            return None
        return self.umap.result()

    def umap_status(self) -> str:
        if self.umap is None:
            return self.umap_note
        if not self.umap.done():
            return "UMAP is computing in the background; PCA meanwhile."
        if self.umap.cancelled():
            return "UMAP was cancelled."
        if self.umap.exception():
            return f"UMAP failed ({self.umap.exception()}); showing PCA."
        return ""

    def method(self, wanted: str) -> str:
        """`wanted` ('auto', 'pca' or 'umap') resolved to what can be shown now: 'pca', 'umap', or
        'interim' (the previous UMAP layout with these actions placed on it). 'auto' keeps the
        layout the user knows: it moves to the UMAP fit once that is ready, unless the map was used
        meanwhile and the user has not asked for the new layout."""
        if wanted == "pca":
            return "pca"
        ready = self.umap_points() is not None
        if ready and (wanted == "umap" or self.adopted or not self.touched):
            return "umap"
        return "interim" if self.interim is not None else "pca"

    def points(self, method: str) -> np.ndarray:
        return {"umap": self.umap_points, "interim": lambda: self.interim}.get(method, lambda: self.pca_points)()

    def locate(self, method: str, actions: np.ndarray) -> np.ndarray:
        if method in ("umap", "interim"):
            return place(actions, self.actions, self.points(method))
        return self.pca.standardized(actions)[:, :2]


def build_map(version: int, actions: np.ndarray, clip_index: np.ndarray, times: np.ndarray,
              embedder: Embedder | None, min_umap_points: int, previous: ActionMap | None = None) -> ActionMap:
    """The map of a library version; when `previous` showed a UMAP layout, these actions are
    placed on it (`interim`) until their own fit is ready."""
    pca = fit_pca(actions)
    result = ActionMap(version, actions, clip_index, times, pca, pca.standardized(actions)[:, :2])
    # A layout in use (clicked or steered on, or a UMAP layout on screen) stays until the user asks for the new one.
    result.touched = previous is not None and (previous.touched or previous.shown in ("umap", "interim"))
    if previous is not None and previous.shown in ("umap", "interim"):
        result.interim = place(actions, previous.actions, previous.points(previous.shown)).astype(np.float32)
    if embedder is None:
        result.umap_note = "UMAP is off."
    elif len(actions) < min_umap_points:
        result.umap_note = f"UMAP needs at least {min_umap_points} transitions; showing PCA."
    else:
        result.umap = embedder.submit(actions)
    return result

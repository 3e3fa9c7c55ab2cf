"""The corpus view: open a latent-action index, hover, click, select and search its transitions.

Local use opens any index folder on the machine; a public deployment opens only the bundled demo
index and those its operator lists (`--indexes DIR`, DILA_INDEXES), up to PUBLIC_MAX_TRANSITIONS."""
from __future__ import annotations

import html
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dila.index.demo import DEMO_INDEX
from dila.index.encode import weights_sha256
from explorer.corpus import Corpus, load_corpus, read_manifest, transitions_in
from explorer.corpus_figure import corpus_figure, describe, hover_html, strip_html
from explorer.errors import UserError
from explorer.services.core import Core, index
from explorer.services.library import LibraryService
from explorer.sources import _local
from explorer.views import Range

ENV_INDEXES = "DILA_INDEXES"
DEMO_NAME = "demo"
PUBLIC_MAX_TRANSITIONS = 200_000
SELECTION_SHOWN = 24  # frame pairs the selection's grid shows (evenly spread over it)
ADD_AT_ONCE = 8  # clips one "add to the library" adds at most
KEPT = 3  # indexes held in memory


class IndexSources:
    """Which indexes a user may open, by the rules of model sources (`explorer.sources`)."""

    def __init__(self, public: bool, listed: list[str] | None = None):
        self.public = public
        entries = listed if listed is not None else [p for p in os.environ.get(ENV_INDEXES, "").split(os.pathsep) if p]
        self.listed = {Path(p).expanduser().name: Path(p).expanduser().resolve() for p in entries}

    def find(self, text: str | None) -> tuple[str, Path]:
        """(label, folder) of the index a user's text names, or UserError with the refusal."""
        text = (text or "").strip()
        if text in ("", DEMO_NAME):
            return DEMO_NAME, DEMO_INDEX
        if text in self.listed:
            return text, self.listed[text]
        local = None if self.public else _local(text)
        if local is None or not local.path.is_dir():
            raise UserError(self.refusal())
        return local.label, local.path

    def refusal(self) -> str:
        allowed = [f"`{DEMO_NAME}` (the bundled demo index)"] + [f"`{name}`" for name in sorted(self.listed)]
        if not self.public:
            allowed.append("an index folder on this machine")
        return "This server opens only these indexes: " + ", ".join(allowed) + "."


@dataclass
class Opened:
    """A session's open index and what it chose in it."""

    key: str
    note: str = ""
    chosen: int | None = None
    similar: np.ndarray | None = None
    selection: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


class CorpusService:
    def __init__(self, core: Core, library: LibraryService, sources: IndexSources | None = None,
                 max_public: int = PUBLIC_MAX_TRANSITIONS):
        self.core, self.library = core, library
        self.sources = sources or IndexSources(core.models.policy.public)
        self.max_public = max_public
        self._corpora: OrderedDict[str, Corpus] = OrderedDict()
        self._notes: dict[str, str] = {}
        self._stamps: dict[str, tuple] = {}
        self._opened: dict[str, Opened] = {}
        self._lock = threading.Lock()
        self._model_hashes: dict[str, str] = {}

    def forget(self, sid: str) -> None:
        """A closed page's open index and choices."""
        self._opened.pop(sid, None)

    def ready(self, sid: str, color_by: str = "clip"):
        """The page's first look at the view: the session's index, else the demo index. Returns (figure, note)."""
        if sid not in self._opened:
            return self.open(sid, DEMO_NAME, color_by)
        return self.recolour(sid, color_by)

    def open(self, sid: str, text: str | None, color_by: str = "clip"):
        """Open the index a user names; returns (figure, note)."""
        label, root = self.sources.find(text)
        manifest = read_manifest(root, label)
        if self.sources.public and transitions_in(manifest) > self.max_public:
            raise UserError(f"The index {label} holds {transitions_in(manifest):,} transitions; this server opens "
                            f"indexes of up to {self.max_public:,}.")
        corpus = self._load(label, root, manifest)
        opened = self._opened[sid] = Opened(corpus.label, self._notes[corpus.label] + self._model_note(sid, corpus))
        return corpus_figure(corpus, color_by), opened.note

    def recolour(self, sid: str, color_by: str):
        corpus, opened = self._current(sid)
        return corpus_figure(corpus, color_by, opened.chosen, opened.similar), opened.note

    def hover(self, sid: str, row) -> str:
        """The hovered transition's frames (or why they are gone), for the page's tip."""
        corpus, _ = self._current(sid)
        return hover_html(corpus, index(row, len(corpus) - 1, "point"))

    def choose(self, sid: str, row, k: int = 12, color_by: str = "clip"):
        """A clicked transition and its similar motions: (figure, similar motions strip, note)."""
        corpus, opened = self._current(sid)
        opened.chosen = index(row, len(corpus) - 1, "point")
        rows, distances = corpus.nearest(opened.chosen, index(k, 100, "number of similar motions", 1))
        opened.similar = rows
        captions = [f"{describe(corpus, int(r))}<br>distance {d:.2f}" for r, d in zip(rows, distances)]
        strip = strip_html(corpus, rows, captions, "No other transitions.")
        note = f"Chosen: {describe(corpus, opened.chosen).replace('<br>', ', ')}; its {len(rows)} most similar motions below."
        return corpus_figure(corpus, color_by, opened.chosen, rows), strip, note

    def similar(self, sid: str, row, k: int = 20) -> list[dict]:
        """The k transitions nearest to `row` in latent-action space, as plain rows with their distance."""
        corpus, _ = self._current(sid)
        rows, distances = corpus.nearest(index(row, len(corpus) - 1, "point"), index(k, 100, "k", 1))
        return [{**corpus.row(int(r)), "row": int(r), "distance": float(d)} for r, d in zip(rows, distances)]

    def to_library(self, sid: str):
        """The chosen transition's clip in the library (added once), picked for steering at that
        transition and as the motion to transfer. Returns (gallery, status, steering clip, steering
        frame range, motion drop zone, motion pick)."""
        corpus, opened = self._current(sid)
        if opened.chosen is None:
            raise UserError("Click a point on the corpus map first.")
        clip_id, status = self._clip_for(sid, corpus, opened.chosen)
        with self.core.session(sid) as (session, _):
            clip = session.library.get(clip_id)
            t = min(int(round(corpus.row(opened.chosen)["timestamp"] * clip.fps)), len(clip.frames) - 2)
        gallery = self.library.gallery(sid)
        status += f" Steering starts at its frame {max(t, 0)} (Steer tab); it is the motion to transfer."
        return (gallery, status, clip_id, Range(len(clip.frames) - 1, max(t, 0)),
                *self.library.pick(sid, clip_id, "motion"))

    def select(self, sid: str, rows) -> tuple[str, str]:
        """A lasso or box selection: (its frames as a grid, a note)."""
        corpus, opened = self._current(sid)
        picked = np.unique(np.asarray([index(r, len(corpus) - 1, "point") for r in (rows or [])], np.int64))
        opened.selection = picked
        shown = picked[np.linspace(0, len(picked) - 1, min(len(picked), SELECTION_SHOWN)).astype(int)] \
            if len(picked) else picked
        clips = len(np.unique(corpus.clips[picked]))
        note = (f"{len(picked):,} transitions of {clips:,} clips selected" +
                (f"; {len(shown)} of them shown." if len(shown) < len(picked) else ".")) if len(picked) else ""
        grid = strip_html(corpus, shown, [describe(corpus, int(r)) for r in shown],
                          "Draw a lasso or a box on the map to select transitions.")
        return grid, note

    def add_selection(self, sid: str) -> tuple[str, str]:
        """The selected transitions' clips into the library (ADD_AT_ONCE at most): (gallery, status)."""
        corpus, opened = self._current(sid)
        if not len(opened.selection):
            raise UserError("Select transitions on the corpus map first (lasso or box).")
        clip_rows = [int(opened.selection[corpus.clips[opened.selection] == c][0])
                     for c in np.unique(corpus.clips[opened.selection])]
        added, problems = [], []
        for row in clip_rows[:ADD_AT_ONCE]:
            try:
                added.append(self._clip_for(sid, corpus, row)[1])
            except UserError as error:
                problems.append(str(error))
        if not added:
            raise UserError(" ".join(problems))
        more = f" {len(clip_rows) - ADD_AT_ONCE} more clips were not added (at most {ADD_AT_ONCE} at once)." \
            if len(clip_rows) > ADD_AT_ONCE else ""
        return self.library.gallery(sid), " ".join(added + problems) + more

    def export(self, sid: str, kind: str = "Parquet") -> str:
        """The selected rows as a Parquet or CSV file to download."""
        corpus, opened = self._current(sid)
        if kind not in ("Parquet", "CSV"):
            raise UserError(f"Export as Parquet or CSV, not {kind!r}.")
        if not len(opened.selection):
            raise UserError("Select transitions on the corpus map first (lasso or box).")
        with self.core.session(sid) as (session, _):
            path = session.output("corpus", ".csv" if kind == "CSV" else ".parquet")
        return str(corpus.export(opened.selection, path))

    def _clip_for(self, sid: str, corpus: Corpus, row: int) -> tuple[str, str]:
        """The library's clip of a row's video, added when it is not there yet: (clip id, status)."""
        path = corpus.video(row)
        name = html.escape(corpus.row(row)["source"])
        if path is None or not path.is_file():
            gone = "its clip comes from a dataset" if path is None else "it has moved or been deleted since indexing"
            raise UserError(f"{name} cannot be added to the library: {gone}.")
        with self.core.session(sid) as (session, _):
            for clip in session.library:
                if clip.source and Path(clip.source).resolve() == path.resolve():
                    return clip.id, f"{clip.name} is in the library."
        self.library.add_files(sid, [str(path)])
        with self.core.session(sid) as (session, _):
            clip = list(session.library)[-1]
        return clip.id, f"Added {clip.name} to the library."

    def _current(self, sid: str) -> tuple[Corpus, Opened]:
        opened = self._opened.get(sid)
        corpus = self._corpora.get(opened.key) if opened else None
        if corpus is None:
            self.open(sid, DEMO_NAME)
            opened = self._opened[sid]
            corpus = self._corpora[opened.key]
        return corpus, opened

    def _load(self, label: str, root: Path, manifest: dict) -> Corpus:
        stamp = _stamp(root, manifest)
        with self._lock:
            corpus = self._corpora.get(label)
            if corpus is None or self._stamps.get(label) != stamp:
                corpus = load_corpus(root, label, manifest)
                self._notes[label], self._stamps[label] = _summary(corpus), stamp
            self._corpora[label] = corpus
            self._corpora.move_to_end(label)
            while len(self._corpora) > KEPT:
                self._corpora.popitem(last=False)
            return corpus

    def _model_note(self, sid: str, corpus: Corpus) -> str:
        """A sentence naming both models when the index was made by another model than the session's."""
        model = self.core.models.get(self.core.sessions.get(sid).model_key)  # no lock: never waits for a run
        if model.key not in self._model_hashes:
            self._model_hashes[model.key] = weights_sha256(model.pipeline.model)
        ours, label = self._model_hashes[model.key], model.info.source
        made = corpus.manifest.get("model") or {}
        if made.get("sha256") == ours:
            return ""
        return (f"  \n⚠️ This index was made with the model `{made.get('source', 'unknown')}` (weights "
                f"{str(made.get('sha256'))[:8]}), not with the app's model `{label}` (weights {ours[:8]}): the map and "
                "similar motions use the index's actions; a clip added to the library is encoded by the app's model.")


def _stamp(root: Path, manifest: dict) -> tuple:
    """What tells a changed index from the one in memory: its folder, manifest and shards' sizes and times."""
    shards = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in (root / "data").glob("part-*.parquet"))
    return str(root.resolve()), repr(manifest), tuple(shards)


def _summary(corpus: Corpus) -> str:
    note = (f"**{corpus.label}**: {len(corpus):,} transitions of {len(corpus.clip_names):,} clips in "
            f"{len(corpus.folder_names)} source folders. Hover a point to see its two frames, click it to steer from "
            "it and see similar motions, draw a lasso or a box to select.")
    if corpus.skipped:
        note += (f"  \n⚠️ {', '.join(corpus.skipped)} cannot be read (corrupt or truncated) and is left out; "
                 "index the folder again to bring its transitions back.")
    return note

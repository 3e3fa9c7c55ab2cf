"""An indexing run: which clips are left, the engine that encodes them, and the shards they go to."""
from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
from tqdm.auto import tqdm

from dila.index.config import IndexConfig
from dila.index.encode import load_pipeline
from dila.index.results import ClipResult
from dila.index.schema import describe_schema, error_table, transition_schema, transition_table
from dila.index.sources import Corpus, open_corpus
from dila.index.store import FORMAT, VERSION, IndexStore


def build_index(config: IndexConfig) -> dict:
    """Index `config.source` into `config.out`, resuming what is there; returns the manifest."""
    corpus = open_corpus(config.source, config.split, config.video_column)
    pipeline, identity = load_pipeline(replace(config, device="cpu") if config.engine == "ray" else config)
    store = IndexStore(config.out)
    store.open(header(config, corpus, identity))
    try:
        done = store.done()
        tasks = [task for task in corpus.tasks[:config.limit] if task.clip_id not in done]
        write(results(config, corpus, tasks, pipeline), store, config, len(tasks))
        return store.finish()
    finally:
        store.close()


def results(config: IndexConfig, corpus: Corpus, tasks: list, pipeline) -> Iterable[ClipResult]:
    if config.engine == "ray":
        from dila.index.ray_engine import ray_results

        return ray_results(config, corpus, tasks, pipeline.image_size)
    from dila.index.local import local_results

    return local_results(config, corpus, tasks, pipeline)


def header(config: IndexConfig, corpus: Corpus, identity: dict) -> dict:
    source = {"kind": corpus.kind, "root": root_label(corpus, config.out)}
    schema = describe_schema(transition_schema(identity["model"]["action_dim"]))
    return {"format": FORMAT, "version": VERSION, "source": source, **identity, "settings": config.settings(),
            "schema": schema}


def root_label(corpus: Corpus, out: Path) -> str:
    """Where the clips are: relative to the index when they live inside it, else as an absolute path
    (a Hub dataset: its id)."""
    root = Path(corpus.root)
    if corpus.kind == "dataset" and not root.exists():
        return corpus.root
    root, out = root.resolve(), out.resolve()
    return root.relative_to(out).as_posix() if root.is_relative_to(out) else str(root)


def write(results: Iterable[ClipResult], store: IndexStore, config: IndexConfig, total: int) -> None:
    """Shards of whole clips, each written once `config.shard_rows` transitions are waiting."""
    number, tables, errors, waiting = store.next_number(), [], [], 0
    transitions, failures, started = 0, 0, time.perf_counter()
    with tqdm(total=total, unit="clip", desc="indexing", disable=not config.progress) as bar:
        for result in results:
            if result.error is None:
                tables.append(transition_table(result.clip, result.actions))
                waiting += len(result.actions)
                transitions += len(result.actions)
            else:
                errors.append({"clip_id": result.clip_id, "source": result.source, "error": result.error})
                failures += 1
            if waiting >= config.shard_rows:
                store.write_shard(number, _concat(tables), error_table(errors))
                number, tables, errors, waiting = number + 1, [], [], 0
            rate = transitions / max(time.perf_counter() - started, 1e-9)
            bar.set_postfix(transitions=transitions, per_s=f"{rate:.0f}", failed=failures, refresh=False)
            bar.update(1)
        if tables or errors:
            store.write_shard(number, _concat(tables), error_table(errors))


def _concat(tables: list[pa.Table]) -> pa.Table | None:
    return pa.concat_tables(tables) if tables else None

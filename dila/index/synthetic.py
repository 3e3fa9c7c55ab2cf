"""A synthetic index of any size, for benchmarks of the corpus view (generated on demand, never shipped).

    python -m dila.index.synthetic --out runs/synthetic-100k --transitions 100000

Latent actions are drawn around a few centres (clusters to find); every clip points at a clip of the
demo index, so frames can be read for any row. Same arguments, same index.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa

from dila.index.build import root_label
from dila.index.decode import DecodedClip
from dila.index.demo import DEMO_INDEX
from dila.index.schema import describe_schema, transition_schema, transition_table
from dila.index.sources import Corpus
from dila.index.store import FORMAT, VERSION, IndexStore


def make_synthetic_index(out: str | Path, transitions: int = 100_000, frames: int = 24, centres: int = 12,
                         shard_rows: int = 50_000, seed: int = 0, demo: Path = DEMO_INDEX) -> dict:
    """`transitions` rows in clips of `frames` frames (the last clip shorter); returns the manifest."""
    demo_manifest = IndexStore(demo).manifest()
    sources = sorted(str(p.relative_to(demo / "clips").as_posix()) for p in (demo / "clips").rglob("*.webm"))
    action_dim = demo_manifest["model"]["action_dim"]
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 0.5, (centres, action_dim)).astype(np.float32)
    store = IndexStore(out)
    store.open({"format": FORMAT, "version": VERSION,
                "source": {"kind": "files", "root": root_label(Corpus("files", str(demo / "clips"), ()), Path(out))},
                "model": demo_manifest["model"], "codec": demo_manifest["codec"],
                "settings": {**demo_manifest["settings"], "synthetic": {"transitions": transitions, "seed": seed}},
                "schema": describe_schema(transition_schema(action_dim))})
    tables, waiting, number, clip = [], 0, 0, 0
    while clip * (frames - 1) < transitions:
        count = min(frames - 1, transitions - clip * (frames - 1))
        centre = means[rng.integers(centres)]
        actions = centre + rng.normal(0, 0.1, (count, action_dim)).astype(np.float32)
        decoded = DecodedClip(f"synthetic/{clip:07d}", sources[clip % len(sources)], None,
                              np.arange(count + 1), frames, 8.0, 64, 64)
        tables.append(transition_table(decoded, actions))
        waiting, clip = waiting + count, clip + 1
        if waiting >= shard_rows:
            store.write_shard(number, pa.concat_tables(tables), None)
            tables, waiting, number = [], 0, number + 1
    if tables:
        store.write_shard(number, pa.concat_tables(tables), None)
    return store.finish()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dila.index.synthetic", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--transitions", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    manifest = make_synthetic_index(args.out, args.transitions, seed=args.seed)
    print(f"{args.out}: {manifest['counts']}")


if __name__ == "__main__":
    main()

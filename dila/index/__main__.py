"""python -m dila.index SOURCE --out DIR: latent actions of every transition of a video corpus."""
from __future__ import annotations

import argparse
import json
from dataclasses import fields

from dila.index.build import build_index
from dila.index.config import ENGINES, FITS, IndexConfig

HELP = {
    "model": "world model: a directory, a .pt file or a Hub repo id (default: the bundled model)",
    "revision": "Hub revision of --model",
    "filename": "the .pt file to use in a Hub repo holding several",
    "codec": "a light-codec directory or 'rae' (default: the codec the explorer picks for the model)",
    "device": "cpu, cuda, cuda:1, ...",
    "frames": "evenly spaced frames decoded per clip",
    "window": "frames the model sees at once; longer clips are encoded in windows that share a frame",
    "fit": "square frames: the whole frame on black bars, or its centre",
    "max_duration_s": "longer videos go to the errors table",
    "split": "split of a datasets source",
    "video_column": "video column of a datasets source (default: the first one)",
    "shard_rows": "transitions per Parquet shard (whole clips)",
    "limit": "index only the first N clips (in id order)",
    "engine": "local (one process) or ray (Ray Data; RAY_ADDRESS names an existing cluster)",
    "workers": "ray: model actors",
    "decoders": "ray: decoding tasks at once (default: as many as the cluster has CPUs)",
    "gpus_per_worker": "ray: GPUs per model actor (0: the model on CPUs)",
    "cpus_per_worker": "ray: CPUs (torch threads) per model actor",
}
CHOICES = {"engine": ENGINES, "fit": FITS}


def parse(argv: list[str] | None = None) -> IndexConfig:
    parser = argparse.ArgumentParser(prog="python -m dila.index", description=__doc__)
    parser.add_argument("source", help="a folder or glob of videos, a saved datasets directory, or a Hub dataset id")
    parser.add_argument("--out", required=True, help="the index directory (an existing one is resumed)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    for field in fields(IndexConfig):
        if field.name in HELP:
            kind = {"int": int, "float": float}.get(str(field.type).split(" ")[0], str)
            default = "" if field.default is None else " (default: %(default)s)"
            parser.add_argument(f"--{field.name.replace('_', '-')}", type=kind, default=field.default,
                                choices=CHOICES.get(field.name), help=HELP[field.name] + default)
    return IndexConfig(**vars(parser.parse_args(argv)))


def main(argv: list[str] | None = None) -> None:
    config = parse(argv)
    try:
        manifest = build_index(config)
    except (ImportError, OSError, ValueError) as error:  # no Ray, a missing source or model, an index made another way
        raise SystemExit(f"python -m dila.index: {error}") from None
    print(f"{config.out}: {json.dumps(manifest['counts'])}")


if __name__ == "__main__":
    main()

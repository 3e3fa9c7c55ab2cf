"""Evaluations side by side: the JSON files of `python -m dila.evaluate --out` as one Markdown table.

    python -m dila.compare checkpoints/eval.json runs/bundled/stage15/eval.json
    python -m dila.compare a.json b.json --only prediction.one_step transfer.model slider --changed 0.01

One row per result (the dotted names of `dila.evaluate.rows`), one column per file, named after the file's
folder (`--names` to choose); a result that a file lacks shows as "-". Settings and timings are left out unless
`--only settings` asks for them.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from dila.evaluate import format_value, rows

HIDDEN = "settings."


def load(path: str | Path) -> dict:
    path = Path(path)
    try:
        results = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise SystemExit(f"{path}: not an evaluation file ({error})") from error
    if not isinstance(results, dict):
        raise SystemExit(f"{path}: not an evaluation file (a JSON object is expected)")
    return results


def column_name(path: str | Path) -> str:
    """`runs/k3/eval.json` -> "k3", `k3_eval.json` -> "k3_eval"."""
    path = Path(path)
    if path.stem == "eval" and path.parent.name:
        return path.parent.name
    return path.stem


def differs(values: list, tolerance: float) -> bool:
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(numbers) == len(values) and not any(isinstance(v, float) and math.isnan(v) for v in numbers):
        return max(numbers) - min(numbers) > tolerance
    return len({json.dumps(v) for v in values}) > 1


def compare(results: list[dict], names: list[str], only: tuple[str, ...] = (), changed: float | None = None) -> str:
    """A Markdown table of `results` (one column each, headed by `names`): every row, the rows under the
    prefixes `only`, and of those, with `changed`, the ones whose values differ by more than it."""
    tables = [dict(rows(r)) for r in results]
    keys = list(dict.fromkeys(name for table in tables for name in table))
    keys = [k for k in keys if any(k.startswith(p) for p in only)] if only else [k for k in keys if not k.startswith(HIDDEN)]
    lines = ["| result | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
    for key in keys:
        values = [table.get(key) for table in tables]
        if changed is not None and not differs(values, changed):
            continue
        lines.append(f"| {key} | " + " | ".join("-" if v is None else format_value(v) for v in values) + " |")
    return "\n".join(lines)


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", help="evaluation JSON files")
    parser.add_argument("--names", nargs="+", help="column names, one per file (default: each file's folder)")
    parser.add_argument("--only", nargs="+", default=(), help="keep the results under these dotted prefixes")
    parser.add_argument("--changed", type=float, default=None, metavar="TOLERANCE",
                        help="keep the rows whose values differ by more than this")
    args = parser.parse_args(argv)
    names = args.names or [column_name(f) for f in args.files]
    if len(names) != len(args.files):
        parser.error(f"{len(args.files)} files but {len(names)} names")
    out = compare([load(f) for f in args.files], names, tuple(args.only), args.changed)
    print(out)
    return out


if __name__ == "__main__":
    main()

"""Each method's chosen run of an experiment, as a Markdown table (the README's methods table).

    python benchmarks/methods_table.py results/fashion-mnist-methods-sweep [--forget-class 4]

Reads only ``tables/runs.arrow``. Per forget class: the original and the retrained model, then for every
method the run marked ``chosen`` (the grid point with the smallest gap to the retrained model on the
validation split), with the settings that vary in the method's grid, the number of grid points, and
the reported metrics (none of which uses the validation split). Sorted by Avg. Gap.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import pyarrow.feather as feather

COLUMNS = ("UA", "RA", "TUA", "TRA", "PS", "MIA_efficacy", "avg_gap", "val_gap", "RTE")
HEADERS = ("UA", "RA", "TUA", "TRA", "PS", "MIA eff.", "Avg. Gap", "val. gap", "RTE (s)")


def _number(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.1f}" if digits == 1 else f"{value:.{digits}f}"


def _varying(runs: list[dict]) -> list[str]:
    """The hyperparameters that take more than one value over a method's runs (its grid axes)."""
    values: dict[str, set] = {}
    for run in runs:
        for key, value in json.loads(run["hyperparameters"] or "{}").items():
            if key != "seed":
                values.setdefault(key, set()).add(json.dumps(value))
    return sorted(key for key, seen in values.items() if len(seen) > 1)


def _settings(run: dict, axes: list[str]) -> str:
    hp = json.loads(run["hyperparameters"] or "{}")
    shown = ["epochs", "lr", "batch_size", *[a for a in axes if a not in ("epochs", "lr", "batch_size")]]
    return ", ".join(
        f"{key} {hp[key]:g}" if isinstance(hp.get(key), float) else f"{key} {hp.get(key)}"
        for key in shown
        if key in hp
    )


def table(rows: list[dict], forget_class: int) -> str:
    mine = [r for r in rows if r["forget_class"] == forget_class]
    lines = [
        "| method | chosen setting | grid points | " + " | ".join(HEADERS) + " |",
        "|---|---|---|" + "---|" * len(HEADERS),
    ]
    for kind in ("original", "retrained"):
        for r in (r for r in mine if r["type"] == kind):
            cells = [_number(r[c], 1 if c == "RTE" else 3) for c in COLUMNS]
            lines.append(f"| {kind} | – | – | " + " | ".join(cells) + " |")
    methods: dict[str, list[dict]] = {}
    for r in mine:
        if r["type"] == "unlearned":
            methods.setdefault(r["method"], []).append(r)
    chosen = []
    for runs in methods.values():
        picked = [r for r in runs if r.get("chosen")]
        if not picked:
            failed = sum(r["status"] != "ok" for r in runs)
            chosen.append(
                (
                    math.inf,
                    f"| {runs[0]['method_name']} | none chosen ({failed} failed) | {len(runs)} |"
                    + " – |" * len(HEADERS),
                )
            )
            continue
        r = picked[0]
        cells = [_number(r[c], 1 if c == "RTE" else 3) for c in COLUMNS]
        line = (
            f"| {r['method_name']} | {_settings(r, _varying(runs))} | {len(runs)} | "
            + " | ".join(cells)
            + " |"
        )
        chosen.append((r["avg_gap"] if r["avg_gap"] is not None else math.inf, line))
    lines += [line for _, line in sorted(chosen, key=lambda item: item[0])]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--forget-class", type=int, action="append", help="default: every forget class")
    args = parser.parse_args()
    runs = feather.read_table(args.results / "tables" / "runs.arrow").to_pylist()
    classes = args.forget_class or sorted({r["forget_class"] for r in runs})
    for fc in classes:
        print(f"\nforget class {fc}:\n")
        print(table(runs, fc))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Each method's chosen setting of an experiment, as a Markdown table (the README's methods tables).

    python benchmarks/methods_table.py results/fashion-mnist-methods-sweep [--forget-set fc4]

Reads ``tables/summary.arrow`` and ``tables/forget_sets.arrow``. Per forget set: the original and the
retrained model, then for every method its chosen setting (the grid point with the smallest mean gap to
the retrained model on the validation split), with the settings that vary in the method's grid, the
number of grid points, and the reported metrics (none of which uses the validation split): the mean over
the experiment's seeds, ± the sample standard deviation when there are several. Sorted by Avg. Gap.
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


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _cell(row: dict, metric: str) -> str:
    """The mean, with ± the standard deviation when the setting ran on several seeds."""
    mean, std = row[f"{metric}_mean"], row[f"{metric}_std"]
    if _missing(mean):
        return "–"
    digits = 1 if metric == "RTE" else 3
    return f"{mean:.{digits}f}" + ("" if _missing(std) else f" ± {std:.{digits}f}")


def _varying(settings: list[dict]) -> list[str]:
    """The hyperparameters that take more than one value over a method's settings (its grid axes)."""
    values: dict[str, set] = {}
    for setting in settings:
        for key, value in json.loads(setting["hyperparameters"] or "{}").items():
            values.setdefault(key, set()).add(json.dumps(value))
    return sorted(key for key, seen in values.items() if len(seen) > 1)


def _settings(setting: dict, axes: list[str]) -> str:
    hp = json.loads(setting["hyperparameters"] or "{}")
    shown = ["epochs", "lr", "batch_size", *[a for a in axes if a not in ("epochs", "lr", "batch_size")]]
    return ", ".join(
        f"{key} {hp[key]:g}" if isinstance(hp.get(key), float) else f"{key} {hp.get(key)}"
        for key in shown
        if key in hp
    )


def table(summary: list[dict], forget_set: str) -> str:
    mine = [s for s in summary if s["forget_set"] == forget_set]
    lines = [
        "| method | chosen setting | grid points | " + " | ".join(HEADERS) + " |",
        "|---|---|---|" + "---|" * len(HEADERS),
    ]
    for kind in ("original", "retrained"):
        for s in (s for s in mine if s["type"] == kind):
            lines.append(f"| {kind} | – | – | " + " | ".join(_cell(s, c) for c in COLUMNS) + " |")
    methods: dict[str, list[dict]] = {}
    for s in mine:
        if s["type"] == "unlearned":
            methods.setdefault(s["method"], []).append(s)
    chosen = []
    for settings in methods.values():
        picked = [s for s in settings if s.get("chosen")]
        if not picked:
            failed = sum(s["n_ok"] < s["n"] for s in settings)
            name = settings[0]["method_name"]
            line = f"| {name} | none chosen ({failed} with failed runs) | {len(settings)} |"
            chosen.append((math.inf, line + " – |" * len(HEADERS)))
            continue
        s = picked[0]
        cells = " | ".join(_cell(s, c) for c in COLUMNS)
        line = f"| {s['method_name']} | {_settings(s, _varying(settings))} | {len(settings)} | {cells} |"
        chosen.append((math.inf if _missing(s["avg_gap_mean"]) else s["avg_gap_mean"], line))
    lines += [line for _, line in sorted(chosen, key=lambda item: item[0])]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--forget-set", action="append", help="a forget set's id (default: every set)")
    args = parser.parse_args()
    tables = args.results / "tables"
    summary = feather.read_table(tables / "summary.arrow").to_pylist()
    sets = feather.read_table(tables / "forget_sets.arrow").to_pylist()
    runs = feather.read_table(tables / "runs.arrow")
    seeds = json.loads(runs.schema.metadata[b"experiment"]).get("seeds") or []
    for forget_set in sets:
        if args.forget_set and forget_set["forget_set"] not in args.forget_set:
            continue
        over = f", mean ± standard deviation over seeds {seeds}" if len(seeds) > 1 else ""
        print(f"\nforget set {forget_set['name']} ({forget_set['forget_set']}{over}):\n")
        print(table(summary, forget_set["forget_set"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

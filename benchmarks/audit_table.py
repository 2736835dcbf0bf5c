"""The privacy audit of an experiment, as Markdown tables (the README's audit tables).

    python benchmarks/audit_table.py results/fashion-mnist-audit [--forget-set fc4]

Reads ``tables/audit.arrow`` (written when the config sets audit.shadow_models), ``tables/summary.arrow``
and ``tables/forget_sets.arrow``. Per forget set and setting (the original, the retrained model's
calibration, each method's grid points): the Comparator's population privacy score PS (mean ± std over the
seeds), then U-LiRA's and offline RMIA's AUC and TPR at 1 % FPR pooled over the setting's audited
replicates, U-LiRA's per-model AUC (mean ± std over replicates: how much one pair of models varies), and the
NeurIPS 2023 challenge's forget quality F and final score. Sorted by pooled U-LiRA AUC, the retrained
calibration and the original first.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import pyarrow.feather as feather

HEADERS = (
    "PS (population)",
    "U-LiRA AUC",
    "U-LiRA TPR@1%",
    "U-LiRA AUC per model",
    "RMIA AUC",
    "RMIA TPR@1%",
    "F",
    "challenge score",
    "K",
)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _number(value, digits=3) -> str:
    return "–" if _missing(value) else f"{value:.{digits}f}"


def _spread(values: list) -> str:
    values = [v for v in values if not _missing(v)]
    if not values:
        return "–"
    if len(values) == 1:
        return _number(values[0])
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}"


def _label(summary_row: dict | None, setting_id: str) -> str:
    if summary_row is None:
        return setting_id
    if summary_row["type"] in ("original", "retrained"):
        return summary_row["type"] + (" (calibration)" if summary_row["type"] == "retrained" else "")
    return summary_row["method_name"] or summary_row["method"]


def table(audit: list[dict], summary: dict[str, dict], forget_set: str) -> str:
    settings: dict[str, list[dict]] = {}
    for row in audit:
        if row["forget_set"] == forget_set:
            settings.setdefault(row["setting_id"], []).append(row)
    lines = ["| model | " + " | ".join(HEADERS) + " |", "|---|" + "---|" * len(HEADERS)]
    order = {"retrained": 0, "original": 1}
    ranked = []
    for setting_id, rows in settings.items():
        s = summary.get(setting_id)
        first = next((r for r in rows if r["ulira_auc_setting"] is not None), rows[0])
        ps = (
            "–"
            if s is None
            else _number(s["PS_mean"]) + ("" if _missing(s["PS_std"]) else f" ± {s['PS_std']:.3f}")
        )
        cells = [
            ps,
            _number(first["ulira_auc_setting"]),
            _number(first["ulira_tpr_1pct_setting"]),
            _spread([r["ulira_auc"] for r in rows]),
            _number(first["rmia_auc_setting"]),
            _number(first["rmia_tpr_1pct_setting"]),
            _number(first["forget_quality"]),
            _number(first["challenge_score"]),
            str(first["shadow_models"] or "–"),
        ]
        kind = s["type"] if s else "unlearned"
        key = (order.get(kind, 2), -(first["ulira_auc_setting"] or 0))
        ranked.append((key, f"| {_label(s, setting_id)} | " + " | ".join(cells) + " |"))
    lines += [line for _, line in sorted(ranked)]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--forget-set", action="append", help="a forget set's id (default: every set)")
    args = parser.parse_args()
    tables = args.results / "tables"
    if not (tables / "audit.arrow").is_file():
        print(f"{tables / 'audit.arrow'} does not exist: the experiment ran without audit.shadow_models")
        return 1
    audit = feather.read_table(tables / "audit.arrow").to_pylist()
    summary = {s["setting_id"]: s for s in feather.read_table(tables / "summary.arrow").to_pylist()}
    for forget_set in feather.read_table(tables / "forget_sets.arrow").to_pylist():
        if args.forget_set and forget_set["forget_set"] not in args.forget_set:
            continue
        print(f"\nforget set {forget_set['name']} ({forget_set['forget_set']}):\n")
        print(table(audit, summary, forget_set["forget_set"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The summary table: each setting's metrics over its replicates (mean, sample standard deviation, count).

A *setting* is one forget set, method and grid point (or the original, retrained or an external model); with
``seeds: [0, 1, 2]`` runs.arrow holds one row per replicate of it, sharing its ``setting_id``. The summary
reduces them: for each metric the mean and the sample standard deviation (ddof = 1: the replicates are a
sample of the seeds one could have drawn) over the finite values of the runs that finished, with their
count; and which setting stands for each method (:func:`..selection.choose_settings`, on the mean val_gap).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa

from .selection import choose_settings
from .tables.schema import SUMMARY_METRICS, summary_schema


def mean_std(values: Iterable[Any]) -> tuple[float | None, float | None, int]:
    """(mean, sample std with ddof = 1, n) over the finite values; mean None when n = 0, std None when
    n < 2 (one value has no spread to estimate)."""
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    n = len(finite)
    mean = float(np.mean(finite)) if n else None
    std = float(np.std(finite, ddof=1)) if n >= 2 else None
    return mean, std, n


def vector_mean_std(vectors: list[list[float] | None]) -> tuple[list[float] | None, list[float] | None]:
    """Element-wise mean and sample std (ddof = 1) of per-class accuracy lists; None without a list (mean)
    or with fewer than two (std). A class with no image (NaN) stays NaN."""
    given = np.array([v for v in vectors if v is not None], dtype=np.float64)
    if len(given) == 0:
        return None, None
    mean = given.mean(0).tolist()
    std = given.std(0, ddof=1).tolist() if len(given) >= 2 else None
    return mean, std


def _hyperparameters_without_seed(text: str | None) -> str:
    """The setting's hyperparameters: a run's, less ``seed`` (the replicate's, which differs between rows)."""
    hp = json.loads(text) if text else {}
    hp.pop("seed", None)
    return json.dumps(hp, sort_keys=True)


def _setting_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One summary row from the runs rows of one setting (every replicate of it)."""
    first = rows[0]
    ok = [r for r in rows if r.get("status") == "ok"]
    out = {
        "forget_set": first["forget_set"],
        "setting_id": first["setting_id"],
        "type": first["type"],
        "method": first.get("method"),
        "method_name": first.get("method_name"),
        "hyperparameters": _hyperparameters_without_seed(first.get("hyperparameters")),
        "n": len(rows),
        "n_ok": len(ok),
    }
    for metric in SUMMARY_METRICS:
        out[f"{metric}_mean"], out[f"{metric}_std"], out[f"{metric}_n"] = mean_std(r.get(metric) for r in ok)
    for key in ("train_acc", "test_acc"):
        out[f"{key}_mean"], out[f"{key}_std"] = vector_mean_std([r.get(key) for r in ok])
    return out


def summary_rows(runs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (forget_set, setting_id) of runs.arrow rows, in order of first appearance, with
    ``chosen``."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault((r["forget_set"], r["setting_id"]), []).append(r)
    rows = [_setting_row(members) for members in groups.values()]
    chosen = choose_settings(rows)
    for row in rows:
        row["chosen"] = chosen[str(row["setting_id"])]
    return rows


def summary_table(runs: pa.Table, num_classes: int) -> pa.Table:
    """summary.arrow (or a forget set's fragment of it) from runs.arrow (or its fragment)."""
    schema = summary_schema(num_classes)
    return pa.Table.from_pylist(summary_rows(runs.to_pylist()), schema=schema)

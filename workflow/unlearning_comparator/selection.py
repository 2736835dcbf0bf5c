"""Choosing each method's setting fairly: per forget set and replicate, the grid point closest to the
retrained model on a validation split that no reported number uses.

Every point of a method's grid is run, evaluated and kept in runs.arrow. Which one stands for the method
(the literature reports one setting per method, tuned by its Avg. Gap to the retrained model) is decided on
the *validation split* (``data.subsets.validation_split``: ``selection.validation_fraction`` of each
class's test images, seeded, outside the CKA test pool), never on the images the reported metrics use:

* ``val_UA``: accuracy on the validation images of the forget set's class(es); ``None`` when none of them
  is (a forget set with no test counterpart, e.g. a random sample of training images);
* ``val_RA``: accuracy on the other validation images (share of images, like the literature's TA);
* ``val_gap``: the mean of ``|val_UA − retrained val_UA|`` and ``|val_RA − retrained val_RA|`` — the Avg.
  Gap's accuracy terms on unseen images; ``|val_RA − retrained val_RA|`` alone where val_UA is ``None``;
* ``chosen``: per (forget set, replicate seed, method), among that method's runs that finished, the one
  with the smallest val_gap; ties go to the smaller RTE, then the smaller run_id;
* across replicates (the summary table, :func:`choose_settings`): per (forget set, method), the setting
  (grid point) with an ok run and the smallest mean val_gap; ties: the smaller mean RTE, then setting_id.

The original, retrained and external models are never chosen (there is no grid to choose from).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np


def validation_accuracies(preds, labels, is_forget) -> dict[str, float | None]:
    """``val_UA`` and ``val_RA`` of one model from its predictions on the validation images, their labels
    and whether each belongs to the forget set; ``None`` for a part with no image."""
    preds, labels = np.asarray(preds), np.asarray(labels)
    is_forget = np.asarray(is_forget, dtype=bool)
    if not (preds.shape == labels.shape == is_forget.shape) or preds.ndim != 1:
        raise ValueError(
            f"preds {preds.shape}, labels {labels.shape} and is_forget {is_forget.shape} must be the same "
            f"1-D shape"
        )
    correct = preds == labels

    def share(mask: np.ndarray) -> float | None:
        return float(correct[mask].mean()) if mask.any() else None

    return {"val_UA": share(is_forget), "val_RA": share(~is_forget)}


def _number(value: Any) -> float | None:
    return None if value is None or not math.isfinite(float(value)) else float(value)


def validation_gap(metrics: dict[str, Any], retrained: dict[str, Any]) -> float | None:
    """Mean |Δ| to the retrained model over val_UA and val_RA; val_RA alone where either model has no
    val_UA; ``None`` without val_RA."""
    terms = []
    for key in ("val_UA", "val_RA"):
        mine, theirs = _number(metrics.get(key)), _number(retrained.get(key))
        if mine is None or theirs is None:
            if key == "val_RA":
                return None
            continue
        terms.append(abs(mine - theirs))
    return float(np.mean(terms))


def _forget_set_of(row: dict[str, Any]) -> Any:
    """The row's forget set: its id, or its forget class in rows made before forget sets existed."""
    return row.get("forget_set") if row.get("forget_set") is not None else row.get("forget_class")


def _smallest(candidates: Iterable[tuple[Any, tuple[float, float, str]]]) -> set[str]:
    """The name of each group's smallest (gap, time, name) key."""
    best: dict[Any, tuple[float, float, str]] = {}
    for group, key in candidates:
        if group not in best or key < best[group]:
            best[group] = key
    return {key[2] for key in best.values()}


def choose(rows: Iterable[dict[str, Any]]) -> dict[str, bool]:
    """``chosen`` of every row (by run_id): per (forget set, replicate seed, method), True for the unlearned
    run that finished (status ok) with the smallest finite val_gap — ties: the smaller RTE (a missing RTE
    counts as the largest), then the smaller run_id — False for every other row. A method none of whose
    runs has a val_gap gets no chosen run."""
    rows = list(rows)

    def candidates():
        for r in rows:
            gap = _number(r.get("val_gap"))
            if (
                r.get("type") != "unlearned"
                or r.get("status") != "ok"
                or gap is None
                or r.get("method") is None
            ):
                continue
            rte = _number(r.get("RTE"))
            group = (_forget_set_of(r), r.get("seed"), r["method"])
            yield group, (gap, math.inf if rte is None else rte, str(r["run_id"]))

    winners = _smallest(candidates())
    return {str(r["run_id"]): str(r["run_id"]) in winners for r in rows}


def choose_settings(rows: Iterable[dict[str, Any]]) -> dict[str, bool]:
    """``chosen`` of every summary row (by setting_id): per (forget set, method), True for the unlearned
    setting with at least one ok run and the smallest finite ``val_gap_mean`` — ties: the smaller
    ``RTE_mean`` (missing counts as the largest), then the smaller setting_id — False otherwise."""
    rows = list(rows)

    def candidates():
        for r in rows:
            gap = _number(r.get("val_gap_mean"))
            if r.get("type") != "unlearned" or not r.get("n_ok") or gap is None or r.get("method") is None:
                continue
            rte = _number(r.get("RTE_mean"))
            group = (r.get("forget_set"), r["method"])
            yield group, (gap, math.inf if rte is None else rte, str(r["setting_id"]))

    winners = _smallest(candidates())
    return {str(r["setting_id"]): str(r["setting_id"]) in winners for r in rows}

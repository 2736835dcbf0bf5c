"""Job: the per-example privacy audit of one forget set over every replicate (config ``audit``).

Reads each model's logits (written by its evaluation: every training and test image, so no model runs
again), audits every setting of the forget set with ``unlearning_comparator.privacy_audit`` and writes the
set's fragments of audit.arrow and audit_instances.arrow. External models belong to one replicate and
have no shadows: they are not audited.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from typing import Any

import numpy as np
import pyarrow as pa

from ..privacy_audit import AuditRow, ModelOutputs, audit_retrained, audit_setting
from ..tables import read_table, write_table
from ..tables.schema import AUDIT, AUDIT_INSTANCES
from .common import log, model_files, spec_forget_set


class LogitsReader:
    """Reads models' logits tables, checking that every model saw the same images in the same order."""

    def __init__(self, forget_set):
        self.forget_set = forget_set
        self.train_index: np.ndarray | None = None
        self.labels: tuple[np.ndarray, np.ndarray] | None = None
        self.forget: np.ndarray | None = None  # positions in the training split

    def read(self, path: str) -> ModelOutputs | None:
        table = read_table(path)
        is_train = np.array([s == "train" for s in table.column("split").to_pylist()])
        index = table.column("index").to_numpy()
        labels = table.column("label").to_numpy().astype(np.int64)
        logits = table.column("logits").combine_chunks().flatten().to_numpy()
        logits = logits.reshape(len(table), -1).astype(np.float64)
        if not np.isfinite(logits).all():
            return None  # the analysis records such a run as failed
        if self.train_index is None:
            self.train_index = index[is_train]
            self.labels = labels[is_train], labels[~is_train]
            self.forget = np.flatnonzero(self.forget_set.train_mask(self.labels[0]))
        elif not np.array_equal(index[is_train], self.train_index):
            raise RuntimeError(f"{path}: its training images differ from the other models'")
        train_labels, test_labels = self.labels
        return ModelOutputs.of_logits(
            logits[is_train], train_labels, logits[~is_train], test_labels, self.forget
        )


def run(spec: dict[str, Any], models: list[dict[str, Any]], out: dict[str, str]) -> None:
    """Audit the forget set ``spec["forget_set"]`` with ``spec["audit"]`` (shadow_models, rmia_a) over
    the replicates ``spec["seeds"]``; ``models`` as the analysis job's MODELS."""
    started = time.perf_counter()
    forget_set = spec_forget_set(spec)
    seeds = [int(s) for s in spec["seeds"]]
    k, rmia_a = int(spec["audit"]["shadow_models"]), float(spec["audit"]["rmia_a"])
    reader = LogitsReader(forget_set)
    settings: dict[str, dict[int, tuple[str, ModelOutputs | None]]] = defaultdict(dict)
    types: dict[str, str] = {}
    for entry in models:
        entry = model_files(entry, spec.get("results"))
        info = json.load(open(entry["info"]))
        if info["type"] == "external":
            continue
        outputs = reader.read(entry["logits"]) if info["status"] == "ok" else None
        settings[entry["setting_id"]][int(entry["seed"])] = (entry["run_id"], outputs)
        types[entry["setting_id"]] = info["type"]
    (retrained_id,) = [s for s, t in types.items() if t == "retrained"]
    retrained = settings.pop(retrained_id)
    if any(outputs is None for _, outputs in retrained.values()):
        raise RuntimeError(f"forget set {forget_set.id}: every replicate's retrained model must be evaluated")
    rows = audit_retrained(retrained, seeds, retrained_id, k, rmia_a)
    retrained_outputs = {seed: outputs for seed, (_, outputs) in retrained.items()}
    for setting_id, by_seed in settings.items():
        rows += audit_setting(by_seed, retrained_outputs, seeds, setting_id, k, rmia_a)
        log(f"{setting_id}: audited over {len(by_seed)} replicate(s)")
    members = reader.train_index[reader.forget]
    write_table(audit_table(rows, forget_set.id), out["audit"], AUDIT)
    write_table(audit_instances_table(rows, members), out["audit_instances"], AUDIT_INSTANCES)
    log(
        f"forget set {forget_set.id}: {len(rows)} models audited with K = {k} shadow models, "
        f"{len(members)} forget images, in {time.perf_counter() - started:.1f} s"
    )


def audit_table(rows: list[AuditRow], forget_set_id: str) -> pa.Table:
    def figures(prefix, attack):
        if attack is None:
            return {f"{prefix}_{k}": None for k in ("auc", "tpr_1pct", "tpr_01pct", "roc_tpr")}
        return {
            f"{prefix}_auc": attack.auc,
            f"{prefix}_tpr_1pct": attack.tpr_1pct,
            f"{prefix}_tpr_01pct": attack.tpr_01pct,
            f"{prefix}_roc_tpr": attack.roc_tpr.tolist(),
        }

    records = [
        {
            "run_id": r.run_id,
            "forget_set": forget_set_id,
            "setting_id": r.setting_id,
            "seed": r.seed,
            "shadow_models": r.shadow_models,
            **figures("ulira", r.ulira),
            **figures("rmia", r.rmia),
            **{
                f"{name}_{figure}_setting": getattr(pooled, figure) if pooled else None
                for name, pooled in (("ulira", r.ulira_setting), ("rmia", r.rmia_setting))
                for figure in ("auc", "tpr_1pct")
            },
            "epsilon_models": r.epsilon_models,
            "forget_quality": r.forget_quality,
            "challenge_score": r.challenge_score,
            "note": "; ".join(r.notes) or None,
        }
        for r in rows
    ]
    return pa.Table.from_pylist(records, schema=AUDIT)


def audit_instances_table(rows: list[AuditRow], members: np.ndarray) -> pa.Table:
    """Per audited model with scores, one row per forget image."""
    parts = []
    for r in rows:
        if r.ulira is None and r.epsilons is None:
            continue
        n = len(members)
        missing = pa.nulls(n, pa.float32())
        parts.append(
            pa.table(
                {
                    "run_id": pa.array([r.run_id] * n, pa.string()),
                    "index": pa.array(members, pa.int32()),
                    "ulira": pa.array(r.ulira.scores, pa.float32()) if r.ulira else missing,
                    "rmia": pa.array(r.rmia.scores, pa.float32()) if r.rmia else missing,
                    "epsilon": pa.array(r.epsilons, pa.float32()) if r.epsilons is not None else missing,
                },
                schema=AUDIT_INSTANCES,
            )
        )
    return pa.concat_tables(parts) if parts else AUDIT_INSTANCES.empty_table()

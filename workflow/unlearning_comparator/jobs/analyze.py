"""Job: everything about one forget class that needs several models at once.

From the per-model evaluation outputs of the forget class (original, retrained, every unlearned and
external run) it derives the accuracy metrics, prediction matrices, the SalUn MIA efficacy, the
privacy attack against the retrained model (PS by the Comparator's ε rule, PS_challenge by the
NeurIPS 2023 challenge's), the literature's Avg. Gap, the aligned embeddings of the
evaluation subset and the reference models' similarity matrices, and writes them as this forget
class's fragments of the five tables.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import pyarrow as pa

from ..embedding import UmapParams, aligned_layout, reference_layout, umap_version
from ..metrics import accuracy as acc
from ..metrics import mia, privacy
from ..similarity import centered_blocks, load_grams, similarity_rows
from ..tables import concat, read_table, write_table
from ..tables.schema import ATTACK, PREDICTIONS, SIMILARITY, instances_schema, runs_schema
from .common import evaluation_plan, load_data, log

# Avg. Gap as in SalUn (arXiv:2310.12508) and l1-sparse (arXiv:2304.04934): UA, RA, TA, MIA-Efficacy
ALIGNMENT = ("anchored to the original's layout: each image held at its reference position by a spring that "
             "weakens as its neighbourhood moves; UMAP's objective on the model's own graph")
GAP_METRICS = ("UA", "RA", "TA", "MIA_efficacy")


class ModelData:
    """One model's evaluation outputs, as numpy arrays."""

    def __init__(self, entry: dict[str, Any]):
        self.run_id = entry["run_id"]
        self.info = json.load(open(entry["info"]))
        self.ok = self.info["status"] == "ok"
        if not self.ok:
            return
        table = read_table(entry["logits"])
        split = table.column("split").to_pylist()
        is_train = np.array([s == "train" for s in split])
        logits = table.column("logits").combine_chunks().flatten().to_numpy().reshape(len(table), -1)
        if not np.isfinite(logits).all():  # finite weights can still overflow: the run failed, not the analysis
            self.ok = False
            self.info = {**self.info, "status": "failed", "error": "the model's outputs (logits) are not finite"}
            return
        self.train_logits, self.test_logits = logits[is_train], logits[~is_train]
        feats = read_table(entry["features"])
        self.features = feats.column("features").combine_chunks().flatten().to_numpy().reshape(len(feats), -1)
        self.similarity = read_table(entry["similarity"])


def _curves(run_id: str, scope: str, model_vals: dict[str, np.ndarray], retrain_vals: dict[str, np.ndarray],
            attack_cfg: dict[str, Any]) -> tuple[dict[str, list], float, float]:
    """attack.arrow rows of one model and scope, and the privacy scores they give (PS, PS_challenge)."""
    rows: dict[str, list] = {k: [] for k in ATTACK.names}
    scores, challenge_scores = [], []
    for metric in ("entropy", "confidence"):
        low, high = attack_cfg[f"{metric}_range"]
        sweep = privacy.threshold_sweep(model_vals[metric], retrain_vals[metric], low, high, attack_cfg["thresholds"])
        for direction, curve in sweep.items():
            n = len(curve["threshold"])
            rows["run_id"] += [run_id] * n
            rows["scope"] += [scope] * n
            rows["metric"] += [metric] * n
            rows["direction"] += [direction] * n
            for key in ("threshold", "fpr", "fnr", "attack_score", "attack_score_challenge"):
                rows[key] += np.asarray(curve[key], dtype=np.float64).tolist()
            scores.append(curve["attack_score"])
            challenge_scores.append(curve["attack_score_challenge"])
    return rows, privacy.privacy_score(scores), privacy.challenge_privacy_score(challenge_scores)


def _avg_gap(metrics: dict[str, Any], retrained: dict[str, Any]) -> float:
    """Mean |metric − retrained metric| over GAP_METRICS (NaN propagates)."""
    return float(np.mean([abs(metrics[k] - retrained[k]) for k in GAP_METRICS]))


def run(spec: dict[str, Any], models: list[dict[str, Any]], reference_grams: dict[str, str], out: dict[str, str]) -> None:
    started = time.perf_counter()
    fc = spec["forget_class"]
    data = load_data(spec)  # labels and indices only; no model runs here
    info = data.info
    C = info.num_classes
    plan = evaluation_plan(spec, data)
    train_labels, test_labels = data.train.labels.numpy(), data.test.labels.numpy()
    subset_pos = plan.subset_positions.numpy()
    subset_is_forget = train_labels[subset_pos] == fc
    forget_pos = np.flatnonzero(train_labels == fc)
    members, nonmembers, target = mia.salun_mia_sets(train_labels, test_labels, fc)

    loaded = [ModelData(m) for m in models]
    by_type = {m.info["type"]: m for m in loaded if m.info["type"] in ("original", "retrained")}
    original, retrained = by_type["original"], by_type["retrained"]
    if not (original.ok and retrained.ok):
        raise RuntimeError(f"forget class {fc}: the original and the retrained model must both be evaluated")

    def attack_values(logits: np.ndarray) -> dict[str, np.ndarray]:
        return {"entropy": privacy.entropy(logits, temperature=privacy.ENTROPY_TEMPERATURE), "confidence": privacy.confidence(logits)}

    retrain_forget = attack_values(retrained.train_logits[forget_pos])
    retrain_subset = attack_values(retrained.train_logits[subset_pos[subset_is_forget]])

    # --- embeddings: the original's layout is the frame every other model is anchored to
    umap_cfg = spec["analysis"]["umap"]
    params = UmapParams(umap_cfg["n_neighbors"], umap_cfg["min_dist"], umap_cfg["n_epochs"], umap_cfg["aligned_epochs"],
                        spec["seed"], umap_cfg["anchor_stiffness"])
    t0 = time.perf_counter()
    reference = reference_layout(original.features, params)
    layouts = {original.run_id: reference}
    for m in loaded:
        if m.ok and m.run_id not in layouts:
            layouts[m.run_id] = aligned_layout(m.features, original.features, reference, params)
    umap_seconds = time.perf_counter() - t0

    run_rows: dict[str, list] = {k: [] for k in runs_schema(C).names}
    inst_parts, pred_parts, attack_parts, sim_parts = [], [], [], []
    for m in loaded:
        metrics: dict[str, Any] = {k: None for k in ("UA", "RA", "TUA", "TRA", "TA", "PS", "PS_challenge", "MIA_efficacy",
                                                     "avg_gap", "train_acc", "test_acc")}
        if m.ok:
            train_acc = acc.per_class_accuracy(m.train_logits.argmax(1), train_labels, C)
            test_acc = acc.per_class_accuracy(m.test_logits.argmax(1), test_labels, C)
            metrics.update(acc.forget_metrics(train_acc, test_acc, fc))
            metrics["TA"] = acc.accuracy_outside_class(m.test_logits.argmax(1), test_labels, fc)
            metrics["train_acc"], metrics["test_acc"] = train_acc.tolist(), test_acc.tolist()
            metrics["MIA_efficacy"] = mia.mia_efficacy(
                mia.true_class_confidence(m.train_logits[members], train_labels[members]),
                mia.true_class_confidence(m.test_logits[nonmembers], test_labels[nonmembers]),
                mia.true_class_confidence(m.train_logits[target], train_labels[target]),
                decimals=spec["evaluation"]["mia_decimals"],
            )
            for split_name, logits, labels in (("train", m.train_logits, train_labels), ("test", m.test_logits, test_labels)):
                proportion, confidence = acc.prediction_matrices(logits, labels, C)
                true, pred = np.meshgrid(np.arange(C), np.arange(C), indexing="ij")
                pred_parts.append(pa.table({
                    "run_id": [m.run_id] * (C * C), "split": [split_name] * (C * C),
                    "true": true.ravel().astype(np.int16), "pred": pred.ravel().astype(np.int16),
                    "proportion": proportion.ravel(), "mean_confidence": confidence.ravel(),
                }))
            rows, metrics["PS"], metrics["PS_challenge"] = _curves(
                m.run_id, "forget_set", attack_values(m.train_logits[forget_pos]), retrain_forget, spec["analysis"]["attack"])
            attack_parts.append(pa.table(rows))
            rows, _, _ = _curves(m.run_id, "subset", attack_values(m.train_logits[subset_pos[subset_is_forget]]), retrain_subset, spec["analysis"]["attack"])
            attack_parts.append(pa.table(rows))
            # instances of the evaluation subset
            sub_logits = m.train_logits[subset_pos].astype(np.float64)
            probs = np.exp(sub_logits - sub_logits.max(1, keepdims=True))
            probs /= probs.sum(1, keepdims=True)
            xy = layouts[m.run_id]
            inst_parts.append(pa.table({
                "run_id": [m.run_id] * len(subset_pos),
                "index": data.train.indices.numpy()[subset_pos].astype(np.int32),
                "label": train_labels[subset_pos].astype(np.int16),
                "pred": sub_logits.argmax(1).astype(np.int16),
                "is_forget": subset_is_forget,
                "probs": pa.FixedSizeListArray.from_arrays(pa.array(probs.astype(np.float32).ravel()), C),
                "entropy": privacy.entropy(sub_logits, temperature=privacy.ENTROPY_TEMPERATURE).astype(np.float32),
                "confidence": privacy.confidence(sub_logits),
                "x": xy[:, 0].astype(np.float32), "y": xy[:, 1].astype(np.float32),
            }))
            if len(m.similarity):
                sim_parts.append(m.similarity)
        m.metrics = metrics

    retrained_metrics = retrained.metrics
    for m in loaded:
        if m.ok:
            m.metrics["avg_gap"] = _avg_gap(m.metrics, retrained_metrics)
        i = m.info
        row = {
            "run_id": m.run_id, "forget_class": fc, "type": i["type"], "method": i.get("method"),
            "method_name": i.get("method_name"), "base": i.get("base"), "seed": i.get("seed"),
            "epochs": i.get("epochs"), "lr": i.get("lr"), "batch_size": i.get("batch_size"),
            "hyperparameters": json.dumps(i.get("hyperparameters") or {}, sort_keys=True),
            "RTE": i.get("rte"), "device": i.get("device"), "status": i["status"], "error": i.get("error"),
            **m.metrics,
        }
        for key in run_rows:
            run_rows[key].append(row[key])

    # similarity of the two reference models to each other and to themselves
    blocks, layers = {}, {}
    for name, path in reference_grams.items():
        grams, layers[name] = load_grams(path)
        blocks[name] = centered_blocks(grams, plan.cka_pools, fc)
    for model_name, model_run in (("original", original), ("retrained", retrained)):
        for ref_name in ("original", "retrained"):
            sim_parts.append(pa.table(similarity_rows(model_run.run_id, ref_name, blocks[ref_name], layers[ref_name],
                                                      blocks[model_name], layers[model_name])))

    meta = {b"umap": json.dumps({**params.__dict__, "umap_version": umap_version(), "alignment": ALIGNMENT}).encode()}
    write_table(pa.table(run_rows), out["runs"], runs_schema(C))
    write_table(concat(inst_parts, instances_schema(C)).replace_schema_metadata(meta), out["instances"])
    write_table(concat(pred_parts, PREDICTIONS), out["predictions"])
    write_table(concat(sim_parts, SIMILARITY), out["similarity"])
    write_table(concat(attack_parts, ATTACK), out["attack"])
    log(f"forget class {fc}: {len(loaded)} models analysed in {time.perf_counter() - started:.1f} s (UMAP {umap_seconds:.1f} s)")

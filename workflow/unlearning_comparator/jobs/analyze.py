"""Job: everything about one forget set that needs several models at once, over every replicate.

From the per-model evaluation outputs of the forget set (per replicate seed: its original, its retrained
model and its unlearned runs; and the external runs) it derives the accuracy metrics, prediction matrices,
the SalUn MIA efficacy, the privacy attack against the retrained model (PS by the Comparator's ε rule,
PS_challenge by the NeurIPS 2023 challenge's), the literature's Avg. Gap, the validation accuracies and
each method's chosen setting (``unlearning_comparator.selection``), the aligned embeddings of the
evaluation subset, the reference models' similarity matrices, the forget set's description and members
and the summary over replicates, and writes them as this forget set's fragments of every table in
``TABLES``. Every model is measured against the original and retrained model *of its own replicate*.

The test split is cut in two: the validation split (``selection.validation_fraction`` of each class,
outside the CKA test pool), on which only val_UA, val_RA and val_gap are computed, and the rest
(``EvaluationSets.reported``), which every other metric that uses test images uses: TUA, TRA, TA, the
per-class test accuracies, the MIA's non-members and the test prediction matrices.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from ..embedding import UmapParams, aligned_layout, layout_neighbours, reference_layout, umap_version
from ..forget_sets import ForgetSet
from ..metrics import accuracy as acc
from ..metrics import mia, privacy
from ..selection import choose, validation_accuracies, validation_gap
from ..similarity import centered_blocks, load_grams, similarity_rows
from ..summary import summary_table
from ..tables import concat, conform, read_table, write_table
from ..tables.schema import (
    ATTACK,
    FORGET_SETS,
    PREDICTIONS,
    SIMILARITY,
    SUMMARY_METRICS,
    instances_schema,
    runs_schema,
)
from .common import (
    evaluation_plan,
    load_data,
    log,
    model_files,
    selection_settings,
    spec_forget_set,
    validation_positions,
)

ALIGNMENT = (
    "anchored to the original's layout: each image held at its reference position by a spring that "
    "weakens as its neighbourhood moves; UMAP's objective on the model's own graph"
)
FRAME = (
    "one frame per forget set: the first replicate's original's layout; every other replicate's original "
    "is anchored to it, and every other model to its own replicate's original"
)
# Avg. Gap as in SalUn (arXiv:2310.12508) and l1-sparse (arXiv:2304.04934): UA, RA, TA, MIA-Efficacy
GAP_METRICS = ("UA", "RA", "TA", "MIA_efficacy")


@dataclass(frozen=True)
class EvaluationSets:
    """What the analysis of one forget set evaluates on: labels and positions in the training and test
    splits, all functions of the data and the config (no model), the same for every replicate."""

    forget_set: ForgetSet
    num_classes: int
    class_names: list[str]
    train_labels: np.ndarray
    test_labels: np.ndarray
    train_indices: np.ndarray  # each training image's index in the data set
    subset: np.ndarray  # the evaluation subset (the site's instances)
    subset_is_forget: np.ndarray
    forget_mask: np.ndarray  # bool over the training split: the forget set
    forget: np.ndarray  # its positions (ascending)
    mia: mia.MIASets  # SalUn's MIA sets (non-members: test positions outside the validation split)
    cka_pools: Any  # the images the reference models' Gram matrices were computed on
    cka_masks: dict[str, Any]  # the forget set (test: its test counterpart) per split, for the CKA blocks
    validation: np.ndarray  # test positions of the validation split (ascending)
    validation_is_forget: np.ndarray  # whether each validation image is in the set's test counterpart
    reported: np.ndarray  # test positions outside the validation split (ascending): the reported metrics'
    selection: dict[str, Any]  # the settings and sizes of the validation split (runs metadata)


class ModelData:
    """One model's evaluation outputs, as numpy arrays, with its setting and replicate."""

    def __init__(self, entry: dict[str, Any], default_seed: int):
        self.run_id = entry["run_id"]
        self.setting_id = entry.get("setting_id") or self.run_id
        self.replicate = int(entry.get("seed", default_seed))  # external models: the first replicate's
        self.info = json.load(open(entry["info"]))
        self.ok = self.info["status"] == "ok"
        if not self.ok:
            return
        table = read_table(entry["logits"])
        split = table.column("split").to_pylist()
        is_train = np.array([s == "train" for s in split])
        logits = table.column("logits").combine_chunks().flatten().to_numpy().reshape(len(table), -1)
        # finite weights can still overflow: the run failed, not the analysis
        if not np.isfinite(logits).all():
            self.ok = False
            self.info = {
                **self.info,
                "status": "failed",
                "error": "the model's outputs (logits) are not finite",
            }
            return
        self.train_logits, self.test_logits = logits[is_train], logits[~is_train]
        feats = read_table(entry["features"])
        features = feats.column("features").combine_chunks().flatten().to_numpy()
        self.features = features.reshape(len(feats), -1)
        self.similarity = read_table(entry["similarity"])


@dataclass(frozen=True)
class Replicate:
    """One replicate's reference models: every model of the replicate is measured against these."""

    seed: int
    original: ModelData
    retrained: ModelData


def _curves(
    run_id: str,
    scope: str,
    model_vals: dict[str, np.ndarray],
    retrain_vals: dict[str, np.ndarray],
    attack_cfg: dict[str, Any],
) -> tuple[dict[str, list], float, float]:
    """attack.arrow rows of one model and scope, and the privacy scores they give (PS, PS_challenge)."""
    rows: dict[str, list] = {k: [] for k in ATTACK.names}
    scores, challenge_scores = [], []
    for metric in ("entropy", "confidence"):
        low, high = attack_cfg[f"{metric}_range"]
        sweep = privacy.threshold_sweep(
            model_vals[metric], retrain_vals[metric], low, high, attack_cfg["thresholds"]
        )
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


def run(
    spec: dict[str, Any], models: list[dict[str, Any]], reference_grams: dict[str, Any], out: dict[str, str]
) -> None:
    """Analyse the forget set ``spec["forget_set"]`` (or, in older specs, the class ``spec["forget_class"]``)
    over the replicates ``spec["seeds"]`` from its ``models``' evaluation outputs and each replicate's
    reference models' Gram matrices (``{"<seed>": {"original": path, "retrained": path}}``; a single
    ``{"original": ..., "retrained": ...}`` is the only replicate's); write its fragment of each table to
    ``out[table]``."""
    started = time.perf_counter()
    seeds = _seeds(spec)
    sets = _evaluation_sets(spec)
    fs_id = sets.forget_set.id
    loaded = [ModelData(model_files(m, spec.get("results")), seeds[0]) for m in models]
    replicates = _replicates(loaded, seeds, fs_id)
    layouts, umap_meta, umap_seconds = _embeddings(loaded, replicates, spec)
    attack, privacy_scores = _attack_table(loaded, replicates, sets, spec["analysis"]["attack"])
    metrics = _run_metrics(loaded, replicates, sets, privacy_scores, spec["evaluation"]["mia_decimals"])
    runs = _runs_table(loaded, metrics, sets)
    tables = {
        "runs": runs.replace_schema_metadata({b"selection": json.dumps(sets.selection).encode()}),
        "instances": _instances_table(loaded, layouts, sets).replace_schema_metadata(umap_meta),
        "predictions": _predictions_table(loaded, sets),
        "similarity": _similarity_table(loaded, replicates, _grams_by_seed(reference_grams, seeds), sets),
        "attack": attack,
        "forget_sets": _forget_sets_table(sets),
        "summary": summary_table(runs, sets.num_classes),
    }
    for name, table in tables.items():
        write_table(table, out[name])
    log(
        f"forget set {fs_id}: {len(loaded)} models of {len(replicates)} replicate(s) analysed in "
        f"{time.perf_counter() - started:.1f} s (UMAP {umap_seconds:.1f} s)"
    )


# --- inputs: the evaluation sets, the models, the embeddings --------------------------------------------
def _seeds(spec: dict[str, Any]) -> list[int]:
    """The replicate seeds, in order (one replicate, the experiment's seed, when the spec names none)."""
    return [int(s) for s in (spec.get("seeds") or [spec["seed"]])]


def _evaluation_sets(spec: dict[str, Any]) -> EvaluationSets:
    """The labels, the evaluation subset, the members and the MIA sets of the spec's forget set."""
    forget_set = spec_forget_set(spec)
    if forget_set is None:
        raise ValueError("the analysis needs the spec's forget_set (or, in older specs, forget_class)")
    data = load_data(spec)  # labels and indices only; no model runs here
    plan = evaluation_plan(spec, data)
    train_labels, test_labels = data.train.labels.numpy(), data.test.labels.numpy()
    forget_mask = forget_set.train_mask(train_labels)
    counterpart = forget_set.test_mask(test_labels)  # none for a random set
    subset = plan.subset_positions.numpy()
    validation = validation_positions(spec, data, plan).numpy()
    reported = np.setdiff1d(np.arange(len(test_labels)), validation)
    salun = mia.mia_sets_of_masks(forget_mask, counterpart[reported])  # non-members: positions in reported
    counts = np.bincount(test_labels[validation], minlength=data.info.num_classes)
    log(
        f"validation split: {len(validation)} of {len(test_labels)} test images "
        f"({counts.min()}-{counts.max()} per class); the reported metrics use the other {len(reported)}"
    )
    return EvaluationSets(
        forget_set=forget_set,
        num_classes=data.info.num_classes,
        class_names=list(data.info.class_names),
        train_labels=train_labels,
        test_labels=test_labels,
        train_indices=data.train.indices.numpy(),
        subset=subset,
        subset_is_forget=forget_mask[subset],
        forget_mask=forget_mask,
        forget=np.flatnonzero(forget_mask),
        mia=mia.MIASets(salun.members, reported[salun.nonmembers], salun.target),
        cka_pools=plan.cka_pools,
        cka_masks={"train": torch.from_numpy(forget_mask), "test": torch.from_numpy(counterpart)},
        validation=validation,
        validation_is_forget=counterpart[validation],
        reported=reported,
        selection={
            **selection_settings(spec),
            "validation_images": int(len(validation)),
            "validation_per_class": counts.tolist(),
            "reported_test_images": int(len(reported)),
            "seed": spec["seed"],
        },
    )


def _replicates(loaded: list[ModelData], seeds: list[int], fs_id: str) -> dict[int, Replicate]:
    """Each replicate's original and retrained model, in the order of ``seeds``; both must have been
    evaluated, and every model must belong to one of the replicates."""
    strays = sorted({m.replicate for m in loaded} - set(seeds))
    if strays:
        raise RuntimeError(f"forget set {fs_id}: models of seeds {strays}, which are not among {seeds}")
    replicates = {}
    for seed in seeds:
        by_type = {
            m.info["type"]: m
            for m in loaded
            if m.replicate == seed and m.info["type"] in ("original", "retrained")
        }
        original, retrained = by_type.get("original"), by_type.get("retrained")
        if not (original and retrained and original.ok and retrained.ok):
            raise RuntimeError(
                f"forget set {fs_id}, seed {seed}: the original and the retrained model must both be "
                "evaluated"
            )
        replicates[seed] = Replicate(seed, original, retrained)
    return replicates


def _grams_by_seed(reference_grams: dict[str, Any], seeds: list[int]) -> dict[int, dict[str, str]]:
    """``{seed: {"original": path, "retrained": path}}``; a flat ``{"original", "retrained"}`` mapping (older
    specs) is the first replicate's."""
    if "original" in reference_grams:
        return {seeds[0]: reference_grams}
    return {int(seed): paths for seed, paths in reference_grams.items()}


def _embeddings(
    loaded: list[ModelData], replicates: dict[int, Replicate], spec: dict[str, Any]
) -> tuple[dict[str, np.ndarray], dict[bytes, bytes], float]:
    """Each evaluated model's 2-D layout of the evaluation subset, the instances table's ``umap`` metadata
    and the seconds UMAP took. The first replicate's original's layout is the frame: every other
    replicate's original is anchored to it (so all seeds share axes), and every other model to its own
    replicate's original (so a model's moves are relative to the model it was unlearned from)."""
    umap_cfg = spec["analysis"]["umap"]
    params = UmapParams(
        umap_cfg["n_neighbors"],
        umap_cfg["min_dist"],
        umap_cfg["n_epochs"],
        umap_cfg["aligned_epochs"],
        spec["seed"],
        umap_cfg["anchor_stiffness"],
    )
    t0 = time.perf_counter()
    first = next(iter(replicates.values())).original
    reference = reference_layout(first.features, params)
    layouts = {first.run_id: reference}
    neighbours = {first.run_id: layout_neighbours(first.features, params)}
    for rep in replicates.values():
        original = rep.original
        if original.run_id not in layouts:
            layouts[original.run_id] = aligned_layout(
                original.features, neighbours[first.run_id], reference, params
            )
            neighbours[original.run_id] = layout_neighbours(original.features, params)
    for m in loaded:
        if m.ok and m.run_id not in layouts:
            original = replicates[m.replicate].original
            layouts[m.run_id] = aligned_layout(
                m.features, neighbours[original.run_id], layouts[original.run_id], params
            )
    seconds = time.perf_counter() - t0
    meta = {**params.__dict__, "umap_version": umap_version(), "alignment": ALIGNMENT, "frame": FRAME}
    return layouts, {b"umap": json.dumps(meta).encode()}, seconds


# --- the tables, one builder each -----------------------------------------------------------------------
def _attack_values(logits: np.ndarray) -> dict[str, np.ndarray]:
    """The attack's two per-image signals: entropy at the attack temperature and confidence (log-odds)."""
    return {
        "entropy": privacy.entropy(logits, temperature=privacy.ENTROPY_TEMPERATURE),
        "confidence": privacy.confidence(logits),
    }


def _attack_table(
    loaded: list[ModelData],
    replicates: dict[int, Replicate],
    sets: EvaluationSets,
    attack_cfg: dict[str, Any],
) -> tuple[pa.Table, dict[str, tuple[float, float]]]:
    """Each evaluated model's attack curves against its replicate's retrained model, on every training
    image of the forget set (scope ``forget_set``) and on the evaluation subset's ones (``subset``, as the
    site shows), and the privacy scores (PS, PS_challenge) the ``forget_set`` curves give, by run id."""
    subset_forget = sets.subset[sets.subset_is_forget]
    retrain_values = {
        seed: (
            _attack_values(rep.retrained.train_logits[sets.forget]),
            _attack_values(rep.retrained.train_logits[subset_forget]) if len(subset_forget) else None,
        )
        for seed, rep in replicates.items()
    }
    parts, scores = [], {}
    for m in loaded:
        if not m.ok:
            continue
        retrain_forget, retrain_subset = retrain_values[m.replicate]
        rows, ps, ps_challenge = _curves(
            m.run_id, "forget_set", _attack_values(m.train_logits[sets.forget]), retrain_forget, attack_cfg
        )
        parts.append(pa.table(rows))
        scores[m.run_id] = (ps, ps_challenge)
        if len(subset_forget):  # a small random set may have no image in the evaluation subset
            rows, _, _ = _curves(
                m.run_id, "subset", _attack_values(m.train_logits[subset_forget]), retrain_subset, attack_cfg
            )
            parts.append(pa.table(rows))
    return concat(parts, ATTACK), scores


def _forget_accuracies(
    sets: EvaluationSets, train_preds: np.ndarray, train_acc: np.ndarray, test_acc: np.ndarray
) -> dict[str, float | None]:
    """UA, RA, TUA, TRA by the forget set's kind (docs/tables.md): the Comparator's class means for whole
    classes; for a random set, SalUn's shares of the forget and retain images (arXiv:2310.12508)."""
    fs = sets.forget_set
    if fs.is_class_wise:
        return acc.class_set_metrics(train_acc, test_acc, fs.classes)
    return acc.random_set_metrics(train_preds, sets.train_labels, sets.forget_mask, test_acc)


def _model_metrics(m: ModelData, sets: EvaluationSets, mia_decimals: int) -> dict[str, Any]:
    """An evaluated model's accuracies (UA, RA, TUA, TRA, TA, per class), MIA efficacy and validation
    accuracies (val_UA, val_RA). Test images: those outside the validation split, except for val_*."""
    C = sets.num_classes
    train_preds, test_preds = m.train_logits.argmax(1), m.test_logits.argmax(1)
    reported_preds, reported_labels = test_preds[sets.reported], sets.test_labels[sets.reported]
    train_acc = acc.per_class_accuracy(train_preds, sets.train_labels, C)
    test_acc = acc.per_class_accuracy(reported_preds, reported_labels, C)
    metrics = _forget_accuracies(sets, train_preds, train_acc, test_acc)
    # the literature's TA: test images outside the set's classes (all of them for a random set)
    metrics["TA"] = acc.accuracy_outside_classes(reported_preds, reported_labels, sets.forget_set.classes)
    metrics |= validation_accuracies(
        test_preds[sets.validation], sets.test_labels[sets.validation], sets.validation_is_forget
    )
    metrics["train_acc"], metrics["test_acc"] = train_acc.tolist(), test_acc.tolist()
    members, nonmembers, target = sets.mia
    metrics["MIA_efficacy"] = mia.mia_efficacy(
        mia.true_class_confidence(m.train_logits[members], sets.train_labels[members]),
        mia.true_class_confidence(m.test_logits[nonmembers], sets.test_labels[nonmembers]),
        mia.true_class_confidence(m.train_logits[target], sets.train_labels[target]),
        decimals=mia_decimals,
    )
    return metrics


# A run's metrics: those the summary reduces, less the RTE (from the run's info file), and the per-class
# accuracies
METRIC_COLUMNS = (*(m for m in SUMMARY_METRICS if m != "RTE"), "train_acc", "test_acc")


def _run_metrics(
    loaded: list[ModelData],
    replicates: dict[int, Replicate],
    sets: EvaluationSets,
    privacy_scores: dict[str, tuple[float, float]],
    mia_decimals: int,
) -> dict[str, dict[str, Any]]:
    """The runs table's metrics of each model, by run id: accuracies, MIA efficacy, the privacy scores
    and the Avg. Gap to its replicate's retrained model; all null for a model that was not evaluated."""
    metrics = {}
    for m in loaded:
        metrics[m.run_id] = dict.fromkeys(METRIC_COLUMNS)
        if m.ok:
            metrics[m.run_id].update(_model_metrics(m, sets, mia_decimals))
            metrics[m.run_id]["PS"], metrics[m.run_id]["PS_challenge"] = privacy_scores[m.run_id]
    for m in loaded:  # the gaps, once the retrained models' metrics are known (their own are 0)
        if m.ok:
            target = metrics[replicates[m.replicate].retrained.run_id]
            metrics[m.run_id]["avg_gap"] = _avg_gap(metrics[m.run_id], target)
            metrics[m.run_id]["val_gap"] = validation_gap(metrics[m.run_id], target)
    return metrics


def _runs_table(
    loaded: list[ModelData], metrics: dict[str, dict[str, Any]], sets: EvaluationSets
) -> pa.Table:
    """One row per model: its run's description (from its info file), its metrics and whether it is its
    method's chosen setting in its replicate."""
    schema = runs_schema(sets.num_classes)
    described = []
    for m in loaded:
        i = m.info
        described.append(
            {
                "run_id": m.run_id,
                "forget_set": sets.forget_set.id,
                "setting_id": m.setting_id,
                "forget_class": sets.forget_set.forget_class,
                "type": i["type"],
                "method": i.get("method"),
                "method_name": i.get("method_name"),
                "base": i.get("base"),
                "seed": m.replicate,
                "epochs": i.get("epochs"),
                "lr": i.get("lr"),
                "batch_size": i.get("batch_size"),
                "hyperparameters": json.dumps(i.get("hyperparameters") or {}, sort_keys=True),
                "RTE": i.get("rte"),
                "device": i.get("device"),
                "status": i["status"],
                "error": i.get("error"),
                **metrics[m.run_id],
            }
        )
    chosen = choose(described)
    rows: dict[str, list] = {k: [] for k in schema.names}
    for row in described:
        row["chosen"] = chosen[row["run_id"]]
        for key, column in rows.items():
            column.append(row[key])
    return conform(pa.table(rows), schema)


def _instances_table(
    loaded: list[ModelData], layouts: dict[str, np.ndarray], sets: EvaluationSets
) -> pa.Table:
    """One row per evaluated model and image of the evaluation subset: prediction, probabilities (T = 1),
    the attack's entropy and confidence, and the aligned embedding's x, y."""
    C, subset = sets.num_classes, sets.subset
    parts = []
    for m in loaded:
        if not m.ok:
            continue
        sub_logits = m.train_logits[subset].astype(np.float64)
        probs = np.exp(sub_logits - sub_logits.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        entropy = privacy.entropy(sub_logits, temperature=privacy.ENTROPY_TEMPERATURE)
        xy = layouts[m.run_id]
        parts.append(
            pa.table(
                {
                    "run_id": [m.run_id] * len(subset),
                    "index": sets.train_indices[subset].astype(np.int32),
                    "label": sets.train_labels[subset].astype(np.int16),
                    "pred": sub_logits.argmax(1).astype(np.int16),
                    "is_forget": sets.subset_is_forget,
                    "probs": pa.FixedSizeListArray.from_arrays(pa.array(probs.astype(np.float32).ravel()), C),
                    "entropy": entropy.astype(np.float32),
                    "confidence": privacy.confidence(sub_logits),
                    "x": xy[:, 0].astype(np.float32),
                    "y": xy[:, 1].astype(np.float32),
                }
            )
        )
    return concat(parts, instances_schema(C))


def _predictions_table(loaded: list[ModelData], sets: EvaluationSets) -> pa.Table:
    """Each evaluated model's prediction matrices (proportion and mean confidence per true and predicted
    class), train then test (the test images outside the validation split)."""
    C = sets.num_classes
    true, pred = np.meshgrid(np.arange(C), np.arange(C), indexing="ij")
    parts = []
    for m in loaded:
        if not m.ok:
            continue
        for split, logits, labels in (
            ("train", m.train_logits, sets.train_labels),
            ("test", m.test_logits[sets.reported], sets.test_labels[sets.reported]),
        ):
            proportion, confidence = acc.prediction_matrices(logits, labels, C)
            parts.append(
                pa.table(
                    {
                        "run_id": [m.run_id] * (C * C),
                        "split": [split] * (C * C),
                        "true": true.ravel().astype(np.int16),
                        "pred": pred.ravel().astype(np.int16),
                        "proportion": proportion.ravel(),
                        "mean_confidence": confidence.ravel(),
                    }
                )
            )
    return concat(parts, PREDICTIONS)


def _similarity_table(
    loaded: list[ModelData],
    replicates: dict[int, Replicate],
    reference_grams: dict[int, dict[str, str]],
    sets: EvaluationSets,
) -> pa.Table:
    """Each evaluated model's CKA to its replicate's reference models (from its evaluation), then, per
    replicate, the two reference models' CKA to each other and to themselves, from their Gram matrices."""
    parts = [m.similarity for m in loaded if m.ok and len(m.similarity)]
    for seed, rep in replicates.items():
        blocks, layers = {}, {}
        for name, path in reference_grams[seed].items():
            grams, layers[name] = load_grams(path)
            blocks[name] = centered_blocks(grams, sets.cka_pools, sets.cka_masks)
        for model_name, model_run in (("original", rep.original), ("retrained", rep.retrained)):
            for ref_name in ("original", "retrained"):
                rows = similarity_rows(
                    model_run.run_id,
                    ref_name,
                    blocks[ref_name],
                    layers[ref_name],
                    blocks[model_name],
                    layers[model_name],
                )
                parts.append(pa.table(rows))
    return concat(parts, SIMILARITY)


def _forget_sets_table(sets: EvaluationSets) -> pa.Table:
    """forget_sets.arrow's row of this forget set: kind, name, parameters and members (data-set indices)."""
    fs, mask = sets.forget_set, sets.forget_mask
    row = {
        "forget_set": fs.id,
        "kind": fs.kind,
        "name": fs.display_name(sets.class_names),
        "classes": list(fs.classes),
        # random: the drawn fraction (as configured); class-wise: the share the classes actually hold
        "fraction": fs.fraction if fs.kind == "random" else float(mask.mean()),
        "draw_seed": fs.seed,
        "size": int(mask.sum()),
        "members": np.sort(sets.train_indices[mask]).astype(np.int32).tolist(),
    }
    return pa.Table.from_pylist([row], schema=FORGET_SETS)

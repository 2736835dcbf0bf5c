"""A synthetic experiment: schema-valid tables with plausible numbers, for the site's fast tests and
benchmark.

``write_experiment(out_dir, forget_classes=3, models_per_class=22)`` writes ``runs``, ``instances``,
``predictions``, ``similarity``, ``attack``, ``forget_sets``, ``summary`` and ``subset`` tables plus
``thumbnails.png`` (random 28×28 grey images in a row-major sprite sheet) into ``out_dir``, the layout of
``results/<exp>/tables/``.

Forget sets follow the config: one class set per entry of ``forget_classes`` (an int n means classes
0 … n-1), then the entries of ``forget_sets`` (config style: ``{"classes": [2, 8]}``,
``{"random": 0.1, "seed": 1}``, optional ``"name"``). ``seeds`` lists the replicates (default: ``[seed]``);
with several, every run id ends in ``-seed<s>`` and ``setting_id`` drops it, as the workflow names them.
The images of the "training split" are indices 0 … 6000·C-1, 6000 per class in class order, so a random
set's members are drawn there (``ForgetSet.train_mask``) and the subset's ``is_forget`` is membership.
``legacy=True`` writes the tables as they were before forget sets (no ``forget_set`` / ``setting_id``
columns, no ``forget_sets`` / ``summary`` tables, no new metadata keys): one-class sets, one seed only.
``audit=True`` (at least three seeds, as the workflow's audit needs) also writes the privacy audit's
``audit`` and ``audit_instances`` tables (see :func:`_audit_tables`).

Per forget set and replicate it makes the original, the retrained model and ``models_per_class - 2``
unlearned runs cycling through the built-in methods with a small grid of hyperparameters (drawn once per
set: the replicates of a setting share them). Optional extras that the tests rely on: one failed run per
forget set (in the last replicate only: null metrics, an error text with markup in it) and one run whose
method display name is markup (``EVIL_NAME``), so escaping can be checked. The validation columns
(val_UA, val_RA, val_gap) are drawn near TUA and TRA from a generator of their own, and ``chosen`` marks,
per forget set, replicate and method, the ok run with the smallest val_gap (ties: RTE, then run_id), as
runs.arrow documents it. ``summary`` reduces the runs per (forget set, setting) as summary.arrow documents
it. The metadata lists ``forget_sets``, ``seeds`` and ``refused`` (by default Boundary Shrink on every set
that is not one whole class).

Numbers are made up but behave like the real thing: each model has a forgetting strength ``s`` in
[0, 1] (original 0, retrained 1); the forget classes' accuracy, the embedding of the forget instances,
the CKA of late layers on forget data and the per-instance entropy/confidence all move with ``s``.
Attack curves are computed from the per-instance values with the Comparator's ε rule (and the NeurIPS
2023 challenge's, for ``attack_score_challenge``), so the curves match the dots.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from PIL import Image

from unlearning_comparator.forget_sets import ForgetSet, forget_sets_of
from unlearning_comparator.metrics.privacy import challenge_attack_score
from unlearning_comparator.metrics.shadow_attacks import auc, roc, tpr_at_fpr
from unlearning_comparator.tables import schemas, write_table
from unlearning_comparator.tables.schema import AUDIT_ROC_FPR, SUMMARY_METRICS

EVIL_NAME = '<script>alert(1)</script><img src=x onerror="window.__xss=1">'
EVIL_RUN = "evil<b>"  # part of the run id of the run with EVIL_NAME
EVIL_TITLE = 'Synthetic <b>experiment</b> & "friends"'
CLASS_NAMES = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"]
LAYERS = ["stem", "layer1", "layer2", "layer3", "layer4", "fc"]
METHODS = [
    ("ft", "Fine-Tuning"),
    ("ga", "Gradient Ascent"),
    ("rl", "Random Labeling"),
    ("scrub", "SCRUB"),
    ("salun", "SalUn"),
]
ENTROPY_RANGE = (0.0, 2.5)
CONFIDENCE_RANGE = (-2.5, 10.0)
THRESHOLDS = 51
PER_CLASS_TRAIN = 6000  # training images per class of the synthetic data set
RUN_METRICS = SUMMARY_METRICS  # the runs metrics the summary reduces over replicates
REFUSED_REASON = "defined for exactly one whole class"


def attack_curve(positives: np.ndarray, negatives: np.ndarray, lo: float, hi: float, n: int = THRESHOLDS):
    """(thresholds, fpr, fnr, attack_score) of 'values >= t are positives', by the Comparator's ε rule."""
    delta = 1e-5
    thr = np.linspace(lo, hi, n)
    p = np.clip(positives, lo, hi)[None, :]
    q = np.clip(negatives, lo, hi)[None, :]
    tpr = (p >= thr[:, None]).mean(axis=1)
    fpr = (q >= thr[:, None]).mean(axis=1)
    fnr = 1.0 - tpr
    f = np.clip(fpr, 1e-10, 1 - delta - 1e-10)
    g = np.clip(fnr, 1e-10, 1 - delta - 1e-10)
    eps = np.maximum(0.0, np.minimum(np.log(1 - delta - f) - np.log(g), np.log(1 - delta - g) - np.log(f)))
    fq = 2.0 ** (-eps)
    fq = np.where((fpr == 0) & (fnr == 0), 0.0, fq)
    fq = np.where((fpr >= 1 - delta) | (fnr >= 1 - delta), 1.0, fq)
    return thr, fpr, fnr, 1.0 - fq


def _softmax(z: np.ndarray, t: float = 1.0) -> np.ndarray:
    z = z / t
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _sprite_png(n: int, size: int, columns: int, rng: np.random.Generator) -> bytes:
    rows = -(-n // columns)
    sheet = np.zeros((rows * size, columns * size), dtype=np.uint8)
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(n):
        r, c = divmod(i, columns)
        # a blob at a random place on noise: recognisably different thumbnails, cheap to make
        cy, cx = rng.uniform(6, size - 6, 2)
        blob = 200 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / rng.uniform(10, 40))
        img = np.clip(blob + rng.integers(0, 12, (size, size)), 0, 255).astype(np.uint8)
        sheet[r * size : (r + 1) * size, c * size : (c + 1) * size] = img
    buf = io.BytesIO()
    Image.fromarray(sheet, mode="L").save(buf, format="PNG")
    return buf.getvalue()


def _gap(r: dict, retrained: dict, keys: tuple[str, ...]) -> float:
    """Mean |Δ| to the retrained model over the keys both have (random sets have no val_UA)."""
    pairs = [(r[k], retrained[k]) for k in keys if r.get(k) is not None and retrained.get(k) is not None]
    return float(np.mean([abs(a - b) for a, b in pairs]))


def _validation_columns(runs: list[dict], rng: np.random.Generator) -> None:
    """val_UA, val_RA, val_gap and chosen of one forget set's runs of one replicate (in place)."""
    for r in runs:
        if r["status"] == "ok":
            r["val_UA"] = None if r["TUA"] is None else float(np.clip(r["TUA"] + rng.normal(0, 0.02), 0, 1))
            r["val_RA"] = float(np.clip(r["TRA"] + rng.normal(0, 0.01), 0, 1))
    retrained = next(r for r in runs if r["type"] == "retrained")
    if retrained["val_UA"] is not None:
        retrained["val_UA"] = 0.0
    best: dict[str, tuple] = {}
    for r in runs:
        r["chosen"] = False
        if r["status"] != "ok":
            continue
        r["val_gap"] = _gap(r, retrained, ("val_UA", "val_RA"))
        if r["type"] == "unlearned":
            key = (r["val_gap"], r["RTE"], r["run_id"])
            if r["method"] not in best or key < best[r["method"]][0]:
                best[r["method"]] = (key, r)
    for _, r in best.values():
        r["chosen"] = True


def _specs(models_per_class: int, failed: bool, evil: bool, rng: np.random.Generator) -> list[tuple]:
    """One forget set's settings: (kind, method id, method name, forgetting strength)."""
    specs = [("original", None, None, 0.0), ("retrained", None, None, 1.0)]
    for k in range(models_per_class - 2):
        mid, mname = METHODS[k % len(METHODS)]
        specs.append(("unlearned", mid, mname, float(rng.uniform(0.2, 1.0))))
    if failed and len(specs) > 3:
        specs[3] = ("failed", specs[3][1], specs[3][2], 0.5)
    if evil and len(specs) > 4:
        specs[4] = ("unlearned", "evil", EVIL_NAME, 0.7)
    return specs


def _accuracies(kind, s, fs: ForgetSet, C: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Per-class (train, test) accuracies: the set's classes fall with s, the others wobble."""
    tr = np.clip(0.97 + rng.normal(0, 0.015, C), 0, 1)
    te = np.clip(0.90 + rng.normal(0, 0.03, C), 0, 1)
    if kind != "original":
        tr = np.clip(tr - (0.05 * s if kind == "unlearned" else 0) * rng.uniform(0, 1, C), 0, 1)
    for c in fs.classes:
        tr[c] = np.clip((1 - s) * 0.99 + (rng.uniform(0, 0.08) if kind == "unlearned" else 0), 0, 1)
        te[c] = np.clip((1 - s) * 0.9 + (rng.uniform(0, 0.08) if kind == "unlearned" else 0), 0, 1)
        if kind == "retrained":
            tr[c] = te[c] = 0.0
    return tr, te


def _set_metrics(fs: ForgetSet, tr, te, s: float, rng) -> dict[str, float | None]:
    """UA, RA, TUA, TRA, TA by the set's kind (runs.arrow's definitions)."""
    if not fs.is_class_wise:
        # a random set's images are forgotten down to about unseen-image accuracy, never to zero
        ua = float(np.clip(0.99 - 0.08 * s + rng.normal(0, 0.005), 0, 1))
        return {
            "UA": ua,
            "RA": float(tr.mean()),
            "TUA": None,
            "TRA": float(te.mean()),
            "TA": float(te.mean()),
        }
    inside = np.isin(np.arange(len(tr)), fs.classes)
    return {
        "UA": float(tr[inside].mean()),
        "RA": float(tr[~inside].mean()),
        "TUA": float(te[inside].mean()),
        "TRA": float(te[~inside].mean()),
        "TA": float(te[~inside].mean()),  # as if every test class had the same size
    }


def _failed_row(row: dict) -> dict:
    return {
        **row,
        **{m: None for m in RUN_METRICS},
        "chosen": False,
        "train_acc": None,
        "test_acc": None,
        "status": "failed",
        "error": 'RuntimeError: loss is <nan> at epoch 2 & the "weights" are not finite',
    }


def _similarity(run_id: str, s: float, rng) -> list[pa.Table]:
    """The full layer x layer matrix per reference model, split and subset."""
    out = []
    L = len(LAYERS)
    depth = np.linspace(0, 1, L)
    for ref in ("original", "retrained"):
        d_ref = {"original": s, "retrained": 1 - s}[ref]
        for split in ("train", "test"):
            for subset in ("forget", "retain"):
                drop = (0.85 if subset == "forget" else 0.08) * d_ref
                diag = np.clip(1 - drop * depth**2 - rng.uniform(0, 0.02, L), 0, 1)
                mat = np.clip(
                    np.minimum.outer(diag, diag) * (1 - 0.5 * np.abs(np.subtract.outer(depth, depth))), 0, 1
                )
                mat[np.arange(L), np.arange(L)] = diag
                ri, li = np.meshgrid(np.arange(L), np.arange(L), indexing="ij")
                out.append(
                    pa.table(
                        {
                            "run_id": [run_id] * L * L,
                            "reference": [ref] * L * L,
                            "split": [split] * L * L,
                            "subset": [subset] * L * L,
                            "reference_layer": [LAYERS[i] for i in ri.ravel()],
                            "layer": [LAYERS[j] for j in li.ravel()],
                            "cka": mat.ravel(),
                        }
                    )
                )
    return out


def _predictions(run_id: str, tr, te, C: int, rng) -> list[pa.Table]:
    out = []
    for split, acc in (("train", tr), ("test", te)):
        m = rng.dirichlet(np.ones(C) * 0.5, C) * (1 - acc)[:, None]
        m[np.arange(C), np.arange(C)] = 0
        m = m / np.maximum(m.sum(1, keepdims=True), 1e-12) * (1 - acc)[:, None]
        m[np.arange(C), np.arange(C)] = acc
        conf_m = np.clip(m * 0.9 + 0.01, 0, 1)
        t, p = np.meshgrid(np.arange(C), np.arange(C), indexing="ij")
        out.append(
            pa.table(
                {
                    "run_id": [run_id] * C * C,
                    "split": [split] * C * C,
                    "true": t.ravel().astype(np.int16),
                    "pred": p.ravel().astype(np.int16),
                    "proportion": m.ravel(),
                    "mean_confidence": conf_m.ravel(),
                }
            )
        )
    return out


def _attack(per_run_values, retrain_values, runs: list[dict], rng) -> list[pa.Table]:
    """Attack curves of one forget set's replicate against its retrained model, both scopes; sets PS."""
    out = []
    by_id = {r["run_id"]: r for r in runs}
    for run_id, ent, conf in per_run_values:
        worst, worst_challenge = 0.0, 0.0
        for scope in ("forget_set", "subset"):
            for metric, vals, (lo, hi) in (
                ("entropy", ent, ENTROPY_RANGE),
                ("confidence", conf, CONFIDENCE_RANGE),
            ):
                ref = retrain_values[metric]
                jitter = rng.normal(0, 0.02, len(vals)) if scope == "forget_set" else 0.0
                for direction, (p, q) in (
                    ("above_unlearn", (vals + jitter, ref)),
                    ("above_retrain", (ref, vals + jitter)),
                ):
                    thr, fpr, fnr, score = attack_curve(p, q, lo, hi)
                    score_challenge = challenge_attack_score(fpr, fnr)
                    if scope == "forget_set":
                        worst = max(worst, float(score.max()))
                        worst_challenge = max(worst_challenge, float(np.nanmax(score_challenge, initial=0.0)))
                    n = len(thr)
                    out.append(
                        pa.table(
                            {
                                "run_id": [run_id] * n,
                                "scope": [scope] * n,
                                "metric": [metric] * n,
                                "direction": [direction] * n,
                                "threshold": thr,
                                "fpr": fpr,
                                "fnr": fnr,
                                "attack_score": score,
                                "attack_score_challenge": score_challenge,
                            }
                        )
                    )
        by_id[run_id]["PS"], by_id[run_id]["PS_challenge"] = 1.0 - worst, 1.0 - worst_challenge
    return out


# --- the summary: summary.arrow's reduction, written out independently of the workflow's -------------------
def _mean_std(values: list) -> tuple[float | None, float | None, int]:
    finite = [float(v) for v in values if v is not None and np.isfinite(v)]
    if not finite:
        return None, None, 0
    std = float(np.std(finite, ddof=1)) if len(finite) > 1 else None
    return float(np.mean(finite)), std, len(finite)


def _acc_mean_std(lists: list) -> tuple[list | None, list | None]:
    rows = np.array([x for x in lists if x is not None], dtype=np.float64)
    if len(rows) == 0:
        return None, None
    return rows.mean(0).tolist(), (rows.std(0, ddof=1).tolist() if len(rows) > 1 else None)


def _without_seed(hp: str | None) -> str | None:
    if not hp:
        return hp
    return json.dumps({k: v for k, v in json.loads(hp).items() if k != "seed"})


def summary_rows(runs: list[dict]) -> list[dict]:
    """One row per (forget set, setting): n, n_ok, mean / std / n of every metric, per-class accuracy mean
    and std, and ``chosen`` per (forget set, method) by the smallest val_gap_mean (ties: RTE_mean, then
    setting_id)."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in runs:
        groups.setdefault((r["forget_set"], r["setting_id"]), []).append(r)
    out = []
    for (fs, sid), rows in groups.items():
        ok = [r for r in rows if r["status"] == "ok"]
        first = rows[0]
        row = {
            "forget_set": fs,
            "setting_id": sid,
            "type": first["type"],
            "method": first["method"],
            "method_name": first["method_name"],
            "hyperparameters": _without_seed(first["hyperparameters"]),
            "n": len(rows),
            "n_ok": len(ok),
            "chosen": False,
        }
        for m in RUN_METRICS:
            row[f"{m}_mean"], row[f"{m}_std"], row[f"{m}_n"] = _mean_std([r[m] for r in ok])
        for split in ("train", "test"):
            row[f"{split}_acc_mean"], row[f"{split}_acc_std"] = _acc_mean_std([r[f"{split}_acc"] for r in ok])
        out.append(row)
    best: dict[tuple[str, str], tuple] = {}
    for row in out:
        if row["type"] != "unlearned" or not row["n_ok"] or row["val_gap_mean"] is None:
            continue
        key = (row["val_gap_mean"], row["RTE_mean"], row["setting_id"])
        group = (row["forget_set"], row["method"])
        if group not in best or key < best[group][0]:
            best[group] = (key, row)
    for _, row in best.values():
        row["chosen"] = True
    return out


# --- the privacy audit --------------------------------------------------------------------------------------
AUDIT_FAILED_NOTE = "the run failed: there is no model to audit"


def _roc_figures(pos: np.ndarray, neg: np.ndarray) -> dict[str, Any]:
    """AUC, TPR at 1 % and 0.1 % FPR and the ROC at the schema's FPR grid, by the workflow's own functions."""
    fpr, tpr = roc(pos, neg)
    return {
        "auc": auc(fpr, tpr),
        "tpr_1pct": tpr_at_fpr(fpr, tpr, 0.01),
        "tpr_01pct": tpr_at_fpr(fpr, tpr, 0.001),
        "roc_tpr": [tpr_at_fpr(fpr, tpr, g) for g in AUDIT_ROC_FPR],
    }


def _audit_tables(
    runs: list[dict], strength: dict[str, float], sets_rows: list[dict], seeds: list[int], seed: int
) -> tuple[list[dict], list[pa.Table]]:
    """audit.arrow's rows and audit_instances.arrow's fragments, made up from each model's forgetting
    strength ``s`` (original 0, retrained 1) and a per-image vulnerability shared by a set's models.

    U-LiRA scores of a model's forget images are centred at (1 − s)·(2.5 + 1.5·v) − 0.3, the retrained
    model's at −0.3, so the original's AUC is far above 0.5, the methods' lie between, and the retrained
    model's calibration row (its scores against an independent retrained draw) is about 0.5. RMIA is a
    squashed, noisy copy of U-LiRA; epsilon depends on the setting only (the same on every replicate),
    with inf on the original's most memorable images (about a fifth). The failed run has a row of nulls
    and a note. Draws come from a generator of their own, so the other tables are the same with or without
    the audit."""
    rng = np.random.default_rng([seed, 4099])
    K = len(seeds)
    rows, fragments = [], []
    for fs_row in sets_rows:
        members = np.asarray(fs_row["members"], dtype=np.int32)
        M = len(members)
        v = rng.normal(0, 1, M)  # how memorable each image is, for every model of the set
        eps_noise = rng.normal(0, 0.1, M)
        mine = [r for r in runs if r["forget_set"] == fs_row["forget_set"]]
        retrained_scores = {}
        for r in mine:
            if r["type"] == "retrained":
                retrained_scores[r["seed"]] = rng.normal(-0.3, 0.8, M)
        pooled: dict[str, list] = {}  # setting id -> [(row, {attack: (positives, negatives)})]
        for r in mine:
            is_retrained = r["type"] == "retrained"
            base = {
                "run_id": r["run_id"],
                "forget_set": r["forget_set"],
                "setting_id": r["setting_id"],
                "seed": r["seed"],
                "shadow_models": (K - 1) // 2 if is_retrained else K - 1,
                "epsilon_models": K // 2 if is_retrained else K,
            }
            if r["status"] != "ok":
                rows.append(base | {"note": AUDIT_FAILED_NOTE})
                continue
            s = strength[r["run_id"]]
            negatives = retrained_scores[r["seed"]]
            if is_retrained:  # the calibration: the model's scores against another retrained draw
                ulira, negatives = negatives, rng.normal(-0.3, 0.8, M)
            else:
                ulira = (1 - s) * (2.5 + 1.5 * v) - 0.3 + rng.normal(0, 0.8, M)
            rmia, rmia_negatives = (
                1 / (1 + np.exp(-(0.9 * x + rng.normal(0, 0.3, M)))) for x in (ulira, negatives)
            )
            # epsilon and F are the setting's: the same on every replicate
            eps = np.abs((1 - strength[r["setting_id"]]) * 3 * np.exp(0.5 * v) + eps_noise)
            if r["type"] == "original":  # its most memorable images are told apart perfectly
                eps[v > 0.8] = np.inf
            quality = float(np.mean(np.exp(-eps)))
            figures = {"ulira": _roc_figures(ulira, negatives), "rmia": _roc_figures(rmia, rmia_negatives)}
            rows.append(
                base
                | {f"{a}_{k}": val for a, fig in figures.items() for k, val in fig.items()}
                | {"forget_quality": quality, "challenge_score": quality * 0.97, "note": None}
            )
            scores = {"ulira": (ulira, negatives), "rmia": (rmia, rmia_negatives)}
            pooled.setdefault(r["setting_id"], []).append((rows[-1], scores))
            fragments.append(
                pa.table(
                    {
                        "run_id": [r["run_id"]] * M,
                        "index": members,
                        "ulira": ulira.astype(np.float32),
                        "rmia": rmia.astype(np.float32),
                        "epsilon": eps.astype(np.float32),
                    }
                )
            )
        for members_of_setting in pooled.values():  # the setting's figures: its replicates pooled
            for attack in ("ulira", "rmia"):
                figures = _roc_figures(
                    *(np.concatenate([sc[attack][i] for _, sc in members_of_setting]) for i in (0, 1))
                )
                for row, _ in members_of_setting:
                    row[f"{attack}_auc_setting"] = figures["auc"]
                    row[f"{attack}_tpr_1pct_setting"] = figures["tpr_1pct"]
    return rows, fragments


# --- the experiment -----------------------------------------------------------------------------------------
def _sets_of(forget_classes, forget_sets, seed: int) -> list[ForgetSet]:
    fcs = list(range(forget_classes)) if isinstance(forget_classes, int) else list(forget_classes)
    return forget_sets_of({"seed": seed, "forget_classes": fcs, "forget_sets": forget_sets or []})


def _forget_sets_rows(sets: list[ForgetSet], class_names: list[str], train_labels) -> list[dict]:
    rows = []
    for fs in sets:
        members = np.flatnonzero(fs.train_mask(train_labels))
        rows.append(
            {
                "forget_set": fs.id,
                "kind": fs.kind,
                "name": fs.display_name(class_names),
                "classes": list(fs.classes),
                "fraction": fs.fraction if fs.kind == "random" else len(members) / len(train_labels),
                "draw_seed": fs.seed if fs.kind == "random" else None,
                "size": len(members),
                "members": members.astype(np.int32),
            }
        )
    return rows


def write_experiment(
    out_dir: str | Path,
    forget_classes: int | list[int] = 3,
    models_per_class: int = 22,
    per_class: int = 200,
    num_classes: int = 10,
    seed: int = 0,
    failed: bool = True,
    evil: bool = True,
    thumbnails: bool = True,
    name: str = "synthetic",
    forget_sets: list[dict[str, Any]] | None = None,
    seeds: list[int] | None = None,
    refused: list[dict[str, str]] | None = None,
    legacy: bool = False,
    audit: bool = False,
) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    C = num_classes
    sets = _sets_of(forget_classes, forget_sets, seed)
    seeds = list(seeds) if seeds else [seed]
    if legacy and (len(seeds) > 1 or any(fs.kind != "class" for fs in sets)):
        raise ValueError("legacy tables hold one-class forget sets and one seed only")
    if audit and (legacy or len(seeds) < 3):
        raise ValueError("an audit needs at least three seeds (shadow models of other replicates)")
    class_names = CLASS_NAMES[:C] if C <= len(CLASS_NAMES) else [f"class {i}" for i in range(C)]
    image_size, sprite_columns = 28, 40
    train_labels = np.repeat(np.arange(C), PER_CLASS_TRAIN)
    fs_rows = _forget_sets_rows(sets, class_names, train_labels)

    # the fixed evaluation subset: per_class training images per class, class order
    indices = np.concatenate(
        [
            np.sort(rng.choice(PER_CLASS_TRAIN, per_class, replace=False)) + PER_CLASS_TRAIN * c
            for c in range(C)
        ]
    )
    labels = np.repeat(np.arange(C), per_class)
    N = len(indices)
    angle = 2 * np.pi * np.arange(C) / C
    centres = np.stack([np.cos(angle), np.sin(angle)], axis=1) * 8
    base_xy = centres[labels] + rng.normal(0, 1.2, (N, 2))
    base_logits = rng.normal(0, 1, (N, C))
    base_logits[np.arange(N), labels] += 9 + rng.normal(0, 1.5, N)

    runs, inst, preds, sims, atks = [], [], [], [], []
    strength: dict[str, float] = {}  # per run id and setting id: the forgetting strength (the audit's)
    vrng = np.random.default_rng(seed + 7919)  # the validation columns' own draws: the rest stays as it was
    for set_pos, (fs, fs_row) in enumerate(zip(sets, fs_rows)):
        forget = np.isin(indices, fs_row["members"])
        # a random set's images are like any others to the retrained model: forgetting moves them less
        pull = 1.0 if fs.is_class_wise else 0.25
        specs = _specs(models_per_class, failed, evil, rng)
        grid: dict[int, tuple[int, float, int]] = {}  # the settings' hyperparameters, shared by replicates
        for rep, rep_seed in enumerate(seeds):
            # the first replicate draws from the main generator, as one seed always did
            r_rng = rng if rep == 0 else np.random.default_rng([seed, rep_seed, set_pos])
            suffix = f"-seed{rep_seed}" if len(seeds) > 1 else ""
            set_runs: list[dict] = []
            retrain_values: dict[str, np.ndarray] = {}
            per_run_values = []
            for k, (kind, mid, mname, s) in enumerate(specs):
                if rep > 0 and kind not in ("original", "retrained"):
                    s = float(np.clip(s + r_rng.normal(0, 0.05), 0.05, 1.0))
                setting_id = {"original": f"{fs.id}-original", "retrained": f"{fs.id}-retrained"}.get(
                    kind, f"{fs.id}-{mid}-{k:02d}"
                )
                if mid == "evil":
                    setting_id = (
                        f"{fs.id}-evil<b>-{k:02d}"  # markup in a run id: must show as text everywhere
                    )
                run_id = setting_id + suffix
                strength.setdefault(setting_id, s)  # the first replicate's: the setting's own
                strength[run_id] = s
                if k not in grid:
                    epochs = {"original": 30, "retrained": 30}.get(kind, int(r_rng.choice([2, 3, 5, 8])))
                    lr = {"original": 0.1, "retrained": 0.1}.get(
                        kind, float(r_rng.choice([0.1, 0.01, 0.001]))
                    )
                    bs = int(r_rng.choice([64, 128, 256])) if kind in ("unlearned", "failed") else 128
                    grid[k] = (epochs, lr, bs)
                epochs, lr, bs = grid[k]
                hp = {
                    "epochs": epochs,
                    "lr": lr,
                    "batch_size": bs,
                    **({"alpha": 0.5} if mid == "scrub" else {}),
                }
                if not legacy:
                    hp["seed"] = rep_seed
                row = dict(
                    run_id=run_id,
                    forget_class=fs.forget_class,
                    type="unlearned" if kind == "failed" else kind,
                    method=mid,
                    method_name=mname,
                    base=None if kind in ("original", "retrained") else f"{fs.id}-original{suffix}",
                    seed=rep_seed,
                    epochs=epochs,
                    lr=lr,
                    batch_size=bs,
                    hyperparameters=json.dumps(hp),
                    device="cpu",
                )
                if not legacy:
                    row |= {"forget_set": fs.id, "setting_id": setting_id}
                if kind == "failed" and rep == len(seeds) - 1:
                    set_runs.append(_failed_row(row))
                    continue
                kind = "unlearned" if kind == "failed" else kind
                tr, te = _accuracies(kind, s, fs, C, r_rng)
                # instances
                logits = base_logits + r_rng.normal(0, 0.6, (N, C))
                shift = r_rng.integers(1, C, N)
                other = (labels + shift) % C
                logits[forget, labels[forget]] -= 12 * s * pull
                logits[forget, other[forget]] += 6 * s * pull
                probs = _softmax(logits)
                pred = probs.argmax(1)
                ent = -(_softmax(logits, 2.0) * np.log(_softmax(logits, 2.0) + 1e-45)).sum(1)
                pmax = probs.max(1)
                conf = np.log(pmax + 1e-45) - np.log(1 - pmax + 1e-45)
                xy = base_xy + r_rng.normal(0, 0.25, (N, 2))
                moved = s * pull
                xy[forget] = (1 - moved) * xy[forget] + moved * (
                    centres[other[forget]] + r_rng.normal(0, 1.5, (forget.sum(), 2))
                )
                inst.append(
                    pa.table(
                        {
                            "run_id": [run_id] * N,
                            "index": indices.astype(np.int32),
                            "label": labels.astype(np.int16),
                            "pred": pred.astype(np.int16),
                            "is_forget": forget,
                            "probs": pa.FixedSizeListArray.from_arrays(
                                pa.array(probs.astype(np.float32).ravel()), C
                            ),
                            "entropy": ent.astype(np.float32),
                            "confidence": conf,
                            "x": xy[:, 0].astype(np.float32),
                            "y": xy[:, 1].astype(np.float32),
                        }
                    )
                )
                per_run_values.append((run_id, ent[forget], conf[forget]))
                if kind == "retrained":
                    retrain_values = {"entropy": ent[forget], "confidence": conf[forget]}
                preds.extend(_predictions(run_id, tr, te, C, r_rng))
                sims.extend(_similarity(run_id, s, r_rng))
                set_runs.append(
                    {
                        **row,
                        **_set_metrics(fs, tr, te, s, r_rng),
                        "RTE": None
                        if kind == "original"
                        else float({"retrained": 900.0}.get(kind, r_rng.uniform(3, 200))),
                        "PS": None,
                        "PS_challenge": None,
                        "MIA_efficacy": float(np.clip(s * 0.9 + r_rng.normal(0, 0.05), 0, 1)),
                        "avg_gap": None,
                        "train_acc": tr.tolist(),
                        "test_acc": te.tolist(),
                        "status": "ok",
                        "error": None,
                    }
                )
            atks.extend(_attack(per_run_values, retrain_values, set_runs, r_rng))
            # every model is compared with the retrained model of its own replicate
            retrained = next(r for r in set_runs if r["type"] == "retrained")
            for r in set_runs:
                if r["status"] == "ok":
                    r["avg_gap"] = _gap(r, retrained, ("UA", "RA", "TA", "MIA_efficacy"))
            _validation_columns(set_runs, vrng)
            runs.extend(set_runs)

    sch = schemas(C)
    meta = {
        "name": name,
        "title": EVIL_TITLE if evil else "Synthetic experiment",
        "dataset": "fashion_mnist",
        "dataset_name": "Fashion-MNIST",
        "model": "compact_resnet",
        "model_name": "Compact ResNet",
        "class_names": class_names,
        "layers": LAYERS,
        "forget_classes": [fs.forget_class for fs in sets if fs.forget_class is not None],
        "seed": seed,
        "image_size": image_size,
        "channels": 1,
        "sprite_columns": sprite_columns,
        "subset_per_class": per_class,
    }
    if not legacy:
        if refused is None:
            refused = [
                {"method": "boundary_shrink", "forget_set": fs.id, "reason": REFUSED_REASON}
                for fs in sets
                if fs.kind != "class"
            ]
        meta |= {
            "forget_sets": [
                {k: row[k] for k in ("kind", "name", "classes", "fraction", "size")}
                | {"id": row["forget_set"], "seed": row["draw_seed"]}
                for row in fs_rows
            ],
            "seeds": seeds,
            "refused": refused,
        }
    runs_schema = sch["runs"]
    if legacy:  # the runs table as it was before forget sets
        runs_schema = pa.schema(
            [
                f.with_nullable(False) if f.name == "forget_class" else f
                for f in runs_schema
                if f.name not in ("forget_set", "setting_id")
            ]
        )
    runs_table = pa.Table.from_pylist(runs, schema=runs_schema).replace_schema_metadata(
        {b"experiment": json.dumps(meta).encode()}
    )
    write_table(runs_table, out / "runs.arrow", runs_schema)
    write_table(pa.concat_tables(inst).cast(sch["instances"]), out / "instances.arrow", sch["instances"])
    write_table(
        pa.concat_tables(preds).cast(sch["predictions"]), out / "predictions.arrow", sch["predictions"]
    )
    write_table(pa.concat_tables(sims).cast(sch["similarity"]), out / "similarity.arrow", sch["similarity"])
    write_table(pa.concat_tables(atks).cast(sch["attack"]), out / "attack.arrow", sch["attack"])
    if not legacy:
        write_table(pa.Table.from_pylist(fs_rows, schema=sch["forget_sets"]), out / "forget_sets.arrow")
        summary = pa.Table.from_pylist(summary_rows(runs), schema=sch["summary"])
        write_table(summary, out / "summary.arrow", sch["summary"])
    if thumbnails:
        write_table(
            pa.table(
                {
                    "index": indices.astype(np.int32),
                    "label": labels.astype(np.int16),
                    "sprite": np.arange(N, dtype=np.int32),
                }
            ),
            out / "subset.arrow",
            sch["subset"],
        )
        (out / "thumbnails.png").write_bytes(_sprite_png(N, image_size, sprite_columns, rng))
    if audit:
        rows, fragments = _audit_tables(runs, strength, fs_rows, seeds, seed)
        write_table(pa.Table.from_pylist(rows, schema=sch["audit"]), out / "audit.arrow", sch["audit"])
        write_table(
            pa.concat_tables(fragments).cast(sch["audit_instances"]),
            out / "audit_instances.arrow",
            sch["audit_instances"],
        )
    return out


if __name__ == "__main__":  # python tests/site_fixtures.py OUT [forget_classes models_per_class]
    import sys

    args = sys.argv[1:]
    write_experiment(args[0], int(args[1]) if len(args) > 1 else 3, int(args[2]) if len(args) > 2 else 22)

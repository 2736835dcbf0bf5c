"""Convert the upstream Unlearning Comparator's result files into this project's tables.

The upstream app (gnueaj/Machine-Unlearning-Comparator) writes one JSON file per model and forget
class, ``{fc}/{ID}.json`` (its published CIFAR-10 results are in ``backend/data/`` of that
repository, e.g. at commit 0e3ce99d): ``000{fc}`` is the original model
evaluated for forget class ``fc``, ``a00{fc}`` the model retrained without it, any other ID an
unlearned model. ``convert(src_dir, out_dir)`` turns a folder of them into ``runs``, ``instances``,
``predictions``, ``similarity`` and ``attack`` tables (the schemas of :mod:`unlearning_comparator.tables`),
so the site generator renders results that did not come from this workflow::

    python -m unlearning_comparator.interop.comparator_json data/comparator-cifar10-resnet18 results/upstream/tables

Mapping (upstream → tables):

* ``Type``: Original → ``original``, Retrained → ``retrained``, Unlearned → ``unlearned`` for the
  built-in methods and ``external`` for uploaded weights ("Custom"); files without a forget class
  ("Pretrained", FC "N/A") are skipped. ``Method`` → ``method`` (ft, ga, rl, scrub, salun, ga_ft,
  ga_sl_ft, ga_sl_ft_v2) and ``method_name`` (the upstream UI's display name); ``ID`` → ``run_id``
  (prefixed with the forget class if two classes share an ID); ``Epoch``/``BS``/``LR`` →
  ``epochs``/``batch_size``/``lr``; ``RTE`` as is; ``FQS`` → ``PS``; ``accs``/``t_accs`` →
  ``train_acc``/``test_acc``; ``"N/A"`` → null. ``seed`` is the upstream's fixed 2048.
* ``MIA_efficacy`` is not in the files (null), so the literature's Avg. Gap (mean |Δ| over UA, RA,
  TA and MIA-Efficacy) cannot be computed: ``avg_gap`` is null.
* ``TA`` (share of the test images outside the forget class classified correctly) is the mean of the
  other classes' ``t_accs``: CIFAR-10's test split has 1,000 images per class, so the per-image
  share equals the class mean (up to the upstream's rounding of ``t_accs`` to 3 decimals).
* ``label_dist``/``conf_dist`` (train) and ``t_label_dist``/``t_conf_dist`` (test) → ``predictions``.
* ``cka`` (reference ``original``) and ``cka_retrain`` (``retrained``): train/test ×
  forget_class/other_classes → ``similarity`` with subset ``forget``/``retain``; matrix[i][j] is
  CKA(reference layer i, model layer j).
* ``points`` → ``instances``. Their probabilities are softmax at T = 2, rounded to 3 decimals, with
  entries ≤ 0.001 dropped. The tables want T = 1: since softmax(z/2)² ∝ softmax(z), we use
  p₁ ∝ p₂² renormalised, with dropped entries counted as 0 — an approximation (the rounding and the
  dropped mass, at most 0.001 per class, are lost; p₁ of those classes is below 1e-6 of the largest).
  Entropy (T = 2) and confidence (T = 1 log-odds of the top class) of the forget-class points are the
  upstream's own ``attack.values``; for the other points they are derived from the stored
  probabilities (entropy of the renormalised p₂; confidence from p₁, with 1 − p_max as the sum of the
  other classes). The embedding's x, y are the upstream's independent UMAP fits, **not aligned**
  across models (the upstream does not align them).
* ``attack.results`` (the 200 forget instances of the evaluation subset) → ``attack`` with scope
  ``subset``; ``attack_score`` is the upstream's (the Comparator's ε rule), ``attack_score_challenge``
  is computed here from the stored ``fpr``/``fnr`` with the NeurIPS 2023 challenge's ε rule — from
  rates the upstream rounded to 3 decimals, so a rate under 0.0005 reads as 0 and its threshold is
  discarded. The upstream files hold no full-forget-set curves, so there is no ``forget_set`` scope:
  ``PS`` is the upstream's ``FQS`` (null for the original models, as upstream) and ``PS_challenge``
  is null.
* No thumbnails and no ``subset`` table: the files hold image indices, not images.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ..metrics.privacy import challenge_attack_score
from ..similarity import append_matrix
from ..tables import schemas, write_table

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
RESNET18_LAYERS = ["conv1", "layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0", "layer3.1",
                   "layer4.0", "layer4.1", "fc"]
METHODS = {  # upstream "Method" -> (method id, display name in the upstream UI)
    "FineTuning": ("ft", "Fine-Tuning"),
    "GradientAscent": ("ga", "Gradient Ascent"),
    "RandomLabeling": ("rl", "Random Labeling"),
    "SCRUB": ("scrub", "SCRUB"),
    "SalUn": ("salun", "SalUn"),
    "GA+FT": ("ga_ft", "GA+FT"),
    "GA+SL+FT": ("ga_sl_ft", "GA+SL+FT"),
    "GA+SL+FT V2": ("ga_sl_ft_v2", "GA+SL+FT V2"),
}
TYPES = {"Original": "original", "Retrained": "retrained", "Unlearned": "unlearned"}
UPSTREAM_SEED = 2048
EPS = 1e-45


class ConversionError(ValueError):
    """A result file is missing, unreadable or not in the upstream format; the message names it."""


def _na(value: Any) -> Any:
    return None if value in ("N/A", None) else value


def _float(value: Any) -> float | None:
    value = _na(value)
    return None if value is None else float(value)


def _int(value: Any) -> int | None:
    value = _na(value)
    return None if value is None else int(value)


def read_results(src_dir: str | Path) -> list[tuple[int, Path, dict[str, Any]]]:
    """Every ``{fc}/{ID}.json`` under ``src_dir`` as (forget class, path, parsed JSON), sorted."""
    src = Path(src_dir)
    if not src.is_dir():
        raise ConversionError(f"{src} is not a folder; pass the folder that holds the upstream's {{fc}}/{{ID}}.json files")
    out = []
    for path in sorted(src.glob("*/*.json")):
        if not path.parent.name.lstrip("-").isdigit():
            continue
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConversionError(f"{path} is not readable JSON ({exc})") from exc
        missing = [k for k in ("ID", "FC", "Type", "UA", "accs", "t_accs", "points", "attack") if k not in doc]
        if missing:
            raise ConversionError(f"{path} lacks the upstream keys {missing}; is it an Unlearning Comparator result file?")
        if _na(doc["FC"]) is None:
            continue  # training-evaluation mode ("Pretrained"): no forget class
        out.append((int(doc["FC"]), path, doc))
    if not out:
        raise ConversionError(f"no upstream result files ({{fc}}/{{ID}}.json) under {src}")
    return out


def retain_class_mean(class_accuracies: list[float], forget_class: int) -> float:
    """Mean of the per-class accuracies of every class but the forget class."""
    return float(np.mean([a for c, a in enumerate(class_accuracies) if c != forget_class]))


def convert_probs(prob: dict[str, float], num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(p at T = 1, p at T = 2), both renormalised, from an upstream point's truncated T = 2 dict."""
    p2 = np.zeros(num_classes, dtype=np.float64)
    for key, value in prob.items():
        c = int(key)
        if 0 <= c < num_classes:
            p2[c] = float(value)
    total = p2.sum()
    if total <= 0:
        p2[:] = 1.0 / num_classes
        total = 1.0
    p2 = p2 / total
    p1 = p2 ** 2
    p1 = p1 / p1.sum()
    return p1, p2


def entropy_confidence(p1: np.ndarray, p2: np.ndarray) -> tuple[float, float]:
    """Entropy (nats) of the T = 2 softmax and the log-odds of the top T = 1 probability."""
    nz = p2[p2 > 0]
    entropy = float(-(nz * np.log(nz)).sum())
    top = int(np.argmax(p1))
    rest = float(p1.sum() - p1[top])
    confidence = math.log(p1[top] + EPS) - math.log(rest + EPS)
    return entropy, confidence


def convert(src_dir: str | Path, out_dir: str | Path) -> dict[str, int]:
    """Convert the upstream result files under ``src_dir`` into tables in ``out_dir``; returns row counts."""
    results = read_results(src_dir)
    C = len(results[0][2]["accs"])
    class_names = CIFAR10_CLASSES if C == 10 else [f"class {i}" for i in range(C)]
    layers: list[str] = []
    for _, _, doc in results:
        cka = doc.get("cka")
        if isinstance(cka, dict) and cka.get("layers"):
            layers = [str(x) for x in cka["layers"]]
            break
    layers = layers or RESNET18_LAYERS

    ids = [doc["ID"] for _, _, doc in results]
    runs: list[dict[str, Any]] = []
    inst: dict[str, list] = {k: [] for k in ("run_id", "index", "label", "pred", "is_forget", "probs", "entropy",
                                             "confidence", "x", "y")}
    preds: dict[str, list] = {k: [] for k in ("run_id", "split", "true", "pred", "proportion", "mean_confidence")}
    sims: dict[str, list] = {k: [] for k in ("run_id", "reference", "split", "subset", "reference_layer", "layer", "cka")}
    atks: dict[str, list] = {k: [] for k in ("run_id", "scope", "metric", "direction", "threshold", "fpr", "fnr",
                                             "attack_score")}
    for fc, path, doc in results:
        rid = str(doc["ID"])
        run_id = f"{fc}-{rid}" if ids.count(doc["ID"]) > 1 else rid
        kind = TYPES.get(doc["Type"])
        if kind is None:
            raise ConversionError(f"{path}: unknown Type {doc['Type']!r}")
        method, method_name = None, None
        if kind == "unlearned":
            known = METHODS.get(doc.get("Method"))
            if known:
                method, method_name = known
            else:  # "Custom" (uploaded weights) or a method this converter does not know
                kind = "external"
                raw = _na(doc.get("Method"))
                method = None if raw is None else str(raw).lower().replace(" ", "_")
                method_name = "Custom" if raw in (None, "Custom") else str(raw)
        hp = {"epochs": _int(doc.get("Epoch")), "lr": _float(doc.get("LR")), "batch_size": _int(doc.get("BS"))}
        for extra in ("saliency_threshold", "use_random_labels"):
            if extra in doc:
                hp[extra] = doc[extra]
        test_acc = [float(x) for x in doc["t_accs"]]
        runs.append({
            "run_id": run_id, "forget_class": fc, "type": kind, "method": method, "method_name": method_name,
            "base": None if _na(doc.get("Base")) is None else str(doc["Base"]), "seed": UPSTREAM_SEED,
            "epochs": hp["epochs"], "lr": hp["lr"], "batch_size": hp["batch_size"], "hyperparameters": json.dumps(hp),
            "UA": _float(doc.get("UA")), "RA": _float(doc.get("RA")), "TUA": _float(doc.get("TUA")),
            "TRA": _float(doc.get("TRA")), "TA": retain_class_mean(test_acc, fc), "RTE": _float(doc.get("RTE")),
            "device": None, "PS": _float(doc.get("FQS")), "PS_challenge": None, "MIA_efficacy": None, "avg_gap": None,
            "train_acc": [float(x) for x in doc["accs"]], "test_acc": test_acc,
            "status": "ok", "error": None,
        })
        # instances
        values = {int(v["img"]): v for v in (doc.get("attack") or {}).get("values", [])}
        for point in doc["points"]:
            gt, pred, img, forget, x, y, prob = point[:7]
            p1, p2 = convert_probs(prob or {}, C)
            if forget and int(img) in values:
                entropy, confidence = float(values[int(img)]["entropy"]), float(values[int(img)]["confidence"])
            else:
                entropy, confidence = entropy_confidence(p1, p2)
            inst["run_id"].append(run_id)
            inst["index"].append(int(img))
            inst["label"].append(int(gt))
            inst["pred"].append(int(pred))
            inst["is_forget"].append(bool(forget))
            inst["probs"].append(p1.astype(np.float32).tolist())
            inst["entropy"].append(entropy)
            inst["confidence"].append(confidence)
            inst["x"].append(float(x))
            inst["y"].append(float(y))
        # predictions
        for split, label_key, conf_key in (("train", "label_dist", "conf_dist"), ("test", "t_label_dist", "t_conf_dist")):
            label_dist, conf_dist = doc.get(label_key) or {}, doc.get(conf_key) or {}
            for t in range(C):
                row_p, row_c = label_dist.get(f"gt_{t}"), conf_dist.get(f"gt_{t}")
                if row_p is None or row_c is None:
                    continue
                for p in range(C):
                    preds["run_id"].append(run_id)
                    preds["split"].append(split)
                    preds["true"].append(t)
                    preds["pred"].append(p)
                    preds["proportion"].append(float(row_p[p]))
                    preds["mean_confidence"].append(float(row_c[p]))
        # similarity
        for reference, key in (("original", "cka"), ("retrained", "cka_retrain")):
            cka = doc.get(key)
            if not isinstance(cka, dict):
                continue
            names = [str(x) for x in cka.get("layers") or layers]
            for split in ("train", "test"):
                for upstream_subset, subset in (("forget_class", "forget"), ("other_classes", "retain")):
                    matrix = ((cka.get(split) or {}).get(upstream_subset))
                    if matrix:
                        append_matrix(sims, run_id, reference, split, subset, names, names, matrix)
        # attack curves (the evaluation subset's forget instances)
        for key, curve in ((doc.get("attack") or {}).get("results") or {}).items():
            metric, _, direction = key.partition("_")
            if metric not in ("entropy", "confidence") or direction not in ("above_unlearn", "above_retrain"):
                continue
            for entry in curve:
                atks["run_id"].append(run_id)
                atks["scope"].append("subset")
                atks["metric"].append(metric)
                atks["direction"].append(direction)
                atks["threshold"].append(float(entry["threshold"]))
                atks["fpr"].append(float(entry["fpr"]))
                atks["fnr"].append(float(entry["fnr"]))
                atks["attack_score"].append(float(entry["attack_score"]))
    atks["attack_score_challenge"] = np.asarray(challenge_attack_score(atks["fpr"], atks["fnr"])).tolist()

    forget_classes = sorted({fc for fc, _, _ in results})
    meta = {
        "name": Path(src_dir).resolve().name, "title": "Unlearning Comparator: published CIFAR-10 / ResNet-18 results",
        "dataset": "cifar10", "dataset_name": "CIFAR-10", "model": "resnet18", "model_name": "ResNet-18",
        "class_names": class_names, "num_classes": C, "channels": 3, "image_size": 32, "layers": layers,
        "forget_classes": forget_classes, "seed": UPSTREAM_SEED,
        "source": "converted from the upstream Unlearning Comparator's result JSON files "
                  "(unlearning_comparator.interop.comparator_json)",
        "notes": "instances.probs: T = 1 recovered from the stored T = 2 probabilities (p1 ∝ p2², renormalised; "
                 "entries the upstream dropped (≤ 0.001) count as 0). Embeddings are the upstream's independent, "
                 "unaligned UMAP fits. MIA_efficacy is not available, so avg_gap (the literature's mean gap over "
                 "UA, RA, TA and MIA efficacy) is null. TA is the mean of the other classes' test accuracies "
                 "(CIFAR-10's test split has 1,000 images per class). Attack curves: scope 'subset' only, so "
                 "PS_challenge is null; attack_score_challenge is computed from the stored 3-decimal FPR/FNR.",
    }
    sch = schemas(C)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runs_table = pa.Table.from_pylist(runs, schema=sch["runs"]).replace_schema_metadata(
        {b"experiment": json.dumps(meta).encode()})
    tables = {
        "runs": runs_table,
        "instances": pa.table({**{k: v for k, v in inst.items() if k != "probs"},
                               "probs": pa.array(inst["probs"], type=pa.list_(pa.float32(), C))}),
        "predictions": pa.table(preds),
        "similarity": pa.table(sims),
        "attack": pa.table(atks),
    }
    for name, table in tables.items():
        write_table(table, out / f"{name}.arrow", sch[name])
    return {name: t.num_rows for name, t in tables.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m unlearning_comparator.interop.comparator_json",
        description="Convert the upstream Unlearning Comparator's result files ({fc}/{ID}.json) into tables.")
    parser.add_argument("src", help="folder with the upstream's {fc}/{ID}.json result files")
    parser.add_argument("out", help="tables folder to write (e.g. results/<name>/tables)")
    args = parser.parse_args(argv)
    try:
        counts = convert(args.src, args.out)
    except ConversionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {', '.join(f'{k} ({v} rows)' for k, v in counts.items())} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

r"""Convert the upstream Unlearning Comparator's result files into this project's tables.

The upstream app (gnueaj/Machine-Unlearning-Comparator) writes one JSON file per model and forget
class, ``{fc}/{ID}.json`` (its published CIFAR-10 results are in ``backend/data/`` of that
repository, e.g. at commit 0e3ce99d): ``000{fc}`` is the original model
evaluated for forget class ``fc``, ``a00{fc}`` the model retrained without it, any other ID an
unlearned model. ``convert(src_dir, out_dir)`` turns a folder of them into every consolidated table
(``runs``, ``instances``, ``predictions``, ``similarity``, ``attack``, ``forget_sets``, ``summary``: the
schemas of :mod:`unlearning_comparator.tables`),
so the site generator renders results that did not come from this workflow::

    python -m unlearning_comparator.interop.comparator_json \
        data/comparator-cifar10-resnet18 results/upstream/tables

Mapping (upstream → tables):

* ``Type``: Original → ``original``, Retrained → ``retrained``, Unlearned → ``unlearned`` for the
  built-in methods and ``external`` for uploaded weights ("Custom"); files without a forget class
  ("Pretrained", FC "N/A") are skipped. ``Method`` → ``method`` (ft, ga, rl, scrub, salun, ga_ft,
  ga_sl_ft, ga_sl_ft_v2) and ``method_name`` (the upstream UI's display name); ``ID`` → ``run_id``
  (prefixed with the forget class if two classes share an ID); ``Epoch``/``BS``/``LR`` →
  ``epochs``/``batch_size``/``lr``; ``RTE`` as is; ``FQS`` → ``PS``; ``accs``/``t_accs`` →
  ``train_acc``/``test_acc``; ``"N/A"`` → null. ``seed`` is the upstream's fixed 2048.
* Forget sets: the upstream forgets one whole class, so each forget class ``fc`` is the forget set
  ``fc<fc>`` (``forget_set``), and ``setting_id`` is the ``run_id`` (one replicate). ``forget_sets`` has
  one row per class (kind ``class``, the class's CIFAR-10 name); the files hold image indices but no
  labels, so ``members`` is null, and ``size``/``fraction`` are CIFAR-10's (5,000 training images per
  class, 0.1 of the split) when the files have 10 classes, null otherwise. ``instances.is_forget`` is
  the upstream's own forget flag of each point. ``summary`` has one row per run (``n`` = 1, every
  ``*_std`` null, ``chosen`` null as in ``runs``).
* ``MIA_efficacy`` is not in the files (null), so the literature's Avg. Gap (mean |Δ| over UA, RA,
  TA and MIA-Efficacy) cannot be computed: ``avg_gap`` is null.
* ``TA`` (share of the test images outside the forget class classified correctly) is the mean of the
  other classes' ``t_accs``: CIFAR-10's test split has 1,000 images per class, so the per-image
  share equals the class mean (up to the upstream's rounding of ``t_accs`` to 3 decimals).
* The upstream has no validation split: its ``TUA``, ``TRA``, ``t_accs`` (and so ``TA``) are on the
  whole test split and are kept as imported; ``val_UA``, ``val_RA`` and ``val_gap`` are null, and
  ``chosen`` is null (no run is marked as its method's chosen setting: there is nothing unseen to
  choose on).
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
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa

from ..metrics.privacy import challenge_attack_score
from ..similarity import append_matrix
from ..summary import summary_table
from ..tables import schemas, write_table

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
RESNET18_LAYERS = [
    "conv1",
    "layer1.0",
    "layer1.1",
    "layer2.0",
    "layer2.1",
    "layer3.0",
    "layer3.1",
    "layer4.0",
    "layer4.1",
    "fc",
]
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
CIFAR10_TRAIN_PER_CLASS = 5000  # the training split's images per class (50,000 in all)
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


class ResultFile(NamedTuple):
    """One upstream result file of a forget class, parsed, and the run id its rows get."""

    forget_class: int
    path: Path
    doc: dict[str, Any]
    run_id: str


def read_results(src_dir: str | Path) -> list[ResultFile]:
    """Every ``{fc}/{ID}.json`` under ``src_dir`` that has a forget class, sorted by path, checked for the
    upstream's keys. An ``ID`` that two forget classes share gets the class as a prefix in its run id."""
    src = Path(src_dir)
    if not src.is_dir():
        raise ConversionError(
            f"{src} is not a folder; pass the folder that holds the upstream's {{fc}}/{{ID}}.json files"
        )
    found = []
    for path in sorted(src.glob("*/*.json")):
        if not path.parent.name.lstrip("-").isdigit():
            continue
        doc = _read_result(path)
        if _na(doc["FC"]) is None:
            continue  # training-evaluation mode ("Pretrained"): no forget class
        found.append((int(doc["FC"]), path, doc))
    if not found:
        raise ConversionError(f"no upstream result files ({{fc}}/{{ID}}.json) under {src}")
    ids = [doc["ID"] for _, _, doc in found]
    return [
        ResultFile(fc, path, doc, f"{fc}-{doc['ID']}" if ids.count(doc["ID"]) > 1 else str(doc["ID"]))
        for fc, path, doc in found
    ]


def _read_result(path: Path) -> dict[str, Any]:
    """One result file, parsed; it must have the upstream's keys."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConversionError(f"{path} is not readable JSON ({exc})") from exc
    missing = [k for k in ("ID", "FC", "Type", "UA", "accs", "t_accs", "points", "attack") if k not in doc]
    if missing:
        raise ConversionError(
            f"{path} lacks the upstream keys {missing}; is it an Unlearning Comparator result file?"
        )
    return doc


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
    p1 = p2**2
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
    files = read_results(src_dir)
    C = len(files[0].doc["accs"])
    layers = _layers(files)
    sch = schemas(C)
    experiment = {b"experiment": json.dumps(_experiment_metadata(src_dir, files, C, layers)).encode()}
    runs = pa.Table.from_pylist(_runs(files), schema=sch["runs"])
    tables = {
        "runs": runs.replace_schema_metadata(experiment),
        "instances": _instances(files, C),
        "predictions": _predictions(files, C),
        "similarity": _similarity(files, layers),
        "attack": _attack(files),
        "forget_sets": pa.Table.from_pylist(_forget_sets(files, C), schema=sch["forget_sets"]),
        "summary": _summary(runs, C),
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        write_table(table, out / f"{name}.arrow", sch[name])
    return {name: t.num_rows for name, t in tables.items()}


def _layers(files: list[ResultFile]) -> list[str]:
    """The layer names of the first file whose CKA names them (ResNet-18's if none does)."""
    for file in files:
        cka = file.doc.get("cka")
        if isinstance(cka, dict) and cka.get("layers"):
            return [str(x) for x in cka["layers"]]
    return RESNET18_LAYERS


def _runs(files: list[ResultFile]) -> list[dict[str, Any]]:
    """The rows of ``runs``, one per file."""
    rows = []
    for fc, path, doc, run_id in files:
        kind, method, method_name = _kind_and_method(path, doc)
        hp = {
            "epochs": _int(doc.get("Epoch")),
            "lr": _float(doc.get("LR")),
            "batch_size": _int(doc.get("BS")),
        }
        for extra in ("saliency_threshold", "use_random_labels"):
            if extra in doc:
                hp[extra] = doc[extra]
        test_acc = [float(x) for x in doc["t_accs"]]
        rows.append(
            {
                "run_id": run_id,
                "forget_set": f"fc{fc}",
                "setting_id": run_id,  # one replicate: the setting is the run
                "forget_class": fc,
                "type": kind,
                "method": method,
                "method_name": method_name,
                "base": None if _na(doc.get("Base")) is None else str(doc["Base"]),
                "seed": UPSTREAM_SEED,
                "epochs": hp["epochs"],
                "lr": hp["lr"],
                "batch_size": hp["batch_size"],
                "hyperparameters": json.dumps(hp),
                "UA": _float(doc.get("UA")),
                "RA": _float(doc.get("RA")),
                "TUA": _float(doc.get("TUA")),
                "TRA": _float(doc.get("TRA")),
                "TA": retain_class_mean(test_acc, fc),
                "RTE": _float(doc.get("RTE")),
                "device": None,
                "PS": _float(doc.get("FQS")),
                "PS_challenge": None,
                "MIA_efficacy": None,
                "avg_gap": None,
                "val_UA": None,
                "val_RA": None,
                "val_gap": None,
                "chosen": None,
                "train_acc": [float(x) for x in doc["accs"]],
                "test_acc": test_acc,
                "status": "ok",
                "error": None,
            }
        )
    return rows


def _forget_sets(files: list[ResultFile], C: int) -> list[dict[str, Any]]:
    """``forget_sets``: one whole-class set per forget class. The files hold no labels, so the members are
    unknown (null); the size and share are CIFAR-10's when the files have its 10 classes."""
    cifar10 = C == 10
    return [
        {
            "forget_set": f"fc{fc}",
            "kind": "class",
            "name": CIFAR10_CLASSES[fc] if cifar10 else f"class {fc}",
            "classes": [fc],
            "fraction": 1 / C if cifar10 else None,
            "draw_seed": None,
            "size": CIFAR10_TRAIN_PER_CLASS if cifar10 else None,
            "members": None,
        }
        for fc in sorted({file.forget_class for file in files})
    ]


def _summary(runs: pa.Table, C: int) -> pa.Table:
    """``summary``: one row per run (one replicate); ``chosen`` null, as in ``runs`` (no validation split)."""
    table = summary_table(runs, C)
    index = table.schema.get_field_index("chosen")
    return table.set_column(index, table.schema.field("chosen"), pa.nulls(len(table), pa.bool_()))


def _kind_and_method(path: Path, doc: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """(type, method id, method display name) of a file; unknown methods ("Custom") are ``external``."""
    kind = TYPES.get(doc["Type"])
    if kind is None:
        raise ConversionError(f"{path}: unknown Type {doc['Type']!r}")
    if kind != "unlearned":
        return kind, None, None
    known = METHODS.get(doc.get("Method"))
    if known:
        return kind, *known
    # "Custom" (uploaded weights) or a method this converter does not know
    raw = _na(doc.get("Method"))
    method = None if raw is None else str(raw).lower().replace(" ", "_")
    return "external", method, "Custom" if raw in (None, "Custom") else str(raw)


def _instances(files: list[ResultFile], C: int) -> pa.Table:
    """``instances`` from each file's ``points``: probabilities at T = 1 from the stored T = 2 ones; the
    forget-class points' entropy and confidence are the upstream's ``attack.values`` where it has them."""
    columns: dict[str, list] = {
        k: []
        for k in ("run_id", "index", "label", "pred", "is_forget", "probs", "entropy", "confidence", "x", "y")
    }
    for _, _, doc, run_id in files:
        values = {int(v["img"]): v for v in (doc.get("attack") or {}).get("values", [])}
        for point in doc["points"]:
            gt, pred, img, forget, x, y, prob = point[:7]
            p1, p2 = convert_probs(prob or {}, C)
            upstream = values.get(int(img)) if forget else None
            if upstream is not None:
                entropy, confidence = float(upstream["entropy"]), float(upstream["confidence"])
            else:
                entropy, confidence = entropy_confidence(p1, p2)
            columns["run_id"].append(run_id)
            columns["index"].append(int(img))
            columns["label"].append(int(gt))
            columns["pred"].append(int(pred))
            columns["is_forget"].append(bool(forget))
            columns["probs"].append(p1.astype(np.float32).tolist())
            columns["entropy"].append(entropy)
            columns["confidence"].append(confidence)
            columns["x"].append(float(x))
            columns["y"].append(float(y))
    return pa.table(
        {
            **{k: v for k, v in columns.items() if k != "probs"},
            "probs": pa.array(columns["probs"], type=pa.list_(pa.float32(), C)),
        }
    )


def _predictions(files: list[ResultFile], C: int) -> pa.Table:
    """``predictions`` from ``label_dist``/``conf_dist`` (train) and ``t_label_dist``/``t_conf_dist`` (test),
    rows ``gt_{true}``, entry ``pred``; a true class missing from either is left out."""
    columns: dict[str, list] = {
        k: [] for k in ("run_id", "split", "true", "pred", "proportion", "mean_confidence")
    }
    for _, _, doc, run_id in files:
        for split, label_key, conf_key in (
            ("train", "label_dist", "conf_dist"),
            ("test", "t_label_dist", "t_conf_dist"),
        ):
            label_dist, conf_dist = doc.get(label_key) or {}, doc.get(conf_key) or {}
            for t in range(C):
                row_p, row_c = label_dist.get(f"gt_{t}"), conf_dist.get(f"gt_{t}")
                if row_p is None or row_c is None:
                    continue
                for p in range(C):
                    columns["run_id"].append(run_id)
                    columns["split"].append(split)
                    columns["true"].append(t)
                    columns["pred"].append(p)
                    columns["proportion"].append(float(row_p[p]))
                    columns["mean_confidence"].append(float(row_c[p]))
    return pa.table(columns)


def _similarity(files: list[ResultFile], layers: list[str]) -> pa.Table:
    """``similarity`` from ``cka`` (reference original) and ``cka_retrain`` (retrained): train/test ×
    forget_class/other_classes, as subset forget/retain; matrix[i][j] is CKA(reference layer i, layer j)."""
    columns: dict[str, list] = {
        k: [] for k in ("run_id", "reference", "split", "subset", "reference_layer", "layer", "cka")
    }
    for _, _, doc, run_id in files:
        for reference, key in (("original", "cka"), ("retrained", "cka_retrain")):
            cka = doc.get(key)
            if not isinstance(cka, dict):
                continue
            names = [str(x) for x in cka.get("layers") or layers]
            for split in ("train", "test"):
                for upstream_subset, subset in (("forget_class", "forget"), ("other_classes", "retain")):
                    matrix = (cka.get(split) or {}).get(upstream_subset)
                    if matrix:
                        append_matrix(columns, run_id, reference, split, subset, names, names, matrix)
    return pa.table(columns)


def _attack(files: list[ResultFile]) -> pa.Table:
    """``attack`` (scope ``subset``: the evaluation subset's forget instances) from ``attack.results``, with
    the challenge's attack score computed from the stored (3-decimal) FPR and FNR."""
    columns: dict[str, list] = {
        k: [] for k in ("run_id", "scope", "metric", "direction", "threshold", "fpr", "fnr", "attack_score")
    }
    for _, _, doc, run_id in files:
        for key, curve in ((doc.get("attack") or {}).get("results") or {}).items():
            metric, _, direction = key.partition("_")
            if metric not in ("entropy", "confidence") or direction not in ("above_unlearn", "above_retrain"):
                continue
            for entry in curve:
                columns["run_id"].append(run_id)
                columns["scope"].append("subset")
                columns["metric"].append(metric)
                columns["direction"].append(direction)
                for name in ("threshold", "fpr", "fnr", "attack_score"):
                    columns[name].append(float(entry[name]))
    challenge = challenge_attack_score(columns["fpr"], columns["fnr"])
    columns["attack_score_challenge"] = np.asarray(challenge).tolist()
    return pa.table(columns)


def _experiment_metadata(
    src_dir: str | Path, files: list[ResultFile], C: int, layers: list[str]
) -> dict[str, Any]:
    """The ``experiment`` metadata of the runs table."""
    return {
        "name": Path(src_dir).resolve().name,
        "title": "Unlearning Comparator: published CIFAR-10 / ResNet-18 results",
        "dataset": "cifar10",
        "dataset_name": "CIFAR-10",
        "model": "resnet18",
        "model_name": "ResNet-18",
        "class_names": CIFAR10_CLASSES if C == 10 else [f"class {i}" for i in range(C)],
        "num_classes": C,
        "channels": 3,
        "image_size": 32,
        "layers": layers,
        "forget_classes": sorted({file.forget_class for file in files}),
        "forget_sets": [
            {
                "id": row["forget_set"],
                "name": row["name"],
                "kind": row["kind"],
                "classes": row["classes"],
                "fraction": row["fraction"],
                "seed": None,
                "size": row["size"],
            }
            for row in _forget_sets(files, C)
        ],
        "seed": UPSTREAM_SEED,
        "seeds": [UPSTREAM_SEED],
        "refused": [],
        "source": "converted from the upstream Unlearning Comparator's result JSON files "
        "(unlearning_comparator.interop.comparator_json)",
        "notes": "instances.probs: T = 1 recovered from the stored T = 2 probabilities (p1 ∝ p2², "
        "renormalised; entries the upstream dropped (≤ 0.001) count as 0). Embeddings are the "
        "upstream's independent, unaligned UMAP fits. MIA_efficacy is not available, so avg_gap "
        "(the literature's mean gap over UA, RA, TA and MIA efficacy) is null. TA is the mean of "
        "the other classes' test accuracies (CIFAR-10's test split has 1,000 images per class). "
        "Attack curves: scope 'subset' only, so PS_challenge is null; attack_score_challenge is "
        "computed from the stored 3-decimal FPR/FNR. No validation split: TUA, TRA and TA are on the "
        "whole test split as the upstream reports them, val_UA, val_RA, val_gap and chosen are null. "
        "Forget sets: one per class (fc<class>); their members are unknown (null): the files hold no labels.",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m unlearning_comparator.interop.comparator_json",
        description="Convert the upstream Unlearning Comparator's result files ({fc}/{ID}.json) into tables.",
    )
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

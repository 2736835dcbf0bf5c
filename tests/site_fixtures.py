"""A synthetic experiment: schema-valid tables with plausible numbers, for the site's fast tests and
benchmark.

``write_experiment(out_dir, forget_classes=3, models_per_class=22)`` writes ``runs``, ``instances``,
``predictions``, ``similarity``, ``attack`` and ``subset`` tables plus ``thumbnails.png`` (random 28×28
grey images in a row-major sprite sheet) into ``out_dir``, the layout of ``results/<exp>/tables/``.

Per forget class it makes the original, the retrained model and ``models_per_class - 2`` unlearned
runs cycling through the built-in methods with a small grid of hyperparameters. Optional extras that
the tests rely on: one failed run per forget class (null metrics, an error text with markup in it) and
one run whose method display name is markup (``EVIL_NAME``), so escaping can be checked. The validation
columns (val_UA, val_RA, val_gap) are drawn near TUA and TRA from a generator of their own, and ``chosen``
marks, per forget class and method, the ok run with the smallest val_gap (ties: RTE, then run_id), as
runs.arrow documents it.

Numbers are made up but behave like the real thing: each model has a forgetting strength ``s`` in
[0, 1] (original 0, retrained 1); the forget-class accuracy, the embedding of the forget instances,
the CKA of late layers on forget data and the per-instance entropy/confidence all move with ``s``.
Attack curves are computed from the per-instance values with the Comparator's ε rule (and the NeurIPS
2023 challenge's, for ``attack_score_challenge``), so the curves match the dots.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
from PIL import Image

from unlearning_comparator.metrics.privacy import challenge_attack_score
from unlearning_comparator.tables import schemas, write_table

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


def _validation_columns(runs: list[dict], rng: np.random.Generator) -> None:
    """val_UA, val_RA, val_gap and chosen of one forget class's runs (in place)."""
    for r in runs:
        if r["status"] == "ok":
            r["val_UA"] = float(np.clip(r["TUA"] + rng.normal(0, 0.02), 0, 1))
            r["val_RA"] = float(np.clip(r["TRA"] + rng.normal(0, 0.01), 0, 1))
    retrained = next(r for r in runs if r["type"] == "retrained")
    retrained["val_UA"] = 0.0
    best: dict[str, tuple] = {}
    for r in runs:
        r["chosen"] = False
        if r["status"] != "ok":
            continue
        r["val_gap"] = (abs(r["val_UA"] - retrained["val_UA"]) + abs(r["val_RA"] - retrained["val_RA"])) / 2
        if r["type"] == "unlearned":
            key = (r["val_gap"], r["RTE"], r["run_id"])
            if r["method"] not in best or key < best[r["method"]][0]:
                best[r["method"]] = (key, r)
    for _, r in best.values():
        r["chosen"] = True


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
) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    C = num_classes
    fcs = list(range(forget_classes)) if isinstance(forget_classes, int) else list(forget_classes)
    class_names = CLASS_NAMES[:C] if C <= len(CLASS_NAMES) else [f"class {i}" for i in range(C)]
    image_size, sprite_columns = 28, 40

    # the fixed evaluation subset: per_class training images per class, class order
    indices = np.concatenate(
        [np.sort(rng.choice(6000, per_class, replace=False)) + 6000 * c for c in range(C)]
    )
    labels = np.repeat(np.arange(C), per_class)
    N = len(indices)
    angle = 2 * np.pi * np.arange(C) / C
    centres = np.stack([np.cos(angle), np.sin(angle)], axis=1) * 8
    base_xy = centres[labels] + rng.normal(0, 1.2, (N, 2))
    base_logits = rng.normal(0, 1, (N, C))
    base_logits[np.arange(N), labels] += 9 + rng.normal(0, 1.5, N)

    runs, inst, preds, sims, atks = [], [], [], [], []
    vrng = np.random.default_rng(seed + 7919)  # the validation columns' own draws: the rest stays as it was
    for fc in fcs:
        forget = labels == fc
        specs = [("original", None, None, 0.0), ("retrained", None, None, 1.0)]
        for k in range(models_per_class - 2):
            mid, mname = METHODS[k % len(METHODS)]
            specs.append(("unlearned", mid, mname, float(rng.uniform(0.2, 1.0))))
        if failed and len(specs) > 3:
            specs[3] = ("failed", specs[3][1], specs[3][2], 0.5)
        if evil and len(specs) > 4:
            specs[4] = ("unlearned", "evil", EVIL_NAME, 0.7)
        retrain_vals = None
        retrain_values: dict[str, np.ndarray] = {}
        per_run_values = []
        for k, (kind, mid, mname, s) in enumerate(specs):
            run_id = {"original": f"fc{fc}-original", "retrained": f"fc{fc}-retrained"}.get(
                kind, f"fc{fc}-{mid}-{k:02d}"
            )
            if mid == "evil":
                run_id = f"fc{fc}-evil<b>-{k:02d}"  # markup in a run id: must show as text everywhere
            epochs = {"original": 30, "retrained": 30}.get(kind, int(rng.choice([2, 3, 5, 8])))
            lr = {"original": 0.1, "retrained": 0.1}.get(kind, float(rng.choice([0.1, 0.01, 0.001])))
            bs = int(rng.choice([64, 128, 256])) if kind in ("unlearned", "failed") else 128
            row = dict(
                run_id=run_id,
                forget_class=fc,
                type="unlearned" if kind == "failed" else kind,
                method=mid,
                method_name=mname,
                base=None if kind in ("original", "retrained") else f"fc{fc}-original",
                seed=seed,
                epochs=epochs,
                lr=lr,
                batch_size=bs,
                hyperparameters=json.dumps(
                    {
                        "epochs": epochs,
                        "lr": lr,
                        "batch_size": bs,
                        **({"alpha": 0.5} if mid == "scrub" else {}),
                    }
                ),
                device="cpu",
            )
            if kind == "failed":
                runs.append(
                    {
                        **row,
                        **{
                            m: None
                            for m in (
                                "UA",
                                "RA",
                                "TUA",
                                "TRA",
                                "TA",
                                "RTE",
                                "PS",
                                "PS_challenge",
                                "MIA_efficacy",
                                "avg_gap",
                                "val_UA",
                                "val_RA",
                                "val_gap",
                            )
                        },
                        "chosen": False,
                        "train_acc": None,
                        "test_acc": None,
                        "status": "failed",
                        "error": 'RuntimeError: loss is <nan> at epoch 2 & the "weights" are not finite',
                    }
                )
                continue
            # per-class accuracies: the forget class falls with s, the others wobble
            tr = np.clip(0.97 + rng.normal(0, 0.015, C), 0, 1)
            te = np.clip(0.90 + rng.normal(0, 0.03, C), 0, 1)
            if kind != "original":
                tr = np.clip(tr - (0.05 * s if kind == "unlearned" else 0) * rng.uniform(0, 1, C), 0, 1)
            tr[fc] = np.clip((1 - s) * 0.99 + (rng.uniform(0, 0.08) if kind == "unlearned" else 0), 0, 1)
            te[fc] = np.clip((1 - s) * 0.9 + (rng.uniform(0, 0.08) if kind == "unlearned" else 0), 0, 1)
            if kind == "retrained":
                tr[fc] = te[fc] = 0.0
            # instances
            logits = base_logits + rng.normal(0, 0.6, (N, C))
            shift = rng.integers(1, C, N)
            other = (labels + shift) % C
            logits[forget, labels[forget]] -= 12 * s
            logits[forget, other[forget]] += 6 * s
            probs = _softmax(logits)
            pred = probs.argmax(1)
            ent = -(_softmax(logits, 2.0) * np.log(_softmax(logits, 2.0) + 1e-45)).sum(1)
            pmax = probs.max(1)
            conf = np.log(pmax + 1e-45) - np.log(1 - pmax + 1e-45)
            xy = base_xy + rng.normal(0, 0.25, (N, 2))
            xy[forget] = (1 - s) * xy[forget] + s * (
                centres[other[forget]] + rng.normal(0, 1.5, (forget.sum(), 2))
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
            per_run_values.append((run_id, kind, ent[forget], conf[forget]))
            if kind == "retrained":
                retrain_values = {"entropy": ent[forget], "confidence": conf[forget]}
            # predictions
            for split, acc in (("train", tr), ("test", te)):
                m = rng.dirichlet(np.ones(C) * 0.5, C) * (1 - acc)[:, None]
                m[np.arange(C), np.arange(C)] = 0
                m = m / np.maximum(m.sum(1, keepdims=True), 1e-12) * (1 - acc)[:, None]
                m[np.arange(C), np.arange(C)] = acc
                conf_m = np.clip(m * 0.9 + 0.01, 0, 1)
                t, p = np.meshgrid(np.arange(C), np.arange(C), indexing="ij")
                preds.append(
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
            # similarity: the full layer x layer matrix per reference model, split and subset
            L = len(LAYERS)
            depth = np.linspace(0, 1, L)
            for ref in ("original", "retrained"):
                d_ref = {"original": s, "retrained": 1 - s}[ref]
                for split in ("train", "test"):
                    for subset in ("forget", "retain"):
                        drop = (0.85 if subset == "forget" else 0.08) * d_ref
                        diag = np.clip(1 - drop * depth**2 - rng.uniform(0, 0.02, L), 0, 1)
                        mat = np.clip(
                            np.minimum.outer(diag, diag)
                            * (1 - 0.5 * np.abs(np.subtract.outer(depth, depth))),
                            0,
                            1,
                        )
                        mat[np.arange(L), np.arange(L)] = diag
                        ri, li = np.meshgrid(np.arange(L), np.arange(L), indexing="ij")
                        sims.append(
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
            runs.append(
                {
                    **row,
                    "UA": float(tr[fc]),
                    "RA": float(np.delete(tr, fc).mean()),
                    "TUA": float(te[fc]),
                    "TRA": float(np.delete(te, fc).mean()),
                    "TA": float(np.delete(te, fc).mean()),  # as if every test class had the same size
                    "RTE": None
                    if kind == "original"
                    else float({"retrained": 900.0}.get(kind, rng.uniform(3, 200))),
                    "PS": None,
                    "PS_challenge": None,
                    "MIA_efficacy": float(np.clip(s * 0.9 + rng.normal(0, 0.05), 0, 1)),
                    "avg_gap": None,
                    "train_acc": tr.tolist(),
                    "test_acc": te.tolist(),
                    "status": "ok",
                    "error": None,
                }
            )
        # attack curves against the retrained model, both scopes
        for run_id, _kind, ent, conf in per_run_values:
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
                            worst_challenge = max(
                                worst_challenge, float(np.nanmax(score_challenge, initial=0.0))
                            )
                        n = len(thr)
                        atks.append(
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
            for r in runs:
                if r["run_id"] == run_id:
                    r["PS"], r["PS_challenge"] = 1.0 - worst, 1.0 - worst_challenge
        retrained = next(r for r in runs if r["forget_class"] == fc and r["type"] == "retrained")
        for r in runs:
            if r["forget_class"] == fc and r["status"] == "ok":
                keys = ("UA", "RA", "TA", "MIA_efficacy")
                r["avg_gap"] = float(np.mean([abs(r[k] - retrained[k]) for k in keys]))
        _validation_columns([r for r in runs if r["forget_class"] == fc], vrng)
        del retrain_vals

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
        "forget_classes": fcs,
        "seed": seed,
        "image_size": image_size,
        "channels": 1,
        "sprite_columns": sprite_columns,
        "subset_per_class": per_class,
    }
    runs_table = pa.Table.from_pylist(runs, schema=sch["runs"]).replace_schema_metadata(
        {b"experiment": json.dumps(meta).encode()}
    )
    write_table(runs_table, out / "runs.arrow", sch["runs"])
    write_table(pa.concat_tables(inst).cast(sch["instances"]), out / "instances.arrow", sch["instances"])
    write_table(
        pa.concat_tables(preds).cast(sch["predictions"]), out / "predictions.arrow", sch["predictions"]
    )
    write_table(pa.concat_tables(sims).cast(sch["similarity"]), out / "similarity.arrow", sch["similarity"])
    write_table(pa.concat_tables(atks).cast(sch["attack"]), out / "attack.arrow", sch["attack"])
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
    return out


if __name__ == "__main__":  # python tests/site_fixtures.py OUT [forget_classes models_per_class]
    import sys

    args = sys.argv[1:]
    write_experiment(args[0], int(args[1]) if len(args) > 1 else 3, int(args[2]) if len(args) > 2 else 22)

"""The upstream Comparator's result files → tables → site."""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from comparator_site import build_site
from comparator_site.data import load
from unlearning_comparator.interop.comparator_json import (
    CIFAR10_CLASSES,
    ConversionError,
    convert,
    convert_probs,
    entropy_confidence,
    main,
)
from unlearning_comparator.tables import TABLES, experiment_metadata, read_table, schemas

# The upstream's published result files (gnueaj/Machine-Unlearning-Comparator, backend/data, e.g. at commit
# 0e3ce99d: {fc}/{ID}.json for forget classes 0-6) are not in this repository; point this variable at a
# folder of them to run the tests on the real files.
REAL_ENV = "UC_UPSTREAM_DATA"
LAYERS = [
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


def _curve(scale: float, variant: int = 0) -> list[dict]:
    """51 thresholds; ``variant`` (0-3) makes each metric/direction's curve a different one."""
    out = []
    for k in range(51):
        t = round(k * 0.05, 2)
        fpr = max(0.0, 1 - t / 2.5) * (1 - 0.05 * variant)
        fnr = min(1.0, t / 2.5 * (1 - scale))
        out.append(
            {
                "threshold": t,
                "fpr": round(fpr, 3),
                "fnr": round(fnr, 3),
                "attack_score": round(scale * (1 - 0.1 * variant) * math.sin(math.pi * k / 50), 3),
            }
        )
    return out


def upstream_file(
    fc: int, rid: str, kind: str, method: str = "N/A", per_class: int = 4, seed: int = 0
) -> dict:
    """A small file in the upstream format (the upstream's backend/data/{fc}/{ID}.json): ``per_class``
    points per class."""
    rng = np.random.default_rng(seed)
    C = 10
    # per-class accuracies that differ between classes (the same spread, summing to 0 over the other
    # classes, in every file: the other classes' means stay 0.96 and 0.95)
    spread = iter([0.03, -0.03, 0.02, -0.02, 0.01, -0.01, 0.004, -0.004, 0.0])
    accs, t_accs = [0.0] * C, [0.0] * C
    for c in range(C):
        if c != fc:
            d = next(spread)
            accs[c], t_accs[c] = 0.96 + d, 0.95 - d
    accs[fc], t_accs[fc] = {"Original": (1.0, 0.95), "Retrained": (0.0, 0.0)}.get(kind, (0.3, 0.3))

    def dist(salt: int) -> dict:  # a row-stochastic matrix per true class, different per key
        r = np.random.default_rng(seed * 100 + salt).dirichlet(np.ones(C), C)
        return {f"gt_{i}": [round(float(x), 3) for x in r[i]] for i in range(C)}

    def cka_m(salt: int) -> list:  # not symmetric: matrix[i][j] is CKA(reference layer i, model layer j)
        r = np.random.default_rng(seed * 100 + salt).uniform(0, 1, (10, 10))
        return [[round(float(x), 3) for x in row] for row in r]

    def cka_of(salt: int) -> dict:
        return {
            "layers": LAYERS,
            "train": {"forget_class": cka_m(salt), "other_classes": cka_m(salt + 1)},
            "test": {"forget_class": cka_m(salt + 2), "other_classes": cka_m(salt + 3)},
        }

    points, values = [], []
    for c in range(C):
        for k in range(per_class):
            img = 1000 * c + k
            # every other point is misclassified (all of the forget class once it is unlearned), so that the
            # true class and the prediction differ in many points
            wrong = (c + 1 + k) % C
            pred = wrong if (c == fc and kind != "Original") or k % 2 == 1 else c
            prob = {str(j): 0.01 for j in range(C) if j != pred}
            prob[str(pred)] = 0.91
            points.append(
                [
                    c,
                    pred,
                    img,
                    int(c == fc),
                    round(float(rng.normal()), 2),
                    round(float(rng.normal()), 2),
                    prob,
                ]
            )
            if c == fc:
                values.append(
                    {
                        "img": img,
                        "entropy": round(float(rng.uniform(0, 2)), 2),
                        "confidence": round(float(rng.uniform(-2, 9)), 2),
                    }
                )
    scale = 0.0 if kind == "Retrained" else 0.6
    return {
        "CreatedAt": "1970-01-01 00:00:00",
        "ID": rid,
        "FC": fc,
        "Type": kind,
        "Base": "N/A" if kind != "Unlearned" else f"000{fc}",
        "Method": method,
        "Epoch": 5 if kind == "Unlearned" else 200,
        "BS": 128,
        "LR": 0.01 if kind == "Unlearned" else 0.1,
        "UA": accs[fc],
        "RA": 0.96,
        "TUA": t_accs[fc],
        "TRA": 0.95,
        "RTE": "N/A" if kind == "Original" else 12.5,
        "FQS": "N/A" if kind == "Original" else (1.0 if kind == "Retrained" else 0.4),
        "accs": accs,
        "label_dist": dist(1),
        "conf_dist": dist(2),
        "t_accs": t_accs,
        "t_label_dist": dist(3),
        "t_conf_dist": dist(4),
        "cka": cka_of(10),
        "cka_retrain": None if kind == "Original" else cka_of(20),
        "points": points,
        "attack": {
            "values": values,
            "results": {
                f"{m}_{d}": _curve(scale, 2 * i + j)
                for i, m in enumerate(("entropy", "confidence"))
                for j, d in enumerate(("above_unlearn", "above_retrain"))
            },
        },
    }


@pytest.fixture
def upstream(tmp_path) -> Path:
    src = tmp_path / "upstream"
    for fc in (0, 3):
        (src / str(fc)).mkdir(parents=True)
        files = [
            upstream_file(fc, f"000{fc}", "Original"),
            upstream_file(fc, f"a00{fc}", "Retrained"),
            upstream_file(fc, "3f9a", "Unlearned", "GradientAscent", seed=fc),
        ]
        if fc == 3:
            files.append(upstream_file(fc, "c0de", "Unlearned", "Custom", seed=9))
        for doc in files:
            (src / str(fc) / f"{doc['ID']}.json").write_text(json.dumps(doc))
    return src


def test_probabilities_go_from_t2_to_t1():
    z = np.array([4.0, 1.0, -2.0, 0.5])
    p2 = np.exp(z / 2) / np.exp(z / 2).sum()
    p1 = np.exp(z) / np.exp(z).sum()
    got1, got2 = convert_probs({str(i): float(v) for i, v in enumerate(p2)}, 4)
    assert np.allclose(got1, p1, atol=1e-9) and np.allclose(got2, p2)
    # truncated entries (upstream drops p <= 0.001) count as 0 and the rest is renormalised
    got1, got2 = convert_probs({"0": 0.9, "2": 0.05}, 4)
    assert got1[1] == 0 and got1[3] == 0 and math.isclose(got1.sum(), 1) and got1[0] > 0.99
    entropy, confidence = entropy_confidence(got1, got2)
    assert 0 < entropy < math.log(4) and confidence > 3


def test_convert_small_files(upstream, tmp_path):
    out = tmp_path / "tables"
    counts = convert(upstream, out)
    assert counts["runs"] == 7
    sch = schemas(10)
    for name in TABLES:
        t = read_table(out / f"{name}.arrow")
        assert t.schema.remove_metadata() == sch[name].remove_metadata(), name
    assert not (out / "subset.arrow").exists() and not (out / "thumbnails.png").exists()
    runs = read_table(out / "runs.arrow")
    meta = experiment_metadata(runs.schema)
    assert meta["class_names"] == CIFAR10_CLASSES and meta["layers"] == LAYERS
    assert (
        meta["dataset_name"] == "CIFAR-10"
        and meta["model_name"] == "ResNet-18"
        and meta["forget_classes"] == [0, 3]
    )
    rows = {r["run_id"]: r for r in runs.to_pylist()}
    assert (
        rows["0000"]["type"] == "original" and rows["0000"]["method"] is None and rows["0000"]["PS"] is None
    )
    assert rows["a003"]["type"] == "retrained" and rows["a003"]["PS"] == 1.0 and rows["a003"]["RTE"] == 12.5
    # the same upstream ID in two forget classes gets the class as a prefix
    assert {"0-3f9a", "3-3f9a"} <= set(rows)
    ga = rows["3-3f9a"]
    assert (ga["type"], ga["method"], ga["method_name"], ga["PS"]) == (
        "unlearned",
        "ga",
        "Gradient Ascent",
        0.4,
    )
    assert json.loads(ga["hyperparameters"]) == {"epochs": 5, "lr": 0.01, "batch_size": 128}
    assert rows["c0de"]["type"] == "external" and rows["c0de"]["method_name"] == "Custom"
    # no MIA efficacy upstream: the literature's Avg. Gap is unknown; TA is the other classes' mean t_acc
    assert (
        ga["train_acc"][3] == pytest.approx(0.3) and ga["avg_gap"] is None and ga["TA"] == pytest.approx(0.95)
    )
    assert all(r["status"] == "ok" and r["MIA_efficacy"] is None for r in rows.values())
    # no validation split upstream: the test metrics stay as imported, nothing is chosen
    assert ga["TUA"] == pytest.approx(float(json.loads((upstream / "3" / "3f9a.json").read_text())["TUA"]))
    assert all(
        r["chosen"] is None and r["val_UA"] is None and r["val_RA"] is None and r["val_gap"] is None
        for r in rows.values()
    )
    inst = read_table(out / "instances.arrow")
    assert inst.num_rows == 7 * 40
    first = inst.slice(0, 1).to_pylist()[0]
    assert math.isclose(sum(first["probs"]), 1, abs_tol=1e-5)
    # the forget points' entropy/confidence are the upstream's attack values
    doc = json.loads((upstream / "0" / "0000.json").read_text())
    forget = [r for r in inst.to_pylist() if r["run_id"] == "0000" and r["is_forget"]]
    assert [round(r["entropy"], 2) for r in forget] == [v["entropy"] for v in doc["attack"]["values"]]
    sim = read_table(out / "similarity.arrow").to_pylist()
    assert {r["reference"] for r in sim if r["run_id"] == "0000"} == {"original"}  # cka_retrain is null there
    assert {(r["split"], r["subset"]) for r in sim} == {
        (s, b) for s in ("train", "test") for b in ("forget", "retain")
    }
    attack = read_table(out / "attack.arrow").to_pylist()
    assert {r["scope"] for r in attack} == {"subset"} and len(attack) == 7 * 4 * 51
    preds = read_table(out / "predictions.arrow")
    assert preds.num_rows == 7 * 2 * 100


def test_converted_files_have_forget_sets_and_a_summary(upstream, tmp_path):
    """Upstream imports: each forget class is the one-class forget set fc<class>; a run is its own setting
    (one replicate); the forget_sets table lists the classes (members unknown: the files hold no labels)
    and the summary has one row per run with n = 1 and no spread."""
    out = tmp_path / "tables"
    convert(upstream, out)
    runs = read_table(out / "runs.arrow").to_pylist()
    assert all(r["forget_set"] == f"fc{r['forget_class']}" and r["setting_id"] == r["run_id"] for r in runs)
    sets = read_table(out / "forget_sets.arrow").to_pylist()
    assert [(s["forget_set"], s["kind"], s["name"], s["classes"]) for s in sets] == [
        ("fc0", "class", "airplane", [0]),
        ("fc3", "class", "cat", [3]),
    ]
    assert all(s["members"] is None and s["size"] == 5000 and s["fraction"] == 0.1 for s in sets)
    meta = experiment_metadata(read_table(out / "runs.arrow").schema)
    assert [f["id"] for f in meta["forget_sets"]] == ["fc0", "fc3"] and meta["seeds"] == [2048]
    assert meta["refused"] == []
    summary = {r["setting_id"]: r for r in read_table(out / "summary.arrow").to_pylist()}
    assert set(summary) == {r["run_id"] for r in runs}
    for r in runs:
        row = summary[r["run_id"]]
        assert row["n"] == row["n_ok"] == 1 and row["chosen"] is None and row["UA_std"] is None
        assert row["UA_mean"] == r["UA"] and row["forget_set"] == r["forget_set"]


def test_converted_files_render(upstream, tmp_path):
    convert(upstream, tmp_path / "tables")
    index = build_site(tmp_path / "tables", tmp_path / "site")
    data = load(tmp_path / "tables")
    assert data.forget_classes == [0, 3] and data.sprite_png is None and len(data.subset_index) == 40
    assert data.class_names[3] == "cat"
    text = index.read_text(encoding="utf-8")
    assert "Unlearning Comparator: published CIFAR-10 / ResNet-18 results" in text
    # no run is chosen: "Best of each method" is disabled, and no run carries the star
    from comparator_site import build_document

    doc = build_document(data)
    assert doc.select_one({"name": "tbl_best"}).disabled
    assert not any(doc.select_one({"name": "st_runs"}).data["chosen"])


def test_cli_and_errors(upstream, tmp_path, capsys):
    assert main([str(upstream), str(tmp_path / "t")]) == 0
    assert "runs (7 rows)" in capsys.readouterr().out
    assert main([str(tmp_path / "nothing"), str(tmp_path / "t2")]) == 2
    assert "not a folder" in capsys.readouterr().err
    bad = tmp_path / "bad" / "0"
    bad.mkdir(parents=True)
    (bad / "0000.json").write_text('{"ID": "0000"}')
    with pytest.raises(ConversionError, match="lacks the upstream keys"):
        convert(bad.parent, tmp_path / "t3")


def check_tables_against_files(src: Path, out: Path) -> int:
    """Every upstream file under ``src`` against the tables converted into ``out``, value by value (the
    expected values are read from the JSON here): each point's instances row (label = gt, pred = pred,
    index = img, is_forget = forget flag, x, y, argmax of probs = the point's argmax), predictions =
    label_dist/conf_dist (train) and t_label_dist/t_conf_dist (test), train_acc/test_acc = accs/t_accs,
    similarity = cka/cka_retrain (matrix[i][j] = CKA(reference layer i, model layer j)) and the attack
    curves. Returns the number of points checked."""
    docs = [
        json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(src.glob("*/*.json"))
        if path.parent.name.lstrip("-").isdigit()
    ]
    docs = [d for d in docs if d["FC"] not in ("N/A", None)]
    ids = [d["ID"] for d in docs]

    def run_id(doc):  # an ID that two forget classes share gets the class as a prefix
        return f"{doc['FC']}-{doc['ID']}" if ids.count(doc["ID"]) > 1 else str(doc["ID"])

    runs = {r["run_id"]: r for r in read_table(out / "runs.arrow").to_pylist()}
    assert set(runs) == {run_id(d) for d in docs}
    inst = defaultdict(dict)
    for r in read_table(out / "instances.arrow").to_pylist():
        assert r["index"] not in inst[r["run_id"]], (
            "two instances rows of one image",
            r["run_id"],
            r["index"],
        )
        inst[r["run_id"]][r["index"]] = r
    preds = {
        (r["run_id"], r["split"], r["true"], r["pred"]): r
        for r in read_table(out / "predictions.arrow").to_pylist()
    }
    sims = {
        (r["run_id"], r["reference"], r["split"], r["subset"], r["reference_layer"], r["layer"]): r["cka"]
        for r in read_table(out / "similarity.arrow").to_pylist()
    }
    atks = {
        (r["run_id"], r["metric"], r["direction"], r["threshold"]): r
        for r in read_table(out / "attack.arrow").to_pylist()
    }
    n_points = n_preds = n_sims = n_atks = 0
    for doc in docs:
        rid = run_id(doc)
        run = runs[rid]
        assert run["forget_class"] == doc["FC"]
        assert run["train_acc"] == [float(x) for x in doc["accs"]], rid
        assert run["test_acc"] == [float(x) for x in doc["t_accs"]], rid
        rows = inst[rid]
        assert len(rows) == len(doc["points"]), rid
        for gt, pred, img, forget, x, y, prob in (p[:7] for p in doc["points"]):
            row = rows[img]
            assert (row["index"], row["label"], row["pred"], row["is_forget"]) == (
                img,
                gt,
                pred,
                bool(forget),
            ), (rid, img)
            assert (row["x"], row["y"]) == (np.float32(x), np.float32(y)), (rid, img)
            top = max(prob.values())
            assert str(int(np.argmax(row["probs"]))) in {k for k, v in prob.items() if v == top}, (rid, img)
            n_points += 1
        for split, label_key, conf_key in (
            ("train", "label_dist", "conf_dist"),
            ("test", "t_label_dist", "t_conf_dist"),
        ):
            for key, proportions in doc[label_key].items():
                t = int(key.removeprefix("gt_"))
                for p, proportion in enumerate(proportions):
                    row = preds[(rid, split, t, p)]
                    assert (
                        row["proportion"] == proportion and row["mean_confidence"] == doc[conf_key][key][p]
                    ), (rid, split, t, p)
                    n_preds += 1
        for reference, key in (("original", "cka"), ("retrained", "cka_retrain")):
            cka = doc.get(key)
            if not cka:
                assert not any(k[0] == rid and k[1] == reference for k in sims), (rid, reference)
                continue
            layers = cka["layers"]
            for split in ("train", "test"):
                for upstream_subset, subset in (("forget_class", "forget"), ("other_classes", "retain")):
                    for i, line in enumerate(cka[split][upstream_subset]):
                        for j, value in enumerate(line):
                            assert sims[(rid, reference, split, subset, layers[i], layers[j])] == value, (
                                rid,
                                reference,
                                split,
                                subset,
                                i,
                                j,
                            )
                            n_sims += 1
        for key, curve in doc["attack"]["results"].items():
            metric, _, direction = key.partition("_")
            for e in curve:
                row = atks[(rid, metric, direction, e["threshold"])]
                assert (row["scope"], row["fpr"], row["fnr"], row["attack_score"]) == (
                    "subset",
                    e["fpr"],
                    e["fnr"],
                    e["attack_score"],
                ), (rid, key, e["threshold"])
                n_atks += 1
    assert n_preds == len(preds) and n_sims == len(sims) and n_atks == len(atks)
    assert sum(len(v) for v in inst.values()) == n_points
    return n_points


def test_every_point_becomes_its_instances_row(upstream, tmp_path):
    # the synthetic files would show a swap: many points are misclassified, and the two splits' and the two
    # references' values differ
    points = [p for path in upstream.glob("*/*.json") for p in json.loads(path.read_text())["points"]]
    assert sum(p[0] != p[1] for p in points) >= len(points) // 2
    doc = json.loads((upstream / "3" / "3f9a.json").read_text())
    assert doc["label_dist"] != doc["t_label_dist"] and doc["label_dist"] != doc["conf_dist"]
    assert doc["cka"]["train"]["forget_class"] != doc["cka_retrain"]["train"]["forget_class"]
    assert len(set(doc["accs"])) >= 9 and doc["accs"] != doc["t_accs"]
    convert(upstream, tmp_path / "tables")
    assert check_tables_against_files(upstream, tmp_path / "tables") == len(points)


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> tuple[Path, Path]:
    """(the upstream's published files, the tables converted from them); skips unless UC_UPSTREAM_DATA
    is set."""
    value = os.environ.get(REAL_ENV)
    if not value:
        pytest.skip(
            f"{REAL_ENV} is not set: set it to a folder of the upstream Comparator's published result files "
            f"({{fc}}/{{ID}}.json, from gnueaj/Machine-Unlearning-Comparator backend/data) to run this test"
        )
    src = Path(value)
    if not src.is_dir():
        pytest.fail(f"{REAL_ENV}={value} is not a folder")
    out = tmp_path_factory.mktemp("real") / "tables"
    convert(src, out)
    return src, out


def test_real_upstream_files_point_by_point(real):
    src, out = real
    assert check_tables_against_files(src, out) == 28000


def test_real_upstream_files(real, tmp_path):
    _, tables = real
    counts = {name: read_table(tables / f"{name}.arrow").num_rows for name in TABLES}
    assert counts == {
        "runs": 14,
        "instances": 28000,
        "predictions": 2800,
        "similarity": 11200,
        "attack": 2856,
    }
    runs = {r["run_id"]: r for r in read_table(tables / "runs.arrow").to_pylist()}
    # values as shipped in the published files
    assert (runs["0000"]["UA"], runs["0000"]["TUA"], runs["0000"]["TRA"]) == (1.0, 0.96, 0.953)
    assert (runs["a000"]["UA"], runs["a000"]["TRA"], runs["a000"]["RTE"], runs["a000"]["PS"]) == (
        0.0,
        0.958,
        3519.4,
        1.0,
    )
    assert runs["a001"]["test_acc"][1] == 0.0 and runs["a001"]["test_acc"][9] == 0.984
    data = load(tables)
    assert data.forget_classes == list(range(7)) and data.layers == LAYERS
    # the stored subset attack curves of 0000 peak at 0.725 (confidence_above_unlearn, threshold 6.5)
    attack = read_table(tables / "attack.arrow").to_pylist()
    best = max((r for r in attack if r["run_id"] == "0000"), key=lambda r: r["attack_score"])
    assert (best["metric"], best["direction"], best["threshold"], best["attack_score"]) == (
        "confidence",
        "above_unlearn",
        6.5,
        0.725,
    )
    inst = [r for r in read_table(tables / "instances.arrow").to_pylist() if r["run_id"] == "a000"]
    assert inst[0]["index"] == 11356 and inst[0]["pred"] == 2
    assert np.argmax(inst[0]["probs"]) == 2
    text = build_site(tables, tmp_path / "site").read_text(encoding="utf-8")
    assert all(f"Forget: {name}" in text for name in CIFAR10_CLASSES[:7])

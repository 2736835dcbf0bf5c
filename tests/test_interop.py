"""The upstream Comparator's result files → tables → site."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from comparator_site import build_site
from comparator_site.data import load
from unlearning_comparator.interop.comparator_json import (CIFAR10_CLASSES, ConversionError, convert,
                                                           convert_probs, entropy_confidence, main)
from unlearning_comparator.tables import experiment_metadata, read_table, schemas

REAL = Path("/work/shared/data/comparator-cifar10-resnet18")
LAYERS = ["conv1", "layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0", "layer3.1", "layer4.0", "layer4.1", "fc"]


def _curve(scale: float) -> list[dict]:
    out = []
    for k in range(51):
        t = round(k * 0.05, 2)
        fpr = max(0.0, 1 - t / 2.5)
        fnr = min(1.0, t / 2.5 * (1 - scale))
        out.append({"threshold": t, "fpr": round(fpr, 3), "fnr": round(fnr, 3),
                    "attack_score": round(scale * math.sin(math.pi * k / 50), 3)})
    return out


def upstream_file(fc: int, rid: str, kind: str, method: str = "N/A", per_class: int = 4, seed: int = 0) -> dict:
    """A small file in the upstream format (reference §6): ``per_class`` points per class."""
    rng = np.random.default_rng(seed)
    C = 10
    accs = [1.0] * C
    t_accs = [0.95] * C
    if kind != "Original":
        accs[fc] = t_accs[fc] = 0.0 if kind == "Retrained" else 0.3
    dist = {f"gt_{i}": [1.0 if j == i else 0.0 for j in range(C)] for i in range(C)}
    cka_m = [[round(1 - abs(i - j) * 0.05, 3) for j in range(10)] for i in range(10)]
    cka = {"layers": LAYERS, "train": {"forget_class": cka_m, "other_classes": cka_m},
           "test": {"forget_class": cka_m, "other_classes": cka_m}}
    points, values = [], []
    for c in range(C):
        for k in range(per_class):
            img = 1000 * c + k
            pred = c if not (c == fc and kind != "Original") else (c + 1) % C
            prob = {str(j): 0.01 for j in range(C) if j != pred}
            prob[str(pred)] = 0.91
            points.append([c, pred, img, int(c == fc), round(float(rng.normal()), 2), round(float(rng.normal()), 2), prob])
            if c == fc:
                values.append({"img": img, "entropy": round(float(rng.uniform(0, 2)), 2),
                               "confidence": round(float(rng.uniform(-2, 9)), 2)})
    scale = 0.0 if kind == "Retrained" else 0.6
    return {
        "CreatedAt": "1970-01-01 00:00:00", "ID": rid, "FC": fc, "Type": kind, "Base": "N/A" if kind != "Unlearned" else f"000{fc}",
        "Method": method, "Epoch": 5 if kind == "Unlearned" else 200, "BS": 128, "LR": 0.01 if kind == "Unlearned" else 0.1,
        "UA": accs[fc], "RA": 1.0, "TUA": t_accs[fc], "TRA": 0.95, "RTE": "N/A" if kind == "Original" else 12.5,
        "FQS": "N/A" if kind == "Original" else (1.0 if kind == "Retrained" else 0.4),
        "accs": accs, "label_dist": dist, "conf_dist": dist, "t_accs": t_accs, "t_label_dist": dist, "t_conf_dist": dist,
        "cka": cka, "cka_retrain": None if kind == "Original" else cka, "points": points,
        "attack": {"values": values, "results": {f"{m}_{d}": _curve(scale) for m in ("entropy", "confidence")
                                                 for d in ("above_unlearn", "above_retrain")}},
    }


@pytest.fixture
def upstream(tmp_path) -> Path:
    src = tmp_path / "upstream"
    for fc in (0, 3):
        (src / str(fc)).mkdir(parents=True)
        files = [upstream_file(fc, f"000{fc}", "Original"), upstream_file(fc, f"a00{fc}", "Retrained"),
                 upstream_file(fc, "3f9a", "Unlearned", "GradientAscent", seed=fc)]
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
    for name in ("runs", "instances", "predictions", "similarity", "attack"):
        t = read_table(out / f"{name}.arrow")
        assert t.schema.remove_metadata() == sch[name].remove_metadata(), name
    assert not (out / "subset.arrow").exists() and not (out / "thumbnails.png").exists()
    runs = read_table(out / "runs.arrow")
    meta = experiment_metadata(runs.schema)
    assert meta["class_names"] == CIFAR10_CLASSES and meta["layers"] == LAYERS
    assert meta["dataset_name"] == "CIFAR-10" and meta["model_name"] == "ResNet-18" and meta["forget_classes"] == [0, 3]
    rows = {r["run_id"]: r for r in runs.to_pylist()}
    assert rows["0000"]["type"] == "original" and rows["0000"]["method"] is None and rows["0000"]["PS"] is None
    assert rows["a003"]["type"] == "retrained" and rows["a003"]["PS"] == 1.0 and rows["a003"]["RTE"] == 12.5
    # the same upstream ID in two forget classes gets the class as a prefix
    assert {"0-3f9a", "3-3f9a"} <= set(rows)
    ga = rows["3-3f9a"]
    assert (ga["type"], ga["method"], ga["method_name"], ga["PS"]) == ("unlearned", "ga", "Gradient Ascent", 0.4)
    assert json.loads(ga["hyperparameters"]) == {"epochs": 5, "lr": 0.01, "batch_size": 128}
    assert rows["c0de"]["type"] == "external" and rows["c0de"]["method_name"] == "Custom"
    assert ga["train_acc"][3] == pytest.approx(0.3) and ga["avg_gap"] == pytest.approx((0.3 + 0 + 0.3 + 0) / 4)
    assert all(r["status"] == "ok" and r["MIA_efficacy"] is None for r in rows.values())
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
    assert {(r["split"], r["subset"]) for r in sim} == {(s, b) for s in ("train", "test") for b in ("forget", "retain")}
    attack = read_table(out / "attack.arrow").to_pylist()
    assert {r["scope"] for r in attack} == {"subset"} and len(attack) == 7 * 4 * 51
    preds = read_table(out / "predictions.arrow")
    assert preds.num_rows == 7 * 2 * 100


def test_converted_files_render(upstream, tmp_path):
    convert(upstream, tmp_path / "tables")
    index = build_site(tmp_path / "tables", tmp_path / "site")
    data = load(tmp_path / "tables")
    assert data.forget_classes == [0, 3] and data.sprite_png is None and len(data.subset_index) == 40
    assert data.class_names[3] == "cat"
    text = index.read_text(encoding="utf-8")
    assert "Unlearning Comparator: published CIFAR-10 / ResNet-18 results" in text


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


@pytest.mark.skipif(not REAL.is_dir(), reason=f"{REAL} (the upstream's published files) is not on this machine")
def test_real_upstream_files(tmp_path):
    counts = convert(REAL, tmp_path / "tables")
    assert counts == {"runs": 14, "instances": 28000, "predictions": 2800, "similarity": 11200, "attack": 2856}
    runs = {r["run_id"]: r for r in read_table(tmp_path / "tables" / "runs.arrow").to_pylist()}
    # reference §6's table of shipped values
    assert (runs["0000"]["UA"], runs["0000"]["TUA"], runs["0000"]["TRA"]) == (1.0, 0.96, 0.953)
    assert (runs["a000"]["UA"], runs["a000"]["TRA"], runs["a000"]["RTE"], runs["a000"]["PS"]) == (0.0, 0.958, 3519.4, 1.0)
    assert runs["a001"]["test_acc"][1] == 0.0 and runs["a001"]["test_acc"][9] == 0.984
    data = load(tmp_path / "tables")
    assert data.forget_classes == list(range(7)) and data.layers == LAYERS
    # the stored subset attack curves of 0000 peak at 0.725 (confidence_above_unlearn, threshold 6.5)
    attack = read_table(tmp_path / "tables" / "attack.arrow").to_pylist()
    best = max((r for r in attack if r["run_id"] == "0000"), key=lambda r: r["attack_score"])
    assert (best["metric"], best["direction"], best["threshold"], best["attack_score"]) == \
        ("confidence", "above_unlearn", 6.5, 0.725)
    inst = [r for r in read_table(tmp_path / "tables" / "instances.arrow").to_pylist() if r["run_id"] == "a000"]
    assert inst[0]["index"] == 11356 and inst[0]["pred"] == 2
    assert np.argmax(inst[0]["probs"]) == 2
    text = build_site(tmp_path / "tables", tmp_path / "site").read_text(encoding="utf-8")
    assert all(f"Forget: {name}" in text for name in CIFAR10_CLASSES[:7])

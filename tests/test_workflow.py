"""The whole workflow on a tiny config (real Fashion-MNIST images, 100 per class): every table and the
properties the issues promise, failures recorded per run, and determinism across two runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import BROKEN_METHODS, EXTERNAL_MODELS, TABLES, read_tables, run_tiny
from unlearning_comparator.metrics.privacy import attack_score

pytestmark = pytest.mark.slow

def rows(table):
    return table.to_pylist()


@pytest.fixture(scope="module")
def tiny(tiny_run):
    return tiny_run[1]


def test_every_model_has_a_row(tiny):
    runs = rows(tiny["runs"])
    for fc in (1, 3):
        mine = [r for r in runs if r["forget_class"] == fc]
        types = [r["type"] for r in mine]
        assert types.count("original") == 1 and types.count("retrained") == 1
        assert sorted(r["method"] for r in mine if r["type"] == "unlearned") == sorted(
            ["ft", "ga", "rl", "scrub", "salun", *BROKEN_METHODS])
    external = {r["run_id"]: r for r in runs if r["type"] == "external"}
    assert set(external) == {f"fc{e['forget_class']}-external-{name}" for name, e in EXTERNAL_MODELS.items()}
    assert len({r["run_id"] for r in runs}) == len(runs)


def test_broken_methods_are_recorded_as_failed_and_the_rest_complete(tiny):
    runs = rows(tiny["runs"])
    for r in runs:
        if r["method"] in BROKEN_METHODS or r["run_id"].endswith("external-evil"):
            assert r["status"] == "failed" and r["UA"] is None
        else:
            assert r["status"] == "ok", r["error"]
            assert r["error"] is None
    errors = {r["method"]: r["error"] for r in runs if r["status"] == "failed"}
    assert "this method always fails" in errors["raises"]
    assert "not finite" in errors["nan_weights"]
    assert "a_module_that_does_not_exist" in errors["bad_import"]
    # an external checkpoint that carries code is refused (weights_only loading), a plain one is evaluated
    evil = next(r for r in runs if r["run_id"].endswith("external-evil"))
    assert "run code" in evil["error"] and "evil.pt" in evil["error"]
    good = next(r for r in runs if r["run_id"].endswith("external-plain"))
    assert good["status"] == "ok" and good["method_name"] == "Uploaded <b>model</b>"


def test_accuracies_agree_with_per_class_accuracies(tiny):
    for r in rows(tiny["runs"]):
        if r["status"] != "ok":
            continue
        fc, train, test = r["forget_class"], r["train_acc"], r["test_acc"]
        assert len(train) == len(test) == 10
        assert r["UA"] == pytest.approx(train[fc]) and r["TUA"] == pytest.approx(test[fc])
        assert r["RA"] == pytest.approx(np.mean([a for c, a in enumerate(train) if c != fc]))
        assert r["TRA"] == pytest.approx(np.mean([a for c, a in enumerate(test) if c != fc]))
        assert all(0 <= a <= 1 for a in train + test)


def test_retrained_models_forget_and_methods_lower_forget_accuracy(tiny):
    runs = rows(tiny["runs"])
    for fc in (1, 3):
        mine = {(r["type"], r["method"]): r for r in runs if r["forget_class"] == fc}
        original, retrained = mine[("original", None)], mine[("retrained", None)]
        assert retrained["UA"] == 0.0 and retrained["TUA"] == 0.0
        assert original["UA"] > 0.5
        lowered = [m for m in ("ga", "rl", "salun") if mine[("unlearned", m)]["UA"] < original["UA"] - 0.1]
        assert len(lowered) >= 2, lowered
        assert retrained["RTE"] > 0 and original["RTE"] is None
        assert retrained["avg_gap"] == 0.0 and retrained["PS"] == 1.0
        assert original["PS"] < 0.9


def test_every_run_has_the_same_subset_instances(tiny):
    inst = tiny["instances"]
    by_run = {}
    for run_id, index in zip(inst.column("run_id").to_pylist(), inst.column("index").to_pylist()):
        by_run.setdefault(run_id, []).append(index)
    ok_runs = {r["run_id"] for r in rows(tiny["runs"]) if r["status"] == "ok"}
    assert set(by_run) == ok_runs
    subsets = {tuple(v) for v in by_run.values()}
    assert len(subsets) == 1 and len(next(iter(subsets))) == 200


def test_instance_columns_follow_their_definitions(tiny):
    inst = tiny["instances"]
    probs = inst.column("probs").combine_chunks().flatten().to_numpy().reshape(len(inst), 10).astype(np.float64)
    assert np.allclose(probs.sum(1), 1, atol=1e-5)
    assert np.array_equal(inst.column("pred").to_numpy(), probs.argmax(1))
    # entropy at T = 2: softmax(z/2) is proportional to sqrt(softmax(z))
    p2 = np.sqrt(probs)
    p2 /= p2.sum(1, keepdims=True)
    entropy = -(p2 * np.log(np.clip(p2, 1e-300, None))).sum(1)
    assert np.allclose(inst.column("entropy").to_numpy(), entropy, atol=2e-3)
    pmax = probs.max(1)
    keep = pmax < 0.999  # beyond that the float32 probabilities lose the precision the float64 column keeps
    confidence = np.log(pmax[keep]) - np.log(1 - pmax[keep])
    assert np.allclose(inst.column("confidence").to_numpy()[keep], confidence, atol=2e-3)
    is_forget = inst.column("is_forget").to_numpy(zero_copy_only=False)
    labels = inst.column("label").to_numpy()
    run_fc = {r["run_id"]: r["forget_class"] for r in rows(tiny["runs"])}
    fcs = np.array([run_fc[r] for r in inst.column("run_id").to_pylist()])
    assert np.array_equal(is_forget, labels == fcs)


def test_attack_scores_match_the_epsilon_formula_and_ps(tiny):
    attack = tiny["attack"]
    fpr, fnr = attack.column("fpr").to_numpy(), attack.column("fnr").to_numpy()
    assert np.allclose(attack.column("attack_score").to_numpy(), attack_score(fpr, fnr), atol=1e-12)
    worst = {}
    for run_id, scope, score in zip(attack.column("run_id").to_pylist(), attack.column("scope").to_pylist(),
                                    attack.column("attack_score").to_pylist()):
        if scope == "forget_set":
            worst[run_id] = max(worst.get(run_id, 0.0), score)
    for r in rows(tiny["runs"]):
        if r["status"] == "ok":
            assert r["PS"] == pytest.approx(1 - worst[r["run_id"]])
    counts = {}
    for key in zip(attack.column("run_id").to_pylist(), attack.column("scope").to_pylist(),
                   attack.column("metric").to_pylist(), attack.column("direction").to_pylist()):
        counts[key] = counts.get(key, 0) + 1
    assert set(counts.values()) == {51}


def test_prediction_matrix_rows_sum_to_one(tiny):
    pred = tiny["predictions"]
    sums = {}
    for run_id, split, true, p in zip(pred.column("run_id").to_pylist(), pred.column("split").to_pylist(),
                                      pred.column("true").to_pylist(), pred.column("proportion").to_pylist()):
        sums[(run_id, split, true)] = sums.get((run_id, split, true), 0.0) + p
    assert all(math.isclose(s, 1.0, abs_tol=1e-9) for s in sums.values())


def _cka(sim, run_id, reference, split, subset):
    out = {}
    for r in sim.to_pylist():
        if (r["run_id"], r["reference"], r["split"], r["subset"]) == (run_id, reference, split, subset):
            out[(r["reference_layer"], r["layer"])] = r["cka"]
    return out


def test_similarity_matrices(tiny):
    sim = tiny["similarity"]
    layers = ["stem", "layer1", "layer2", "layer3", "layer4", "fc"]
    for fc in (1, 3):
        own = _cka(sim, f"fc{fc}-original", "original", "train", "forget")
        assert len(own) == 36 and all(own[(l, l)] == pytest.approx(1.0) for l in layers)
        retrained = _cka(sim, f"fc{fc}-retrained", "original", "train", "forget")
        diagonal = [retrained[(l, l)] for l in layers]
        assert diagonal[0] > diagonal[-1]
        # every compared run has both references, both splits, both subsets, all layer pairs
        for r in rows(tiny["runs"]):
            if r["forget_class"] == fc and r["status"] == "ok":
                assert len([x for x in sim.column("run_id").to_pylist() if x == r["run_id"]]) == 2 * 2 * 2 * 36
    cka = sim.column("cka").to_numpy()
    assert ((cka >= 0) & (cka <= 1)).all()

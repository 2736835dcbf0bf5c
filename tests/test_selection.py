"""Settings chosen fairly: the validation split (seeded, stratified, outside the CKA test pool), the
reported metrics that never use it, the validation gap and the choice of each method's grid point."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from unlearning_comparator.config import ConfigError, load_schema, validate_config
from unlearning_comparator.data.subsets import ValidationSplitError, validation_count, validation_split
from unlearning_comparator.selection import choose, choose_settings, validation_accuracies, validation_gap
from unlearning_comparator.summary import mean_std, summary_rows, vector_mean_std

from conftest import METHODS_DIR, ROOT, tiny_config

# --------------------------------------------------------------------------- the validation draw


def _firsts(labels: torch.Tensor, per_class: int) -> torch.Tensor:
    """The CKA pool's images: the first ``per_class`` of every class."""
    return torch.cat([(labels == c).nonzero().flatten()[:per_class] for c in range(int(labels.max()) + 1)])


def test_validation_split_is_stratified_seeded_and_outside_the_pool(fmnist_small):
    labels = fmnist_small.test.labels  # 100 per class
    pool = _firsts(labels, 50)
    a = validation_split(labels, 0.2, seed=3, exclude=pool)
    # stratified: a fifth of every class
    assert torch.bincount(labels[a], minlength=10).tolist() == [20] * 10
    # ascending, no repeats, none of the pool's images
    assert torch.equal(a, torch.sort(a).values) and len(set(a.tolist())) == len(a)
    assert not set(a.tolist()) & set(pool.tolist())
    # seeded: the same seed draws the same images, another seed others
    assert torch.equal(a, validation_split(labels, 0.2, seed=3, exclude=pool))
    b = validation_split(labels, 0.2, seed=4, exclude=pool)
    assert not torch.equal(a, b) and not set(b.tolist()) & set(pool.tolist())
    # random within a class, not the first images after the pool
    after_pool = set(torch.cat([(labels == c).nonzero().flatten()[50:70] for c in range(10)]).tolist())
    assert set(a.tolist()) != after_pool


def test_validation_count_is_a_share_of_the_class_rounded_half_up():
    assert validation_count(1000, 0.2) == 200
    assert validation_count(50, 0.2) == 10
    assert validation_count(5, 0.1) == 1  # 0.5 rounds up
    assert validation_count(3, 0.1) == 1  # at least one image
    assert validation_count(7, 0.5) == 4


def test_validation_split_refuses_a_class_with_too_few_images_outside_the_pool(fmnist_small):
    labels = fmnist_small.test.labels
    pool = _firsts(labels, 90)  # 10 per class left, 20 needed
    with pytest.raises(ValidationSplitError, match=r"class 0 has 100 test images, 90 of them in the CKA"):
        validation_split(labels, 0.2, seed=0, exclude=pool)
    assert len(validation_split(labels, 0.1, seed=0, exclude=pool)) == 100  # exactly what is left
    with pytest.raises(ValueError):
        validation_split(labels, 0.0, seed=0, exclude=pool)


def _spec(**selection) -> dict:
    config = tiny_config()
    return {
        "name": "tiny",
        "dataset": "fashion_mnist",
        "model": "compact_resnet",
        "seed": config["seed"],
        "device": "cpu",
        "data": {"root": str(ROOT / "resources" / "data"), **config["data"]},
        "analysis": {
            **config["analysis"],
            "attack": {"thresholds": 5, "entropy_range": [0.0, 2.5], "confidence_range": [-2.5, 10.0]},
        },
        "evaluation": {"mia_decimals": 4},
        **({"selection": selection} if selection else {}),
        "forget_class": 3,
    }


def test_the_workflow_draws_it_from_outside_the_cka_test_pool():
    from unlearning_comparator.jobs.common import evaluation_plan, load_data, validation_positions

    spec = _spec(validation_fraction=0.2)
    data = load_data(spec)
    plan = evaluation_plan(spec, data)
    validation = validation_positions(spec, data, plan)
    assert torch.bincount(data.test.labels[validation], minlength=10).tolist() == [10] * 10  # 50 per class
    assert not set(validation.tolist()) & set(plan.cka_pools["test"].positions.tolist())
    # the experiment's seed
    assert torch.equal(
        validation, validation_split(data.test.labels, 0.2, spec["seed"], plan.cka_pools["test"].positions)
    )
    # a spec without the section gets the schema's default (0.2)
    assert torch.equal(validation_positions(_spec(), data, plan), validation)
    # too large a share for what the pool leaves (30 per class): a message naming the config keys
    with pytest.raises(ValidationSplitError, match="selection.validation_fraction"):
        validation_positions(_spec(validation_fraction=0.7), data, plan)


def test_the_subsets_job_refuses_an_impossible_split_before_any_training(tmp_path):
    from unlearning_comparator.jobs import subsets

    with pytest.raises(ValidationSplitError, match="selection.validation_fraction"):
        subsets.run(_spec(validation_fraction=0.7), str(tmp_path / "s.arrow"), str(tmp_path / "t.png"))
    subsets.run(_spec(validation_fraction=0.2), str(tmp_path / "s.arrow"), str(tmp_path / "t.png"))
    assert (tmp_path / "s.arrow").is_file()


# --------------------------------------------------------------------------- the reported metrics exclude it


def test_reported_metrics_never_use_the_validation_images():
    """A model right on every test image outside the validation split and wrong on every validation image:
    TUA, TRA, TA and the per-class test accuracies are 1, the test prediction matrix is the identity,
    val_UA and val_RA are 0, and the MIA's non-members hold no validation image."""
    from unlearning_comparator.jobs import analyze

    spec = _spec(validation_fraction=0.2)
    sets = analyze._evaluation_sets(spec)
    fc, C = spec["forget_class"], sets.num_classes
    assert len(sets.validation) + len(sets.reported) == len(sets.test_labels)
    assert not set(sets.validation.tolist()) & set(sets.reported.tolist())
    nonmembers = set(sets.mia.nonmembers.tolist())
    assert not nonmembers & set(sets.validation.tolist())
    assert nonmembers == {int(p) for p in sets.reported if sets.test_labels[p] != fc}
    assert len(sets.mia.members) == len(sets.mia.nonmembers)

    def one_hot(labels):
        return np.eye(C)[labels] * 10.0

    test_logits = one_hot(sets.test_labels)
    test_logits[sets.validation] = one_hot((sets.test_labels[sets.validation] + 1) % C)
    model = SimpleNamespace(
        run_id="m", ok=True, train_logits=one_hot(sets.train_labels), test_logits=test_logits
    )
    metrics = analyze._model_metrics(model, sets, mia_decimals=4)
    assert metrics["TUA"] == metrics["TRA"] == metrics["TA"] == 1.0
    assert metrics["test_acc"] == [1.0] * C
    assert metrics["val_UA"] == metrics["val_RA"] == 0.0
    predictions = analyze._predictions_table([model], sets).to_pylist()
    test_rows = [r for r in predictions if r["split"] == "test"]
    assert len(test_rows) == C * C
    assert all(r["proportion"] == (1.0 if r["true"] == r["pred"] else 0.0) for r in test_rows)


# --------------------------------------------------------------------------- the validation gap


def test_validation_accuracies_per_part():
    labels = np.array([3, 3, 3, 3, 1, 2, 5, 7])
    preds = np.array([3, 0, 0, 0, 1, 2, 0, 7])
    got = validation_accuracies(preds, labels, labels == 3)
    assert got == {"val_UA": 0.25, "val_RA": 0.75}
    # a forget set with no validation image: val_UA is None
    assert validation_accuracies(preds, labels, np.zeros(8, bool)) == {"val_UA": None, "val_RA": 0.5}


def test_validation_gap_is_the_mean_of_both_terms_or_val_ra_alone():
    retrained = {"val_UA": 0.0, "val_RA": 0.9}
    assert validation_gap({"val_UA": 0.2, "val_RA": 0.8}, retrained) == pytest.approx(0.15)
    assert validation_gap(retrained, retrained) == 0.0
    assert validation_gap({"val_UA": None, "val_RA": 0.8}, {"val_UA": None, "val_RA": 0.9}) == pytest.approx(
        0.1
    )
    assert validation_gap({"val_UA": 0.5, "val_RA": None}, retrained) is None


# --------------------------------------------------------------------------- the choice


def _row(run_id, val_gap, method="ga", kind="unlearned", status="ok", rte=10.0, fc=1):
    """A runs row as an old table has it (forget_class, no forget_set or seed)."""
    return {
        "run_id": run_id,
        "forget_class": fc,
        "type": kind,
        "method": method,
        "status": status,
        "val_gap": val_gap,
        "RTE": rte,
    }


def test_chosen_is_the_smallest_validation_gap_of_each_method():
    rows = [
        _row("fc1-original", 0.45, method=None, kind="original", rte=None),
        _row("fc1-retrained", 0.0, method=None, kind="retrained", rte=900.0),
        _row("fc1-external-x", 0.001, method=None, kind="external", rte=None),
        _row("fc1-ga-a", 0.08),
        _row("fc1-ga-b", 0.03),  # ga's smallest
        _row("fc1-ga-c", 0.05),
        _row("fc1-ga-failed", None, status="failed"),
        _row("fc1-ft-a", 0.02, method="ft", rte=30.0),
        _row("fc1-ft-b", 0.02, method="ft", rte=20.0),  # tie on val_gap: the faster run
        _row("fc1-rl-b", 0.04, method="rl"),
        _row("fc1-rl-a", 0.04, method="rl"),  # tie on val_gap and RTE: the smaller run_id
        _row("fc1-salun-nan", math.nan, method="salun"),  # no finite gap: no chosen run
        _row("fc4-ga-a", 0.5, fc=4),  # another forget class: a group of its own
    ]
    chosen = choose(rows)
    assert {k for k, v in chosen.items() if v} == {"fc1-ga-b", "fc1-ft-b", "fc1-rl-a", "fc4-ga-a"}
    assert set(chosen) == {r["run_id"] for r in rows}
    # an RTE missing counts as the slowest
    assert choose([_row("a", 0.1, rte=None), _row("b", 0.1, rte=5.0)]) == {"a": False, "b": True}


def test_chosen_is_per_forget_set_and_replicate_seed():
    """With several seeds each replicate chooses its own grid point; forget sets are groups of their own."""

    def row(run_id, gap, seed, forget_set="fc2_4"):
        return {**_row(run_id, gap, fc=None), "forget_set": forget_set, "seed": seed}

    rows = [
        row("fc2_4-ga-a", 0.01, 0),
        row("fc2_4-ga-b", 0.02, 0),
        row("fc2_4-ga-a-seed1", 0.05, 1),
        row("fc2_4-ga-b-seed1", 0.03, 1),  # seed 1 prefers b
        row("rnd10s1-ga-a", 0.2, 0, "rnd10s1"),
    ]
    chosen = choose(rows)
    assert {k for k, v in chosen.items() if v} == {"fc2_4-ga-a", "fc2_4-ga-b-seed1", "rnd10s1-ga-a"}


# --------------------------------------------------------------------------- the summary over replicates


def test_mean_std_is_the_sample_std_over_finite_values():
    # hand-computed: mean of 0.2, 0.4, 0.9 is 0.5; squared deviations 0.09 + 0.01 + 0.16 = 0.26; / (3 - 1)
    mean, std, n = mean_std([0.2, None, 0.4, math.nan, 0.9])
    assert (mean, n) == (pytest.approx(0.5, abs=1e-15), 3)
    assert std == pytest.approx(math.sqrt(0.13), abs=1e-15)
    assert mean_std([0.7]) == (0.7, None, 1)  # one value: no spread
    assert mean_std([None, math.nan]) == (None, None, 0)
    mean, std = vector_mean_std([[0.0, 1.0], None, [1.0, 1.0]])
    assert mean == [0.5, 1.0] and std == pytest.approx([math.sqrt(0.5), 0.0])
    assert vector_mean_std([[0.5, 0.5]]) == ([0.5, 0.5], None)


def _run(setting, seed, gap, status="ok", method="ga", kind="unlearned", rte=10.0):
    return {
        "run_id": f"{setting}-seed{seed}",
        "setting_id": setting,
        "forget_set": setting.split("-")[0],
        "type": kind,
        "method": method,
        "method_name": method,
        "hyperparameters": json.dumps({"lr": 0.1, "seed": seed}),
        "status": status,
        "val_gap": gap if status == "ok" else None,
        "UA": None if status != "ok" else 0.1 * seed,
        "RTE": rte,
        "train_acc": [0.5, 0.5] if status == "ok" else None,
    }


def test_summary_rows_and_the_setting_chosen_on_the_mean_validation_gap():
    rows = [
        _run("fc1-original", 0, 0.4, method=None, kind="original"),
        _run("fc1-original", 1, 0.4, method=None, kind="original"),
        _run("fc1-ga-a", 0, 0.01),  # the best single run ...
        _run("fc1-ga-a", 1, 0.09),  # ... but the worse mean (0.05)
        _run("fc1-ga-b", 0, 0.03),
        _run("fc1-ga-b", 1, 0.04),  # mean 0.035: chosen
        _run("fc1-ga-b", 2, None, status="failed"),
        _run("fc1-ft-a", 0, 0.02, method="ft", rte=30.0),
        _run("fc1-ft-b", 0, 0.02, method="ft", rte=20.0),  # tie on the mean: the faster
        _run("fc1-rl-a", 0, None, status="failed", method="rl"),  # no ok run: never chosen
    ]
    summary = {r["setting_id"]: r for r in summary_rows(rows)}
    assert list(summary) == ["fc1-original", "fc1-ga-a", "fc1-ga-b", "fc1-ft-a", "fc1-ft-b", "fc1-rl-a"]
    b = summary["fc1-ga-b"]
    assert (b["n"], b["n_ok"], b["val_gap_n"]) == (3, 2, 2)
    assert b["val_gap_mean"] == pytest.approx(0.035) and b["val_gap_std"] == pytest.approx(
        0.00707106781186548
    )
    assert b["UA_mean"] == pytest.approx(0.05) and b["UA_n"] == 2  # the failed run's metrics do not count
    assert json.loads(b["hyperparameters"]) == {"lr": 0.1}  # without the replicate's seed
    assert b["train_acc_mean"] == [0.5, 0.5] and b["train_acc_std"] == [0.0, 0.0]
    assert summary["fc1-rl-a"]["n_ok"] == 0 and summary["fc1-rl-a"]["val_gap_mean"] is None
    assert {k for k, r in summary.items() if r["chosen"]} == {"fc1-ga-b", "fc1-ft-b"}
    assert choose_settings(summary.values()) == {k: r["chosen"] for k, r in summary.items()}


# --------------------------------------------------------------------------- the config


def test_the_selection_section_has_a_default_and_a_range():
    config = tiny_config()
    assert validate_config(config, METHODS_DIR)["selection"] == {"validation_fraction": 0.2}
    for bad in (0, -0.1, 0.6):
        config = tiny_config(selection={"validation_fraction": bad})
        with pytest.raises(ConfigError, match="selection.validation_fraction"):
            validate_config(config, METHODS_DIR)
    assert validate_config(tiny_config(selection={"validation_fraction": 0.5}), METHODS_DIR)
    assert load_schema()["properties"]["selection"]["properties"]["validation_fraction"]["default"] == 0.2

"""The audit's bookkeeping: which replicates judge which, and the audit job from logits tables to its tables.

Models here are synthetic: per forget image a true-class logit drawn around a per-image mean (the image's
difficulty) plus, for models that trained on it, a lift; the other classes' logits are 0. Retrained models
get no lift, so a method that lifts the forget images like the original is told apart, and one that
behaves like retraining is not. (tests/test_privacy_audit_calibration.py does the same on real models.)
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from unlearning_comparator.forget_sets import ForgetSet
from unlearning_comparator.jobs import audit as audit_job
from unlearning_comparator.privacy_audit import (
    ModelOutputs,
    audit_retrained,
    audit_setting,
    shadow_seeds,
)
from unlearning_comparator.tables import read_table, write_table
from unlearning_comparator.tables.schema import AUDIT, AUDIT_INSTANCES, AUDIT_ROC_FPR

CLASSES, PER_CLASS, TEST = 4, 100, 200
FORGET = ForgetSet.of_classes(1)


def _labels(rng):
    return np.repeat(np.arange(CLASSES), PER_CLASS), rng.integers(0, CLASSES, TEST)


def _logits(labels, lift, difficulty, rng, noise=0.5):
    logits = np.zeros((len(labels), CLASSES))
    logits[np.arange(len(labels)), labels] = difficulty + lift + rng.normal(0, noise, len(labels))
    return logits


class World:
    """Logits of models of a known kind: 'trained' images get a lift of ``lift``."""

    def __init__(self, seed=0):
        self.rng = np.random.default_rng(seed)
        self.train_labels, self.test_labels = _labels(self.rng)
        self.difficulty = self.rng.normal(2, 1.5, len(self.train_labels))
        self.test_difficulty = self.rng.normal(2, 1.5, TEST)
        self.forget_mask = FORGET.train_mask(self.train_labels)
        self.forget = np.flatnonzero(self.forget_mask)

    def logits(self, forget_lift: float) -> tuple[np.ndarray, np.ndarray]:
        lift = np.where(self.forget_mask, forget_lift, 1.0)  # every model trained on the retain images
        train = _logits(self.train_labels, lift, self.difficulty, self.rng)
        test = _logits(self.test_labels, 0.0, self.test_difficulty, self.rng)
        return train, test

    def outputs(self, forget_lift: float) -> ModelOutputs:
        train, test = self.logits(forget_lift)
        return ModelOutputs.of_logits(train, self.train_labels, test, self.test_labels, self.forget)


SEEDS = [10, 11, 12, 13, 14, 15]


def test_shadow_replicates_are_the_next_ones_wrapping_round():
    assert shadow_seeds(SEEDS, 14, 3) == [15, 10, 11]
    assert shadow_seeds(SEEDS, 10, 8) == [11, 12, 13, 14, 15]  # never itself, at most the others
    assert shadow_seeds([3, 5], 5, 2) == [3]


def test_a_method_that_keeps_the_forget_set_is_told_apart_and_one_like_retraining_is_not():
    world = World()
    retrained = {s: world.outputs(0.0) for s in SEEDS}
    kept = audit_setting(
        {s: (f"kept-{s}", world.outputs(1.5)) for s in SEEDS}, retrained, SEEDS, "kept", 4, 0.3
    )
    like = audit_setting(
        {s: (f"like-{s}", world.outputs(0.0)) for s in SEEDS}, retrained, SEEDS, "like", 4, 0.3
    )
    for row in kept:
        assert row.shadow_models == 4 and row.ulira.auc > 0.9 and row.rmia.auc > 0.8, row.ulira.auc
        assert row.ulira.tpr_1pct > 0.1
    for row in like:
        assert abs(row.ulira.auc - 0.5) < 0.12 and abs(row.rmia.auc - 0.5) < 0.12, row.ulira.auc
    assert abs(like[0].ulira_setting.auc - 0.5) < 0.06 and kept[0].ulira_setting.auc > 0.9
    # the challenge: 6 models each; a method like retraining keeps most images in the first buckets
    assert like[0].epsilon_models == 6 and like[0].forget_quality > 2 * kept[0].forget_quality
    assert kept[0].forget_quality == kept[-1].forget_quality  # a setting's figure, on each replicate
    roc = kept[0].ulira.roc_tpr
    assert len(roc) == len(AUDIT_ROC_FPR) and np.all(np.diff(roc) >= 0) and roc[-1] == 1.0


def test_a_failed_run_gets_a_note_and_leaves_the_others_their_shadows():
    world = World(1)
    retrained = {s: world.outputs(0.0) for s in SEEDS}
    setting = {s: (f"m-{s}", world.outputs(1.0)) for s in SEEDS}
    setting[12] = ("m-12", None)
    rows = audit_setting(setting, retrained, SEEDS, "m", 8, 0.3)
    failed = next(r for r in rows if r.seed == 12)
    assert failed.ulira is None and failed.forget_quality is None and failed.notes == ["the run failed"]
    assert [r.shadow_models for r in rows if r.seed != 12] == [4] * 5  # the 4 other usable replicates
    assert next(r for r in rows if r.seed == 11).epsilon_models == 5


def test_too_few_replicates_are_said_not_guessed():
    world = World(2)
    retrained = {s: (f"r-{s}", world.outputs(0.0)) for s in SEEDS[:3]}
    rows = audit_retrained(retrained, SEEDS[:3], "r", 2, 0.3)
    assert all(r.ulira is None and "calibration needs 6 replicates" in r.notes[0] for r in rows)
    two = audit_setting(
        {s: (f"m-{s}", world.outputs(1.0)) for s in SEEDS[:2]},
        {s: o for s, (_, o) in retrained.items()},
        SEEDS[:2],
        "m",
        2,
        0.3,
    )
    assert all(r.ulira is None and "fewer than 2" in r.notes[0] for r in two)
    assert "3 models of each kind" in two[0].notes[-1]


# --- the job: from evaluation tables to audit.arrow and audit_instances.arrow ---------------------------


def _write_model(root, folder, info, logits=None, world=None):
    (root / "models" / folder).mkdir(parents=True)
    (root / "models" / folder / "info.json").write_text(json.dumps(info))
    (root / "evaluation" / folder).mkdir(parents=True)
    if logits is None:
        return
    train, test = logits
    rows = len(train) + len(test)
    table = pa.table(
        {
            "split": pa.array(["train"] * len(train) + ["test"] * len(test)).dictionary_encode(),
            "index": pa.array(np.concatenate([np.arange(len(train)) * 3, np.arange(len(test))]), pa.int32()),
            "label": pa.array(np.concatenate([world.train_labels, world.test_labels]), pa.int16()),
            "logits": pa.FixedSizeListArray.from_arrays(
                pa.array(np.concatenate([train, test]).ravel(), pa.float32()), CLASSES
            ),
        }
    )
    assert len(table) == rows
    write_table(table, root / "evaluation" / folder / "logits.arrow")


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    root = tmp_path_factory.mktemp("audit-job")
    world = World(3)
    models = []
    for seed in SEEDS:
        sfx, pre = f"-seed{seed}", f"seed{seed}/"
        kinds = [
            ("fc1-original", f"{pre}original", {"type": "original", "status": "ok"}, 2.0),
            ("fc1-retrained", f"{pre}fc1/retrained", {"type": "retrained", "status": "ok"}, 0.0),
            ("fc1-ga-a", f"{pre}fc1/ga/a", {"type": "unlearned", "status": "ok"}, 0.5),
        ]
        if seed == SEEDS[0]:
            kinds.append(
                ("fc1-external-x", f"{pre}fc1/external/x", {"type": "external", "status": "ok"}, 0.0)
            )
        for setting, folder, info, lift in kinds:
            run_id = setting if info["type"] == "external" else setting + sfx
            failed = setting == "fc1-ga-a" and seed == SEEDS[1]
            info = {**info, "status": "failed"} if failed else info
            _write_model(root, folder, info, None if failed else world.logits(lift), world)
            models.append({"run_id": run_id, "setting_id": setting, "seed": seed, "folder": folder})
    spec = {
        "seed": 0,
        "seeds": SEEDS,
        "forget_set": FORGET.to_json(),
        "audit": {"shadow_models": 4, "rmia_a": 0.3},
        "results": str(root),
    }
    out = {"audit": str(root / "audit.arrow"), "audit_instances": str(root / "audit_instances.arrow")}
    audit_job.run(spec, models, out)
    return read_table(out["audit"]), read_table(out["audit_instances"]), world


def test_the_job_audits_every_replicated_model_and_no_external_one(audited):
    audit, _, _ = audited
    assert audit.schema.equals(AUDIT, check_metadata=False)
    rows = {r["run_id"]: r for r in audit.to_pylist()}
    assert len(rows) == 3 * len(SEEDS) and "fc1-external-x" not in rows
    assert json.loads(audit.schema.metadata[b"roc_fpr"]) == list(AUDIT_ROC_FPR)
    original, method, retrained = (rows[f"fc1-{k}-seed11"] for k in ("original", "ga-a", "retrained"))
    assert method["ulira_auc"] is None and method["note"] == "the run failed"
    method = rows["fc1-ga-a-seed10"]
    assert original["shadow_models"] == 4 and method["shadow_models"] == 4 and retrained["shadow_models"] == 2
    # the original kept everything, the method half of it, the calibration nothing
    assert original["ulira_auc_setting"] > method["ulira_auc_setting"] > retrained["ulira_auc_setting"]
    assert abs(retrained["ulira_auc_setting"] - 0.5) < 0.1
    assert original["forget_quality"] < retrained["forget_quality"]
    assert retrained["epsilon_models"] == 3 and method["epsilon_models"] == 5


def test_the_instances_are_the_forget_images_with_their_data_set_indices(audited):
    audit, instances, world = audited
    assert instances.schema.equals(AUDIT_INSTANCES, check_metadata=False)
    one = instances.filter(pa.compute.equal(instances["run_id"], "fc1-original-seed12"))
    assert sorted(one["index"].to_pylist()) == (world.forget * 3).tolist()  # the logits' index column
    assert np.median(one["ulira"].to_numpy()) > 0  # it looks unlearned, not retrained
    audited_runs = {r["run_id"] for r in audit.to_pylist() if r["ulira_auc"] is not None}
    assert set(instances["run_id"].to_pylist()) == audited_runs

"""The audit's calibration on real models: what it says of models whose relation to the forget set is known.

Fifteen compact networks are trained by the workflow's training job on a small Fashion-MNIST split (200
images per class), each with its own seed: three originals (trained on every image), six retrained without
a random 10 % of the split and six without the class Pullover. Audited against other seeds' retrained
models, a retrained model must look like retraining (AUC near 0.5); the original model, which trained on
the forget set, must look further from it than any retrained model does. An audit that always answered
0.5 fails the second half, one that always saw a difference fails the first.

What the test also shows: on a whole class, U-LiRA's AUC for *one pair* of retrained models strays far
from 0.5 (0.13 to 0.54 with these models) while RMIA's stays near it. Every image of the class moves
together from one model to the next (the models' mean confidence in Pullover ranges over 4 logit units),
so one pair of models is a single draw; RMIA divides that shift out with the model's own outputs on the
population. The audit therefore also reports each setting's figures pooled over its replicates.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unlearning_comparator.data import load_dataset, normalize
from unlearning_comparator.forget_sets import ForgetSet
from unlearning_comparator.jobs import train as train_job
from unlearning_comparator.models import create_model
from unlearning_comparator.privacy_audit import ModelOutputs, audit_retrained, audit_setting

from conftest import ROOT, SHORT_RECIPE

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]

DATA = {"root": str(ROOT / "resources" / "data"), "train_per_class": 200, "test_per_class": 100}
RANDOM = ForgetSet.random_fraction(0.1, 0)
PULLOVER = ForgetSet.of_classes(2)
ORIGINAL_SEEDS = [0, 1, 2]
RETRAINED_SEEDS = [0, 1, 2, 3, 4, 5]
# Each AUC below rests on 200 forget images scored under two models. Were the scores independent, its
# standard error would be about 0.03; the images are shared between positives and negatives, so allow a
# little over three times that.
CALIBRATION_TOLERANCE = 0.1


def _train(tmp, seed: int, forget_set: ForgetSet | None) -> dict[ForgetSet, ModelOutputs]:
    """The job's model of ``seed`` (retrained without ``forget_set``; the original without one), as the
    audit sees it for each forget set."""
    spec = {
        "name": "audit-calibration",
        "dataset": "fashion_mnist",
        "model": "compact_resnet",
        "seed": 0,
        "device": "cpu",
        "data": DATA,
        "training": SHORT_RECIPE,
        "training_seed": seed,
        **({"forget_set": forget_set.to_json()} if forget_set else {}),
    }
    path = tmp / f"{forget_set.id if forget_set else 'original'}-{seed}.pt"
    train_job.run(spec, str(path), str(path.with_suffix(".json")))
    model = create_model("compact_resnet", 10, 1)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    model.eval()
    data = load_dataset("fashion_mnist", download=False, **DATA)
    with torch.no_grad():
        logits = [model(normalize(split.images, data.info)).numpy() for split in (data.train, data.test)]
    train_labels, test_labels = data.train.labels.numpy(), data.test.labels.numpy()
    return {
        fs: ModelOutputs.of_logits(
            logits[0], train_labels, logits[1], test_labels, np.flatnonzero(fs.train_mask(train_labels))
        )
        for fs in (RANDOM, PULLOVER)
    }


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """{forget set: (originals by seed, retrained models by seed)}."""
    tmp = tmp_path_factory.mktemp("audit-calibration")
    originals = {s: _train(tmp, s, None) for s in ORIGINAL_SEEDS}
    return {
        fs: ({s: m[fs] for s, m in originals.items()}, {s: _train(tmp, s, fs)[fs] for s in RETRAINED_SEEDS})
        for fs in (RANDOM, PULLOVER)
    }


def _calibration(retrained):
    rows = audit_retrained(
        {s: (f"retrained-{s}", m) for s, m in retrained.items()}, RETRAINED_SEEDS, "retrained", 8, 0.3
    )
    assert [r.shadow_models for r in rows] == [2] * 6  # 6 replicates: the pair, then 2 + 2 shadows
    return rows


def _originals(originals, retrained):
    rows = audit_setting(
        {s: (f"original-{s}", m) for s, m in originals.items()},
        {s: retrained[s] for s in ORIGINAL_SEEDS},
        ORIGINAL_SEEDS,
        "original",
        2,
        0.3,
    )
    assert [r.shadow_models for r in rows] == [2] * 3
    return rows


def test_on_a_random_set_a_retrained_model_looks_like_retraining_and_the_original_does_not(models):
    originals, retrained = models[RANDOM]
    calibration = _calibration(retrained)
    for row in calibration:
        assert abs(row.ulira.auc - 0.5) < CALIBRATION_TOLERANCE, (row.run_id, row.ulira.auc)
        assert abs(row.rmia.auc - 0.5) < CALIBRATION_TOLERANCE, (row.run_id, row.rmia.auc)
    assert abs(calibration[0].ulira_setting.auc - 0.5) < CALIBRATION_TOLERANCE / 2
    # four epochs on 1,800 images memorise little, but each original stands above every retrained model
    for row in _originals(originals, retrained):
        assert row.ulira.auc > max(r.ulira.auc for r in calibration) + 0.05, row.ulira.auc
        assert row.rmia.auc > max(r.rmia.auc for r in calibration) + 0.05, row.rmia.auc


def test_on_a_whole_class_the_original_is_told_apart_at_once(models):
    originals, retrained = models[PULLOVER]
    for row in _originals(originals, retrained):
        assert row.ulira.auc > 0.95 and row.ulira.tpr_1pct > 0.5, (row.run_id, row.ulira.auc)
        assert row.rmia.auc > 0.95, (row.run_id, row.rmia.auc)
        assert np.median(row.ulira.scores) > 0  # most Pullovers look unlearned, not retrained
    for row in _calibration(retrained):  # RMIA's population ratio divides the models' shifts out
        assert abs(row.rmia.auc - 0.5) < CALIBRATION_TOLERANCE, (row.run_id, row.rmia.auc)

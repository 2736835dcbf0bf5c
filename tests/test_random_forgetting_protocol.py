"""The random-forgetting protocol on real data: the gold standard still knows the forgotten images.

When a random 10 % of the training split is forgotten (SalUn's protocol, arXiv:2310.12508, §5), the model
retrained without it classifies those images about as well as unseen test images: they are ordinary
images of classes it still learns. Forgetting a random sample is thus about privacy, not about accuracy
collapsing to zero as it does for a forgotten class. Both retrainings below go through the workflow's
training job, so a retrain job that dropped the wrong images (or none) fails here.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from unlearning_comparator.data import load_dataset, normalize
from unlearning_comparator.forget_sets import ForgetSet
from unlearning_comparator.jobs import train as train_job
from unlearning_comparator.models import create_model

from conftest import ROOT, SHORT_RECIPE, accuracy

pytestmark = pytest.mark.usefixtures("one_thread")

DATA = {"root": str(ROOT / "resources" / "data"), "train_per_class": 300, "test_per_class": 100}


def _retrained(tmp_path, forget_set: ForgetSet):
    """The workflow's training job, retraining without ``forget_set``; the model and its info file."""
    spec = {
        "name": "protocol",
        "dataset": "fashion_mnist",
        "model": "compact_resnet",
        "seed": 0,
        "device": "cpu",
        "data": DATA,
        "training": SHORT_RECIPE,
        "forget_set": forget_set.to_json(),
    }
    model_path, info_path = tmp_path / f"{forget_set.id}.pt", tmp_path / f"{forget_set.id}.json"
    train_job.run(spec, str(model_path), str(info_path))
    data = load_dataset("fashion_mnist", download=False, **DATA)
    model = create_model("compact_resnet", data.info.num_classes, data.info.channels)
    model.load_state_dict(torch.load(model_path, map_location="cpu", weights_only=True))
    return model.eval(), data, json.loads(info_path.read_text())


@pytest.mark.slow
def test_the_retrained_model_knows_a_random_forget_set_about_as_well_as_the_test_split(tmp_path):
    forget_set = ForgetSet.random_fraction(0.1, 1)
    model, data, info = _retrained(tmp_path, forget_set)
    members = torch.from_numpy(forget_set.train_mask(data.train.labels))
    assert int(members.sum()) == 300 and info["type"] == "retrained"

    forget_acc = accuracy(model, data.train, data.info, members)
    test_acc = accuracy(model, data.test, data.info, torch.ones(len(data.test), dtype=torch.bool))
    chance = 1 / data.info.num_classes
    # close to the test accuracy: the forgotten images are unseen images of classes the model knows
    # (tolerance: 300 forget images give a standard error of about 0.02 at 80 % accuracy)
    assert abs(forget_acc - test_acc) < 0.07, (forget_acc, test_acc)
    assert forget_acc > chance + 0.5, forget_acc  # far above chance, not zero


@pytest.mark.slow
def test_the_same_job_forgets_a_class_to_zero(tmp_path):
    """The null case of the protocol test above: the same training job on a class set drops the whole
    class, so the retrained model cannot name it."""
    forget_set = ForgetSet.of_classes([4, 8])
    model, data, _ = _retrained(tmp_path, forget_set)
    members = torch.from_numpy(forget_set.train_mask(data.train.labels))
    assert accuracy(model, data.train, data.info, members) < 0.02
    with torch.no_grad():
        preds = model(normalize(data.test.images, data.info)).argmax(1)
    assert not np.isin(preds.numpy(), [4, 8]).any()  # never predicts a class it never saw

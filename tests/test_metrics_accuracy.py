"""Accuracy metrics against hand-computed examples: the Comparator's UA/RA/TUA/TRA and prediction
matrices, and the SalUn / l1-sparse literature's TA, for one class, several classes and random sets."""

import numpy as np
import pytest
import torch

from unlearning_comparator.metrics.accuracy import (
    accuracy_outside_class,
    accuracy_outside_classes,
    class_set_metrics,
    forget_metrics,
    per_class_accuracy,
    prediction_matrices,
    random_set_metrics,
    share_correct,
)

# A 6-sample, 3-class example. Logits are log-probabilities, so softmax gives these rows back.
PROBS = np.array(
    [
        [0.5, 0.3, 0.2],  # true 0, predicted 0
        [0.2, 0.7, 0.1],  # true 0, predicted 1
        [0.1, 0.8, 0.1],  # true 1, predicted 1
        [0.3, 0.6, 0.1],  # true 1, predicted 1
        [0.6, 0.1, 0.3],  # true 2, predicted 0
        [0.2, 0.2, 0.6],  # true 2, predicted 2
    ]
)
LABELS = np.array([0, 0, 1, 1, 2, 2])
PREDS = np.array([0, 1, 1, 1, 0, 2])


def test_per_class_accuracy_hand_example():
    acc = per_class_accuracy(PREDS, LABELS, 3)
    assert acc.dtype == np.float64
    np.testing.assert_array_equal(acc, [0.5, 1.0, 0.5])


def test_per_class_accuracy_accepts_tensors_and_marks_empty_classes_nan():
    acc = per_class_accuracy(torch.tensor(PREDS), torch.tensor(LABELS), 5)
    np.testing.assert_array_equal(acc[:3], [0.5, 1.0, 0.5])
    assert np.isnan(acc[3]) and np.isnan(acc[4])


def test_per_class_accuracy_rejects_bad_input():
    with pytest.raises(ValueError, match="differ"):
        per_class_accuracy(PREDS[:5], LABELS, 3)
    with pytest.raises(ValueError, match="lie in"):
        per_class_accuracy(PREDS, LABELS, 2)
    with pytest.raises(TypeError):
        per_class_accuracy(PREDS.astype(float), LABELS, 3)


def test_forget_metrics_comparator_convention():
    train_acc = [0.5, 1.0, 0.5]
    test_acc = [0.25, 0.75, 1.0]
    m = forget_metrics(train_acc, test_acc, forget_class=1)
    # UA/TUA: the forget class; RA/TRA: unweighted mean of classes 0 and 2.
    assert m == {"UA": 1.0, "RA": 0.5, "TUA": 0.75, "TRA": 0.625}
    m0 = forget_metrics(train_acc, test_acc, forget_class=0)
    assert m0 == {"UA": 0.5, "RA": 0.75, "TUA": 0.25, "TRA": 0.875}
    assert all(type(v) is float for v in m.values())


def test_forget_metrics_is_unweighted_and_unrounded():
    # the retain classes' accuracies are averaged as given, whatever their sample counts
    m = forget_metrics([0.0, 1 / 3, 2 / 3, 1.0], [0.0, 0.1, 0.2, 0.3], forget_class=0)
    assert m["RA"] == pytest.approx(2 / 3, abs=1e-15)
    assert m["TRA"] == pytest.approx(0.2, abs=1e-15)


def test_forget_metrics_rejects_bad_class():
    with pytest.raises(ValueError):
        forget_metrics([0.5, 0.5], [0.5, 0.5], forget_class=2)


def test_accuracy_outside_class_weights_every_image_not_every_class():
    # forget class 0 (all correct, must not count); class 1: 1 of 1 correct; class 2: 1 of 3 correct
    labels = np.array([0, 0, 1, 2, 2, 2])
    preds = np.array([0, 0, 1, 2, 0, 1])
    assert accuracy_outside_class(preds, labels, excluded_class=0) == 0.5  # 2 correct of 4 images
    tra = forget_metrics(per_class_accuracy(preds, labels, 3), per_class_accuracy(preds, labels, 3), 0)["TRA"]
    assert tra == pytest.approx(2 / 3)  # the class mean (1 + 1/3) / 2 differs on unbalanced classes
    assert (
        accuracy_outside_class(torch.tensor(preds), torch.tensor(labels), excluded_class=2) == 1.0
    )  # 3 of 3


def test_accuracy_outside_class_edge_cases():
    assert np.isnan(accuracy_outside_class(np.array([1, 0]), np.array([1, 1]), excluded_class=1))
    with pytest.raises(ValueError, match="differ"):
        accuracy_outside_class(PREDS[:5], LABELS, 0)


@pytest.mark.parametrize("as_tensor", [False, True])
def test_prediction_matrices_hand_example(as_tensor):
    logits = np.log(PROBS) + np.array(
        [[3.0], [-1.0], [0.0], [7.0], [2.0], [-5.0]]
    )  # row shifts change nothing
    if as_tensor:
        logits = torch.tensor(logits, dtype=torch.float32)
    proportion, mean_conf = prediction_matrices(logits, LABELS, 3)
    assert proportion.dtype == np.float64 and mean_conf.dtype == np.float64
    np.testing.assert_allclose(proportion, [[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.5, 0.0, 0.5]], atol=0)
    np.testing.assert_allclose(
        mean_conf,
        [[0.35, 0.50, 0.15], [0.20, 0.70, 0.10], [0.40, 0.15, 0.45]],
        atol=1e-6,
    )
    np.testing.assert_allclose(proportion.sum(axis=1), 1.0)
    np.testing.assert_allclose(mean_conf.sum(axis=1), 1.0, atol=1e-6)


def test_prediction_matrices_empty_class_and_half_precision():
    logits = torch.tensor(np.log(np.c_[PROBS, np.full(6, 1e-9)]), dtype=torch.float16)
    proportion, mean_conf = prediction_matrices(logits, torch.tensor(LABELS), 4)
    assert np.isnan(proportion[3]).all() and np.isnan(mean_conf[3]).all()
    np.testing.assert_allclose(proportion[:3, :3], [[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.5, 0.0, 0.5]])
    np.testing.assert_allclose(
        mean_conf[1, :3], [0.2, 0.7, 0.1], atol=2e-3
    )  # float16 logits, float32 softmax


def test_prediction_matrices_consistent_with_per_class_accuracy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(500, 7))
    labels = rng.integers(0, 7, size=500)
    proportion, _ = prediction_matrices(logits, labels, 7)
    np.testing.assert_allclose(np.diag(proportion), per_class_accuracy(logits.argmax(1), labels, 7))


def test_prediction_matrices_rejects_bad_shapes():
    with pytest.raises(ValueError):
        prediction_matrices(np.zeros((6, 4)), LABELS, 3)
    with pytest.raises(ValueError):
        prediction_matrices(np.zeros((5, 3)), LABELS, 3)


# --------------------------------------------------------------------------- forget sets beyond one class


def test_class_set_metrics_of_two_classes_are_unweighted_class_means():
    train_acc = [0.5, 1.0, 0.25, 0.75]
    test_acc = [0.2, 0.4, 0.6, 0.8]
    m = class_set_metrics(train_acc, test_acc, [3, 1])  # order does not matter
    # UA/TUA: mean over classes 1 and 3; RA/TRA: mean over classes 0 and 2
    assert m == pytest.approx({"UA": 0.875, "RA": 0.375, "TUA": 0.6, "TRA": 0.4}, abs=1e-15)


def test_class_set_metrics_of_one_class_are_exactly_forget_metrics():
    rng = np.random.default_rng(0)
    train_acc, test_acc = rng.random(10), rng.random(10)
    for c in range(10):
        assert class_set_metrics(train_acc, test_acc, [c]) == forget_metrics(train_acc, test_acc, c)


def test_class_set_metrics_rejects_bad_sets():
    for bad in ([], [4], [0, 1]):
        with pytest.raises(ValueError):
            class_set_metrics([0.5, 0.5], [0.5, 0.5], bad)


def test_random_set_metrics_are_shares_of_images_and_tua_is_null():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    preds = np.array([0, 1, 0, 1, 0, 2, 2, 2])
    forget = np.array([True, True, False, False, True, False, False, True])
    # forget images: 0 right, 1 wrong (pred 1 for 0), 4 wrong, 7 right -> 2 of 4
    # retain images: 2 right, 3 right, 5 right, 6 right -> 4 of 4
    test_acc = [0.5, 1.0, 0.0]
    m = random_set_metrics(preds, labels, forget, test_acc)
    assert m == {"UA": 0.5, "RA": 1.0, "TUA": None, "TRA": 0.5}  # TRA: mean over all three classes


def test_accuracy_outside_classes():
    labels = np.array([0, 0, 1, 2, 2, 3])
    preds = np.array([0, 1, 1, 0, 2, 3])
    assert accuracy_outside_classes(preds, labels, [0, 2]) == 1.0  # images of classes 1 and 3: 2 of 2
    assert accuracy_outside_classes(preds, labels, [1]) == 0.6  # 3 of 5
    assert accuracy_outside_classes(preds, labels, []) == pytest.approx(4 / 6)  # random set: every image
    assert accuracy_outside_classes(preds, labels, [2]) == accuracy_outside_class(preds, labels, 2)
    assert share_correct(preds, labels, labels == 2) == 0.5
    assert np.isnan(share_correct(preds, labels, np.zeros(6, bool)))

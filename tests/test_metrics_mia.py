"""SalUn-convention MIA efficacy (J. Jia et al., NeurIPS 2023, arXiv:2304.04934; SalUn, arXiv:2310.12508)."""

import math

import numpy as np
import pytest
import torch
from sklearn.svm import SVC

from unlearning_comparator.metrics.mia import (
    mia_efficacy,
    mia_predictions,
    mia_sets_of_masks,
    salun_mia_sets,
    true_class_confidence,
)


def test_true_class_confidence_hand_values():
    logits = torch.tensor(np.log([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]) + 4.0, dtype=torch.float32)
    conf = true_class_confidence(logits, torch.tensor([1, 2]))
    assert conf.dtype == np.float64
    np.testing.assert_allclose(conf, [0.3, 0.8], atol=1e-6)
    # extreme logits stay finite; the true class can have a probability that underflows to 0
    np.testing.assert_allclose(
        true_class_confidence(np.array([[50.0, 0.0, 0.0]]), [0]), 1 / (1 + 2 * math.exp(-50))
    )
    assert true_class_confidence(np.array([[1000.0, 0.0]]), np.array([1]))[0] == 0.0


def test_true_class_confidence_rejects_bad_labels():
    with pytest.raises(ValueError):
        true_class_confidence(np.zeros((2, 3)), [0, 3])
    with pytest.raises(ValueError):
        true_class_confidence(np.zeros((2, 3)), [0])


def _overlapping(rng, n_member, n_nonmember, n_target):
    # confidence-like values in [0, 1]: members more confident than non-members, overlapping
    return (
        1 - rng.beta(0.3, 8, n_member),
        1 - rng.beta(0.6, 4, n_nonmember),
        1 - rng.beta(0.5, 3, n_target),
    )


def test_merging_gives_the_same_predictions_as_a_plain_svc():
    rng = np.random.default_rng(0)
    members, nonmembers, target = (np.round(v, 4) for v in _overlapping(rng, 1500, 1500, 1000))
    svc = SVC(C=3, gamma="auto", kernel="rbf").fit(
        np.r_[members, nonmembers][:, None], np.r_[np.ones(members.size), np.zeros(nonmembers.size)]
    )
    plain = svc.predict(target[:, None]).astype(np.int64)
    fast = mia_predictions(members, nonmembers, target)
    assert 0.05 < plain.mean() < 0.95  # a real boundary, not a constant classifier
    np.testing.assert_array_equal(fast, plain)
    assert mia_efficacy(members, nonmembers, target) == pytest.approx(float(np.mean(plain == 0)), abs=0)


def test_rounding_barely_changes_unrounded_data():
    rng = np.random.default_rng(1)
    members, nonmembers, target = _overlapping(rng, 1500, 1500, 1000)
    svc = SVC(C=3, gamma="auto", kernel="rbf").fit(
        np.r_[members, nonmembers][:, None], np.r_[np.ones(members.size), np.zeros(nonmembers.size)]
    )
    plain = svc.predict(target[:, None]).astype(np.int64)
    fast = mia_predictions(members, nonmembers, target)
    assert np.mean(fast != plain) <= 0.002
    unrounded = mia_predictions(members, nonmembers, target, decimals=None)  # merging alone is exact
    assert np.mean(unrounded != plain) <= 0.002


def test_clearly_separated_sets():
    rng = np.random.default_rng(2)
    members = rng.uniform(0.97, 1.0, 800)
    nonmembers = rng.uniform(0.1, 0.4, 800)
    assert mia_efficacy(members, nonmembers, rng.uniform(0.1, 0.4, 500)) == 1.0  # forget set looks unseen
    assert (
        mia_efficacy(members, nonmembers, rng.uniform(0.97, 1.0, 500)) == 0.0
    )  # forget set looks trained on
    mixed = np.r_[rng.uniform(0.1, 0.4, 300), rng.uniform(0.97, 1.0, 100)]
    assert mia_efficacy(torch.tensor(members), nonmembers, mixed) == 0.75


def test_degenerate_inputs():
    target = np.array([0.2, 0.9])
    assert mia_efficacy(np.array([]), np.array([0.1, 0.3]), target) == 1.0  # only non-members known
    assert mia_efficacy(np.array([0.9, 0.99]), np.array([]), target) == 0.0  # only members known
    assert math.isnan(mia_efficacy(np.array([0.9]), np.array([0.1]), np.array([])))
    assert math.isnan(mia_efficacy(np.array([np.nan, 0.9]), np.array([0.1]), target))  # diverged model
    with pytest.raises(ValueError):
        mia_predictions(np.array([np.inf]), np.array([0.1]), target)
    with pytest.raises(ValueError):
        mia_efficacy(np.array([]), np.array([]), target)
    # all features identical: the SVC still fits and gives one verdict for everyone, the plain SVC's
    # (the majority class where the counts differ); "0.0 or 1.0" alone would pass a swapped label
    for n_member, n_nonmember, expected in ((12, 8, 0.0), (8, 12, 1.0), (10, 10, None)):
        x = np.full(n_member + n_nonmember, 0.5)[:, None]
        y = np.r_[np.ones(n_member), np.zeros(n_nonmember)]
        plain = float(
            np.mean(SVC(C=3, gamma="auto", kernel="rbf").fit(x, y).predict(np.full((4, 1), 0.5)) == 0)
        )
        value = mia_efficacy(np.full(n_member, 0.5), np.full(n_nonmember, 0.5), np.full(4, 0.5))
        assert value == plain and (expected is None or value == expected), (
            n_member,
            n_nonmember,
            value,
            plain,
        )


def test_salun_mia_sets_hand_example():
    train = np.array([0, 1, 2, 1, 0, 2, 2, 1, 0])
    test = torch.tensor([1, 0, 2, 1, 2])
    sets = salun_mia_sets(train, test, forget_class=1)
    np.testing.assert_array_equal(sets.nonmembers, [1, 2, 4])  # test samples not of class 1
    np.testing.assert_array_equal(sets.members, [0, 2, 4])  # first 3 retain training samples
    np.testing.assert_array_equal(sets.target, [1, 3, 7])  # every class-1 training sample
    assert all(a.dtype == np.int64 for a in sets)


def test_salun_mia_sets_with_fewer_retain_than_test_samples():
    sets = salun_mia_sets(np.array([0, 1, 1]), np.array([0, 0, 0, 0]), forget_class=1)
    np.testing.assert_array_equal(sets.members, [0])
    np.testing.assert_array_equal(sets.nonmembers, [0, 1, 2, 3])


def test_mia_sets_of_a_two_class_set():
    train = np.array([0, 1, 2, 1, 0, 2, 2, 1, 0])
    test = np.array([1, 0, 2, 1, 2, 0])
    sets = mia_sets_of_masks(np.isin(train, [1, 2]), np.isin(test, [1, 2]))
    np.testing.assert_array_equal(sets.nonmembers, [1, 5])  # test samples of neither class
    np.testing.assert_array_equal(sets.members, [0, 4])  # the first 2 training samples of class 0
    np.testing.assert_array_equal(sets.target, [1, 2, 3, 5, 6, 7])


def test_mia_sets_of_a_random_set_keep_every_test_sample():
    forget = np.array([False, True, False, False, True, False])
    sets = mia_sets_of_masks(forget, np.zeros(3, bool))  # a random set has no test counterpart
    np.testing.assert_array_equal(sets.nonmembers, [0, 1, 2])  # every test sample
    np.testing.assert_array_equal(sets.members, [0, 2, 3])  # the first 3 retain samples
    np.testing.assert_array_equal(sets.target, [1, 4])


def test_mia_sets_of_one_class_are_salun_mia_sets():
    rng = np.random.default_rng(0)
    train, test = rng.integers(0, 5, 60), rng.integers(0, 5, 30)
    for c in range(5):
        a, b = salun_mia_sets(train, test, c), mia_sets_of_masks(train == c, test == c)
        assert all(np.array_equal(x, y) for x, y in zip(a, b))

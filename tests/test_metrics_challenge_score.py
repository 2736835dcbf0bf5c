"""The NeurIPS 2023 unlearning challenge's per-example score, against hand-worked examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from unlearning_comparator.metrics.challenge_score import (
    DELTA,
    EPSILON_CAP,
    bucket_points,
    example_epsilon,
    final_score,
    forget_quality,
    logit_scaled_confidence,
    points_of,
)


def test_logit_scaled_confidence_is_the_log_odds_of_the_true_class():
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 1.0, -1.0]])
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    expected = [math.log(probs[0, 0] / (1 - probs[0, 0])), math.log(probs[1, 2] / (1 - probs[1, 2]))]
    assert logit_scaled_confidence(logits, np.array([0, 2])) == pytest.approx(expected, abs=1e-12)
    # stable where 1 - p underflows in float64: p = 1 - 1e-300 would round to 1
    assert logit_scaled_confidence(np.array([[800.0, 0.0]]), np.array([0]))[0] == pytest.approx(800.0)


def test_buckets_halve_up_to_what_the_models_can_resolve():
    """100 models resolve ε up to ⌈ln 99⌉ = 5: ten buckets of 0.5, 1 point down to 1/512."""
    buckets = bucket_points(100)
    assert [start for start, _ in buckets] == [0.5 * k for k in range(10)]
    assert [points for _, points in buckets] == [2.0**-k for k in range(10)]
    assert [points_of(e, buckets) for e in (0.0, 0.49, 0.5, 4.99, 5.0, math.inf)] == [1, 1, 0.5, 2**-9, 0, 0]
    assert bucket_points(4) == [(0.0, 1.0), (0.5, 0.5), (1.0, 0.25), (1.5, 0.125)]  # ⌈ln 3⌉ = 2
    assert bucket_points(2) == []  # one retrained model against one unlearned: nothing can be resolved


def test_a_hand_worked_example():
    """Retrained confidences 1, 2, 3, 4 (median 2.5: the positives) and unlearned 0, 0.5, 1.5, 2.5.

    No rule separates them without one rate being 0 (discarded), and the best kept rules — a threshold in
    (1.5, 2], or an interval from below 0 to [1.5, 2) — miss one model of each kind: FPR = FNR = 1/4, so
    ε = ln((1 − δ − 1/4) / (1/4)) = ln(3 − 4δ), which four models score in the bucket [1, 1.5): 1/4."""
    eps = example_epsilon(unlearned=[0, 0.5, 1.5, 2.5], retrained=[1, 2, 3, 4])
    assert eps == pytest.approx(math.log(3 - 4 * DELTA), abs=1e-12)
    quality, per_example = forget_quality(np.array([[0, 0.5, 1.5, 2.5]]).T, np.array([[1, 2, 3, 4]]).T)
    assert quality == 0.25 and per_example.tolist() == [eps]


def test_models_that_cannot_be_told_apart_score_one_and_separated_ones_zero():
    rng = np.random.default_rng(0)
    same = rng.normal(size=(8, 5))
    quality, eps = forget_quality(same, same.copy())  # the null case: unlearned exactly like retrained
    assert quality == 1.0 and (eps == 0).all()
    quality, eps = forget_quality(same + 100, same)  # every image perfectly separated: ε = ∞, capped
    assert quality == 0.0 and (eps == EPSILON_CAP).all()


def test_a_pinned_output_gets_the_cap():
    """A sample whose range is under 1 % of the other's (a method that pins an image's output) is capped
    without looking for a rule, even where the two medians agree."""
    assert example_epsilon(unlearned=[1.0, 1.0, 1.001, 1.0], retrained=[0.0, 1.0, 2.0, 0.5]) == EPSILON_CAP


def test_the_final_score_adjusts_for_utility():
    assert final_score(0.5, 0.9, 1.0, 0.8, 0.8) == pytest.approx(0.45)
    assert final_score(1.0, 0.95, 0.95, 0.9, 0.9) == 1.0

"""The NeurIPS 2023 unlearning challenge's per-example score, against hand-worked examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from unlearning_comparator.metrics import challenge_score as cs
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


def _epsilon_by_definition(unlearned, retrained):
    """example_epsilon's rules evaluated literally: each rule's members by comparison masks over the
    samples (as the published scorer does), no counting shortcuts."""
    pos, neg = (
        (retrained, unlearned) if np.median(retrained) > np.median(unlearned) else (unlearned, retrained)
    )
    both = np.concatenate([pos, neg])
    thresholds = np.linspace(both.min(), both.max(), math.ceil(np.ptp(both) * cs.THRESHOLDS_PER_UNIT))
    rates = [((pos[:, None] >= thresholds).mean(0), (neg[:, None] >= thresholds).mean(0))]
    peaky, wide = (pos, neg) if np.ptp(pos) < np.ptp(neg) else (neg, pos)
    width = np.ptp(peaky)
    low, high = peaky.min() + width - cs.INTERVAL_MARGIN, peaky.max() + cs.INTERVAL_MARGIN
    rights = np.linspace(low, high, math.ceil((high - low) * cs.THRESHOLDS_PER_UNIT))
    offsets = np.linspace(-cs.INTERVAL_MARGIN, cs.INTERVAL_MARGIN, math.ceil(2 * cs.INTERVAL_MARGIN * 100))
    lefts = (rights[:, None] - width + offsets[None, :]).ravel()
    rights = np.repeat(rights, len(offsets))

    def inside(x):
        return ((lefts <= x[:, None]) & (x[:, None] <= rights)).mean(0)

    rates.append((inside(peaky), inside(wide)))
    eps = np.concatenate([cs._epsilon_of_rates(f, 1 - t, t, 1 - f) for t, f in rates])
    return float(min(eps[~np.isnan(eps)].max(), cs.EPSILON_CAP))


def test_the_counted_rules_agree_with_the_rules_evaluated_literally():
    """Including the interval rules whose left end passes their right end (an empty interval: nothing
    inside, not a negative count), which a sample of wide ranges and narrow peaky ones reaches."""
    rng = np.random.default_rng(7)
    for n in (3, 5, 9):
        for _ in range(12):
            unlearned = rng.normal(rng.uniform(-1, 2), rng.uniform(0.3, 2), n)
            retrained = rng.normal(0, rng.uniform(0.3, 2), n)
            assert cs.example_epsilon(unlearned, retrained) == pytest.approx(
                _epsilon_by_definition(unlearned, retrained)
            ), (unlearned, retrained)


def test_an_interval_whose_left_end_passes_its_right_end_holds_nothing():
    """Unlearned (-0.88, -1.37, -0.28) against retrained (-0.65, -0.65, 1.27): the retrained sample is
    peakier only by its two equal values; an interval rule between its left and right end is empty. Counted
    as a negative number of models, it would make up ε = ln(5/3) = 0.51 where no rule tells the samples
    apart (ε 0 by the rules evaluated literally)."""
    unlearned, retrained = np.array([-0.88, -1.37, -0.28]), np.array([-0.65, -0.65, 1.27])
    assert _epsilon_by_definition(unlearned, retrained) == 0.0
    assert example_epsilon(unlearned, retrained) == 0.0

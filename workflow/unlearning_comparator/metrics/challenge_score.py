"""The NeurIPS 2023 machine-unlearning challenge's score, per forget example over many models.

Triantafillou et al., "Are we making progress in unlearning? Findings from the first NeurIPS unlearning
competition" (arXiv:2406.09073); the scoring as published in google-deepmind/unlearning_evaluation at
commit ffae0ff (metric.py, main.py). Where the Comparator's privacy score thresholds one model's outputs
against one retrained model's, this score looks at each forget image over N unlearned models (one method,
N seeds) and N retrained models:

1. each model's *logit-scaled confidence* in the image's true class, log p_y − log(1 − p_y);
2. per image, the two samples of N values are told apart by every rule of two families — one threshold
   (values above it are called the class with the larger median) and an interval of two thresholds (values
   inside it are called the peakier sample, the one of smaller range) — on a grid of 100 thresholds per
   unit; each rule's false-positive and false-negative rates over the models give
   ε = max(ln(1 − δ − FPR) − ln FNR, ln(1 − δ − FNR) − ln FPR), at least 0, δ = 1e-5; ε = ∞ where a rule
   separates the samples perfectly, and a rule where exactly one rate is 0 is discarded (too few models to
   tell); the image's ε is the largest, capped at 50. One sample far peakier than the other (range under
   1 % of the other's, as when a method pins an image's output) gets the cap outright;
3. the image earns points by the bucket its ε falls in: 1 for [0, 0.5), 1/2 for [0.5, 1), halving per
   bucket of 0.5 up to ⌈ln(N − 1)⌉ (what N models can resolve), nothing beyond;
4. the forget quality F is the mean over images, and the final score F × (retain accuracy ratio) ×
   (test accuracy ratio), unlearned over retrained, each a mean over the models.

The rates are counted with sorted samples (binary search), not a models × rules matrix, and ε is computed
once per distinct pair of counts, so a CPU scores thousands of images; the rule grids are the published
ones.
"""

from __future__ import annotations

import math

import numpy as np

DELTA = 1e-5
EPSILON_CAP = 50.0
THRESHOLDS_PER_UNIT = 100
BUCKET_WIDTH = 0.5
INTERVAL_MARGIN = 2.0  # how far the interval rules reach beyond the peakier sample (the published buffer)
PEAKY_RATIO = 0.01


def logit_scaled_confidence(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """log p_y − log(1 − p_y) of the softmax, per row: the true class's logit minus the log-sum-exp of the
    others (the same quantity, computed without subtracting probabilities)."""
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels)
    rows = np.arange(len(logits))
    others = logits.copy()
    others[rows, labels] = -np.inf
    top = others.max(axis=1, keepdims=True)
    log_others = top[:, 0] + np.log(np.exp(others - top).sum(axis=1))
    return logits[rows, labels] - log_others


def _epsilon_of_rates(fpr: np.ndarray, fnr: np.ndarray, tpr: np.ndarray, tnr: np.ndarray) -> np.ndarray:
    """Each rule's ε: ∞ for a perfect separation, NaN for a discarded rule (exactly one rate 0, or no
    finite term), else the larger of the two terms, at least 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        first = np.log(1 - DELTA - fpr) - np.log(fnr)
        second = np.log(1 - DELTA - fnr) - np.log(fpr)
    terms = np.where(np.isnan(first), second, np.where(np.isnan(second), first, np.maximum(first, second)))
    eps = np.clip(terms, 0, None)
    perfect = (fpr + fnr == 0) & (tpr + tnr == 2)
    eps = np.where(fpr * fnr == 0, np.nan, eps)
    return np.where(perfect, np.inf, eps)


def _inside(sorted_values: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """How many of the values lie in [low, high], per (low, high); none where low > high (the interval
    grid reaches past its right end when the margin exceeds the width)."""
    count = np.searchsorted(sorted_values, high, "right") - np.searchsorted(sorted_values, low, "left")
    return np.maximum(count, 0)


def _epsilon_of_counts(tp: np.ndarray, fp: np.ndarray, n_pos: int, n_neg: int) -> np.ndarray:
    """The ε of every distinct (true positives, false positives) pair among the rules: a rule's ε depends
    on its two counts alone, and N models allow at most (N + 1)² pairs where the grids hold ~10⁵ rules."""
    seen = np.zeros((n_pos + 1) * (n_neg + 1), dtype=bool)
    seen[tp * (n_neg + 1) + fp] = True
    tp, fp = np.divmod(np.flatnonzero(seen), n_neg + 1)
    tpr, fpr = tp / n_pos, fp / n_neg
    return _epsilon_of_rates(fpr, 1 - tpr, tpr, 1 - fpr)


def _single_threshold_epsilons(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    both = np.concatenate([pos, neg])
    count = math.ceil((both.max() - both.min()) * THRESHOLDS_PER_UNIT)
    thresholds = np.linspace(both.min(), both.max(), count)
    above = np.full_like(thresholds, np.inf)
    tp, fp = _inside(np.sort(pos), thresholds, above), _inside(np.sort(neg), thresholds, above)
    return _epsilon_of_counts(tp, fp, len(pos), len(neg))


def _interval_epsilons(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """The interval rules: values in [left, right] are called the peakier sample."""
    if np.ptp(pos) >= np.ptp(neg):
        pos, neg = neg, pos  # "positive": the peakier sample
    width = min(np.ptp(pos), np.ptp(neg))
    low, high = pos.min() + width - INTERVAL_MARGIN, pos.max() + INTERVAL_MARGIN
    rights = np.linspace(low, high, math.ceil((high - low) * THRESHOLDS_PER_UNIT))
    per_right = math.ceil(2 * INTERVAL_MARGIN * THRESHOLDS_PER_UNIT)
    offsets = np.linspace(-INTERVAL_MARGIN, INTERVAL_MARGIN, per_right)
    lefts = (rights[:, None] - width + offsets[None, :]).ravel()
    rights = np.repeat(rights, per_right)
    tp, fp = _inside(np.sort(pos), lefts, rights), _inside(np.sort(neg), lefts, rights)
    return _epsilon_of_counts(tp, fp, len(pos), len(neg))


def example_epsilon(unlearned: np.ndarray, retrained: np.ndarray) -> float:
    """One forget image's ε from its confidences under the unlearned and the retrained models."""
    unlearned, retrained = np.asarray(unlearned, float), np.asarray(retrained, float)
    if np.median(retrained) > np.median(unlearned):
        pos, neg = retrained, unlearned
    else:
        pos, neg = unlearned, retrained
    ranges = sorted([np.ptp(pos), np.ptp(neg)])
    if ranges[1] == 0:  # both samples constant: the same value (ε 0) or perfectly separated (∞)
        return 0.0 if pos[0] == neg[0] else EPSILON_CAP
    if ranges[0] / ranges[1] < PEAKY_RATIO:
        return EPSILON_CAP
    eps = np.concatenate([_interval_epsilons(pos, neg), _single_threshold_epsilons(pos, neg)])
    kept = eps[~np.isnan(eps)]
    if not len(kept):
        raise ValueError("every decision rule was discarded; the samples are too small to score")
    return float(min(kept.max(), EPSILON_CAP))


def bucket_points(num_models: int) -> list[tuple[float, float]]:
    """(bucket start, points) of the ε buckets N models can resolve: [0, 0.5) earns 1, then halving, up to
    ⌈ln(N − 1)⌉."""
    if num_models < 2:
        raise ValueError("the score needs at least two models of each kind")
    limit = math.ceil(math.log(num_models - 1))
    buckets, start, points = [], 0.0, 1.0
    while start + BUCKET_WIDTH <= limit:
        buckets.append((start, points))
        start, points = start + BUCKET_WIDTH, points / 2
    return buckets


def points_of(epsilon: float, buckets: list[tuple[float, float]]) -> float:
    return next((points for start, points in buckets if epsilon < start + BUCKET_WIDTH), 0.0)


def forget_quality(unlearned_confs: np.ndarray, retrained_confs: np.ndarray) -> tuple[float, np.ndarray]:
    """F and each image's ε, from [models, images] confidences of the unlearned and retrained models."""
    unlearned_confs, retrained_confs = np.asarray(unlearned_confs), np.asarray(retrained_confs)
    if unlearned_confs.shape != retrained_confs.shape or unlearned_confs.ndim != 2:
        raise ValueError("give [models, images] confidences of the same shape for both kinds of model")
    eps = np.array([example_epsilon(u, r) for u, r in zip(unlearned_confs.T, retrained_confs.T)])
    buckets = bucket_points(unlearned_confs.shape[0])
    return float(np.mean([points_of(e, buckets) for e in eps])), eps


def final_score(
    forget_quality_value: float,
    unlearned_retain: float,
    retrained_retain: float,
    unlearned_test: float,
    retrained_test: float,
) -> float:
    """F × (unlearned / retrained retain accuracy) × (unlearned / retrained test accuracy)."""
    return forget_quality_value * (unlearned_retain / retrained_retain) * (unlearned_test / retrained_test)

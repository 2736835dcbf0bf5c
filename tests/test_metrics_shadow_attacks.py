"""U-LiRA, offline RMIA and the ROC figures, against closed forms and hand-worked examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from unlearning_comparator.metrics.shadow_attacks import (
    auc,
    fit_gaussians,
    rmia_scores,
    roc,
    tpr_at_fpr,
    ulira_scores,
)


def _exact_sample(mean: float, std: float, n: int = 10) -> np.ndarray:
    """n values whose sample mean and sample standard deviation (ddof 1) are exactly ``mean`` and ``std``."""
    z = np.linspace(-1, 1, n)
    z = (z - z.mean()) / z.std(ddof=1)
    return mean + std * z


def _shadows(mean: float, std: float, images: int) -> np.ndarray:
    return np.tile(_exact_sample(mean, std)[:, None], (1, images))


def test_fitted_gaussians_per_image_and_pooled():
    confs = np.stack([_exact_sample(0, 1), _exact_sample(5, 3)], axis=1)
    mean, std = fit_gaussians(confs, pooled=False)
    assert mean == pytest.approx([0, 5]) and std == pytest.approx([1, 3])
    _, pooled = fit_gaussians(confs, pooled=True)
    assert pooled == pytest.approx([math.sqrt(5)] * 2)  # the root of the mean variance, (1 + 9) / 2


def test_ulira_is_the_gaussian_log_likelihood_ratio():
    """Equal variances: log N(c; 2, 1) − log N(c; 0, 1) = 2 (c − 1), linear in c; unequal ones: the
    closed form with both variances."""
    c = np.array([-1.0, 0.0, 1.0, 3.0])
    scores = ulira_scores(c, _shadows(2, 1, 4), _shadows(0, 1, 4))
    assert scores == pytest.approx(2 * (c - 1), abs=1e-12)
    scores = ulira_scores(c, _shadows(2, 1, 4), _shadows(0, 2, 4), pooled=False)
    assert scores == pytest.approx(-((c - 2) ** 2) / 2 + c**2 / 8 + math.log(2), abs=1e-12)


def test_ulira_on_synthetic_gaussians_reaches_the_closed_form_auc_and_half_for_the_null():
    """Audited models drawn from the shadows' own distributions: with means one standard deviation apart
    the likelihood ratio is monotone in the confidence, so its AUC is Φ(1/√2) = 0.760; audited values of
    one kind on both sides give 0.5. 2,000 audited values per side keep the sampling error near 0.006."""
    rng = np.random.default_rng(0)
    unlearned, retrained = _shadows(1, 1, 2000), _shadows(0, 1, 2000)
    expected = 0.5 * (1 + math.erf(1 / math.sqrt(2) / math.sqrt(2)))
    positives = ulira_scores(rng.normal(1, 1, 2000), unlearned, retrained)
    negatives = ulira_scores(rng.normal(0, 1, 2000), unlearned, retrained)
    assert auc(*roc(positives, negatives)) == pytest.approx(expected, abs=0.02)
    # the null: audited models of one kind on both sides (retrained against retrained) score 0.5
    null_positives = ulira_scores(rng.normal(0, 1, 2000), unlearned, retrained)
    null_negatives = ulira_scores(rng.normal(0, 1, 2000), unlearned, retrained)
    assert auc(*roc(null_positives, null_negatives)) == pytest.approx(0.5, abs=0.03)


def test_offline_rmia_by_hand():
    """p(x) = ((1 + 0.3) · 0.5 + 0.7) / 2 = 0.675 for every image; the target's ratio 0.9 / 0.675 over the
    population's (0.5, 0.6, 0.9, 0.3) / 0.675 is 1.8, 1.5, 1.0, 3.0."""
    refs = np.full((3, 1), 0.5)
    population_refs = np.full((3, 4), 0.5)
    population = np.array([0.5, 0.6, 0.9, 0.3])
    assert rmia_scores(np.array([0.9]), refs, population, population_refs) == pytest.approx([1.0])
    assert rmia_scores(np.array([0.9]), refs, population, population_refs, gamma=1.6) == pytest.approx([0.5])


def test_roc_auc_and_tpr_at_low_fpr_by_hand():
    """Positives 3, 2 and negatives 1, 2: AUC = (1 + 1 + 1 + ½) / 4 (the tie counts a half)."""
    fpr, tpr = roc([3, 2], [1, 2])
    assert fpr.tolist() == [0, 0, 0.5, 1, 1] and tpr.tolist() == [0, 0.5, 1, 1, 1]
    assert auc(fpr, tpr) == 0.875
    assert tpr_at_fpr(fpr, tpr, 0.0) == 0.5 and tpr_at_fpr(fpr, tpr, 0.5) == 1.0
    assert auc(*roc([5, 6], [1, 2])) == 1.0 and auc(*roc([1, 2], [5, 6])) == 0.0

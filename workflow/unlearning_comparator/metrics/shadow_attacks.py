"""Per-example membership attacks over shadow models: U-LiRA and offline RMIA, and their ROC figures.

Both score one forget image under one audited model against reference ("shadow") models whose relation to
the image is known, where the Comparator's attack thresholds one statistic over a whole population.

* **U-LiRA** (Hayes et al., "Inexact unlearning needs more careful evaluations to avoid a false sense of
  privacy", SaTML 2025, arXiv:2403.01218, after LiRA, Carlini et al., S&P 2022): per image, Gaussians fitted
  to its logit-scaled confidence under shadow models that were *unlearned* (trained on it, then made to
  forget it) and under shadow models *retrained* without it; the audited model's score is the log
  likelihood ratio log N(c; μ_u, σ_u²) − log N(c; μ_r, σ_r²), high where it looks unlearned rather than
  retrained. With few shadow models per image the variances are pooled over the images (LiRA's "fixed
  variance"), which the paper recommends below 64 models.
* **RMIA, offline** (Zarifzadeh et al., "Low-cost high-power membership inference attacks", ICML 2024):
  the audited model's true-class probability of the image over its probability under reference models that
  never saw it, made comparable across images by the same ratio on population images z; the score is the
  share of z whose ratio the image's exceeds by the factor γ. Offline, only "out" reference models exist,
  and p(x) is approximated as ((1 + a) p_out(x) + (1 − a)) / 2 with the paper's a.

``roc`` and its figures (AUC, TPR at a low FPR) turn scores of audited models known to be unlearned
(positives) and retrained (negatives) into the numbers the paper reports.
"""

from __future__ import annotations

import numpy as np

MIN_STD = 1e-6  # a floor under fitted standard deviations: identical shadow outputs would give 0


def _log_normal_pdf(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return -0.5 * ((x - mean) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi)


def fit_gaussians(confs: np.ndarray, pooled: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per image (columns of [models, images] confidences) the mean and the standard deviation; with
    ``pooled`` one standard deviation for all images (the root mean of their variances)."""
    confs = np.asarray(confs, dtype=np.float64)
    if confs.ndim != 2 or confs.shape[0] < 2:
        raise ValueError("give [models, images] confidences of at least two shadow models")
    mean, var = confs.mean(axis=0), confs.var(axis=0, ddof=1)
    std = np.full_like(mean, np.sqrt(var.mean())) if pooled else np.sqrt(var)
    return mean, np.maximum(std, MIN_STD)


def ulira_scores(
    audited: np.ndarray, unlearned_shadows: np.ndarray, retrained_shadows: np.ndarray, pooled: bool = True
) -> np.ndarray:
    """U-LiRA's log likelihood ratio of each image (``audited``: one model's confidences, [images]; the
    shadows: [models, images]); positive where the audited model looks unlearned rather than retrained."""
    mu_u, sd_u = fit_gaussians(unlearned_shadows, pooled)
    mu_r, sd_r = fit_gaussians(retrained_shadows, pooled)
    audited = np.asarray(audited, dtype=np.float64)
    return _log_normal_pdf(audited, mu_u, sd_u) - _log_normal_pdf(audited, mu_r, sd_r)


def rmia_scores(
    target_prob: np.ndarray,
    target_reference_probs: np.ndarray,
    population_prob: np.ndarray,
    population_reference_probs: np.ndarray,
    a: float = 0.3,
    gamma: float = 1.0,
) -> np.ndarray:
    """Offline RMIA: per target image, the share of population images z with
    (p(x|θ) / p(x)) / (p(z|θ) / p(z)) ≥ γ; p(·|θ) the audited model's true-class probabilities
    (``*_prob``: [images]), p(·) from the reference models that never saw them ([models, images])."""

    def marginal(reference_probs: np.ndarray) -> np.ndarray:
        out = np.asarray(reference_probs, dtype=np.float64).mean(axis=0)
        return 0.5 * ((1 + a) * out + (1 - a))

    ratio_x = np.asarray(target_prob, float) / marginal(target_reference_probs)
    ratio_z = np.asarray(population_prob, float) / marginal(population_reference_probs)
    # ratio_x / ratio_z >= γ  <=>  ratio_z <= ratio_x / γ (ratios are positive): a binary search per image
    # instead of an images x population matrix
    return np.searchsorted(np.sort(ratio_z), ratio_x / gamma, side="right") / len(ratio_z)


def roc(positive_scores: np.ndarray, negative_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(FPR, TPR) of "score ≥ t is positive" at every distinct threshold, from (0, 0) to (1, 1)."""
    pos, neg = np.asarray(positive_scores, float).ravel(), np.asarray(negative_scores, float).ravel()
    thresholds = np.unique(np.concatenate([pos, neg]))[::-1]
    tpr = np.searchsorted(np.sort(-pos), -thresholds, "right") / len(pos)
    fpr = np.searchsorted(np.sort(-neg), -thresholds, "right") / len(neg)
    return np.concatenate([[0.0], fpr, [1.0]]), np.concatenate([[0.0], tpr, [1.0]])


def auc(fpr: np.ndarray, tpr: np.ndarray) -> float:
    """Area under the ROC curve (trapezoids; ties count a half, as the Mann-Whitney statistic does)."""
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def tpr_at_fpr(fpr: np.ndarray, tpr: np.ndarray, target: float) -> float:
    """The largest TPR among thresholds whose FPR is at most ``target`` (the papers' TPR at 1 %, 0.1 %)."""
    return float(tpr[fpr <= target].max())

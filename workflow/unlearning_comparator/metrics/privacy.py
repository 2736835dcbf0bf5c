"""Privacy scores: worst-case threshold attacks between two models' outputs on the same forget images.

Per forget instance, two statistics, as in the Unlearning Comparator (arXiv:2508.12730;
code: gnueaj/Machine-Unlearning-Comparator at commit 0e3ce99d, backend/app/utils/attack.py):

* entropy of softmax(z / 2);
* confidence = log p_max − log(1 − p_max) at T = 1 (the top class's log-odds, not the true class's).

A threshold sweep over each statistic separates the evaluated model's values from the retrained
model's, in both directions, and every (FPR, FNR) point gets an attack score 1 − 2^−ε. Two rules
for ε are implemented, both from the differential-privacy bound ε ≥ ln((1 − δ − FPR) / FNR) (and
the same with the rates swapped):

* :func:`comparator_attack_score` — the Comparator's rule (its ``calculate_scores``): the
  *minimum* of the two terms, rates clipped away from 0 and 1 − δ. PS = 1 − the worst score over
  all curves (:func:`privacy_score`) is the Comparator's privacy score.
* :func:`challenge_attack_score` — the NeurIPS 2023 machine-unlearning challenge's rule
  (google-deepmind/unlearning_evaluation at commit ffae0ff, metric.py, ``_get_epsilons``;
  Triantafillou et al., "Are we making progress in unlearning? Findings from the first NeurIPS
  unlearning competition", arXiv:2406.09073): the *maximum* of the two terms, no clipping, and
  thresholds with exactly one zero rate discarded. :func:`challenge_privacy_score` aggregates it.

Differences from the Comparator's statistics, both deliberate: they are computed in float64 from
``log_softmax`` and need no 1e-45 offset, so a very confident prediction keeps a finite, exact
log-odds instead of saturating at ≈103.6 (log 1 − log 1e-45); after clipping to the sweep ranges
the two agree except within float32 rounding of p_max.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

ENTROPY_TEMPERATURE = 2.0
CONFIDENCE_TEMPERATURE = 1.0
ENTROPY_RANGE = (0.0, 2.5)  # [0, ln 10 ≈ 2.303] plus headroom; sized for 10 classes, as the original
CONFIDENCE_RANGE = (-2.5, 10.0)
N_THRESHOLDS = 51
DELTA = 1e-5
DIRECTIONS = ("above_unlearn", "above_retrain")


def _logits64(logits) -> torch.Tensor:
    """Logits as a float64 tensor of shape (n, C), on their device (the CPU for MPS, which lacks float64)."""
    if not isinstance(logits, torch.Tensor):
        logits = torch.as_tensor(np.asarray(logits))
    logits = logits.detach()
    if logits.device.type == "mps":
        logits = logits.cpu()
    if logits.ndim != 2 or logits.shape[1] < 1:
        raise ValueError(f"logits must have shape (n, C), got {tuple(logits.shape)}")
    return logits.to(torch.float64)


def entropy(logits, temperature: float = ENTROPY_TEMPERATURE) -> np.ndarray:
    """Shannon entropy (natural log) of softmax(logits / T) per row, float64, shape (n,).

    Computed as −Σ p·log p with log p from ``log_softmax`` in float64, which is stable for any
    logit scale; a class with p = 0 contributes 0 (the limit), even for a logit of −inf.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    log_p = torch.log_softmax(_logits64(logits) / temperature, dim=1)
    p = log_p.exp()
    terms = torch.where(p > 0, p * log_p, torch.zeros_like(p))
    return (-terms.sum(dim=1)).cpu().numpy()


def confidence(logits, temperature: float = CONFIDENCE_TEMPERATURE) -> np.ndarray:
    """Top-class log-odds log p_max − log(1 − p_max) per row, float64, shape (n,).

    Evaluated as z_max − logsumexp(other logits) (all divided by T), which equals the log-odds
    exactly but never forms 1 − p_max, so [50, 0, 0] gives 50 − ln 2 rather than inf or the
    original's offset-capped value. Only one maximum is removed, so ties stay exact ([1, 1, 0]
    gives 1 − log(e + 1)). A single-class model gives +inf.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    z = _logits64(logits) / temperature
    top, index = z.max(dim=1, keepdim=True)
    others = z.scatter(1, index, float("-inf"))
    return (top.squeeze(1) - torch.logsumexp(others, dim=1)).cpu().numpy()


def comparator_attack_score(fpr, fnr, delta: float = DELTA) -> np.ndarray:
    """The Comparator's ε rule (minimum of the two terms): 1 − forgetting quality of (FPR, FNR) points.

    As the Comparator's ``calculate_scores`` (gnueaj/Machine-Unlearning-Comparator at commit
    0e3ce99d, backend/app/utils/attack.py): fq = 0 for a perfect separation (FPR = FNR = 0);
    fq = 1 when either rate is ≥ 1 − δ (a rule that says "everyone" or "no one"); otherwise
    fq = 2^−ε with ε = max(0, min(ln(1−δ−FPR) − ln FNR, ln(1−δ−FNR) − ln FPR)), both rates clipped
    to [1e-10, 1 − δ − 1e-10]. Attack score = 1 − fq. Broadcasts; returns float64 of the broadcast
    shape (a NumPy scalar for scalar inputs).
    """
    fpr, fnr = _rates(fpr, fnr)
    perfect = (fpr == 0) & (fnr == 0)
    trivial = (fpr >= 1 - delta) | (fnr >= 1 - delta)
    fpr_c = np.clip(fpr, 1e-10, 1 - delta - 1e-10)
    fnr_c = np.clip(fnr, 1e-10, 1 - delta - 1e-10)
    eps = np.minimum(np.log(1 - delta - fpr_c) - np.log(fnr_c), np.log(1 - delta - fnr_c) - np.log(fpr_c))
    fq = np.exp2(-np.maximum(eps, 0.0))
    fq = np.where(trivial, 1.0, fq)
    fq = np.where(perfect, 0.0, fq)
    return (1.0 - fq)[()]


def challenge_attack_score(fpr, fnr, delta: float = DELTA) -> np.ndarray:
    """The NeurIPS 2023 unlearning challenge's ε rule (maximum of the two terms), as 1 − 2^−ε.

    As ``_get_epsilons`` in google-deepmind/unlearning_evaluation (commit ffae0ff, metric.py; the
    competition is described in arXiv:2406.09073), per threshold:

    * FPR = FNR = 0 (perfect separation): ε = ∞, attack score 1;
    * exactly one of FPR, FNR is 0: the threshold is discarded (NaN) — the challenge reads it as
      too few samples rather than as evidence;
    * otherwise ε = max(0, max(ln(1−δ−FPR) − ln FNR, ln(1−δ−FNR) − ln FPR)), rates not clipped. A
      term whose log argument is negative (a rate above 1 − δ, e.g. FPR = 1) is NaN and ignored,
      as ``np.nanmax`` does; if both are, the threshold is discarded too (NaN).

    Only the per-threshold rule is taken: the challenge scores each example over many models'
    outputs, adds two-threshold rules and caps ε at 50 (1 − 2^−50 is 1 to within 1e-15).
    Broadcasts like :func:`comparator_attack_score`.
    """
    fpr, fnr = _rates(fpr, fnr)
    with np.errstate(divide="ignore", invalid="ignore"):
        # np.fmax ignores a NaN term, like np.nanmax over the pair; NaN only when both are NaN
        eps = np.fmax(np.log(1 - delta - fpr) - np.log(fnr), np.log(1 - delta - fnr) - np.log(fpr))
    eps = np.maximum(eps, 0.0)  # keeps NaN
    eps = np.where((fpr == 0) != (fnr == 0), np.nan, eps)
    eps = np.where((fpr == 0) & (fnr == 0), np.inf, eps)
    return (1.0 - np.exp2(-eps))[()]


def _rates(fpr, fnr) -> tuple[np.ndarray, np.ndarray]:
    """FPR and FNR as float64 arrays of their broadcast shape."""
    return np.broadcast_arrays(np.asarray(fpr, dtype=np.float64), np.asarray(fnr, dtype=np.float64))


def _values_numpy(values, name: str) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {array.shape}")
    if np.isnan(array).any():
        raise ValueError(f"{name} contains NaN (a diverged model?); the threshold sweep is undefined")
    return array


def _rate_at_or_above(sorted_values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """mean(values ≥ t) for every t, from the values sorted ascending."""
    below = np.searchsorted(sorted_values, thresholds, side="left")
    return (sorted_values.size - below) / sorted_values.size


def threshold_sweep(
    model_values, retrain_values, low: float, high: float, n: int = N_THRESHOLDS, delta: float = DELTA
) -> dict[str, dict[str, np.ndarray]]:
    """The attack curves of one statistic, for both directions, as the Comparator sweeps them.

    Both value arrays are clipped to [low, high]; thresholds = linspace(low, high, n). For
    "above_unlearn" the positives P are the model's values and the negatives N the retrained
    model's ("above_retrain" swaps them); TPR = mean(P ≥ t), FPR = mean(N ≥ t), FNR = 1 − TPR.
    Returns {direction: {"threshold", "fpr", "fnr", "attack_score", "attack_score_challenge"}},
    each a float64 array of n: ``attack_score`` by the Comparator's ε rule, the other by the
    challenge's (NaN at discarded thresholds).
    """
    if not low < high:
        raise ValueError(f"need low < high, got [{low}, {high}]")
    if n < 2:
        raise ValueError(f"need at least two thresholds, got {n}")
    model = np.sort(np.clip(_values_numpy(model_values, "model_values"), low, high))
    retrain = np.sort(np.clip(_values_numpy(retrain_values, "retrain_values"), low, high))
    thresholds = np.linspace(low, high, n)
    model_rate = _rate_at_or_above(model, thresholds)
    retrain_rate = _rate_at_or_above(retrain, thresholds)
    curves = {}
    for direction, (positive_rate, negative_rate) in {
        "above_unlearn": (model_rate, retrain_rate),
        "above_retrain": (retrain_rate, model_rate),
    }.items():
        fpr = negative_rate.copy()
        fnr = 1.0 - positive_rate
        curves[direction] = {
            "threshold": thresholds.copy(),
            "fpr": fpr,
            "fnr": fnr,
            "attack_score": np.asarray(comparator_attack_score(fpr, fnr, delta)),
            "attack_score_challenge": np.asarray(challenge_attack_score(fpr, fnr, delta)),
        }
    return curves


def privacy_score(curves: Iterable) -> float:
    """The Comparator's privacy score PS = 1 − the largest attack score over every curve given.

    Pass curves of :func:`comparator_attack_score` (higher PS is more private); NaN is an error.
    """
    worst = None
    for curve in curves:
        scores = np.asarray(curve, dtype=np.float64)
        if scores.size == 0:
            continue
        if np.isnan(scores).any():
            raise ValueError("an attack-score curve contains NaN")
        top = float(scores.max())
        worst = top if worst is None else max(worst, top)
    if worst is None:
        raise ValueError("privacy_score needs at least one non-empty attack-score curve")
    return 1.0 - worst


def challenge_privacy_score(curves: Iterable) -> float:
    """PS_challenge = 1 − the largest non-NaN :func:`challenge_attack_score` over every curve given.

    Discarded thresholds (NaN) are skipped; if every threshold is discarded — e.g. both models give
    every image the same value, so each threshold calls all or none of both — no threshold tells
    the models apart and the score is 1.0 (the challenge's code stops with an assertion there).
    """
    worst = 0.0
    for curve in curves:
        scores = np.asarray(curve, dtype=np.float64)
        kept = scores[~np.isnan(scores)]
        if kept.size:
            worst = max(worst, float(kept.max()))
    return 1.0 - worst

"""The Comparator's privacy score (PS): a worst-case threshold attack between two models' outputs.

Per forget instance, two statistics (reference/original-comparator.md §5.3, literature.md §E.5):

* entropy of softmax(z / 2);
* confidence = log p_max − log(1 − p_max) at T = 1 (the top class's log-odds, not the true class's).

A threshold sweep over each statistic separates the evaluated model's values from the retrained
model's, in both directions; each (FPR, FNR) point is scored with the NeurIPS 2023 unlearning
challenge's ε formula (literature.md §E.4), and PS = 1 − the worst attack score over all curves.

Differences from the original, both deliberate: the statistics are computed in float64 from
``log_softmax`` and need no 1e-45 offset, so a very confident prediction keeps a finite, exact
log-odds instead of saturating at ≈103.6 (log 1 − log 1e-45); after clipping to the sweep ranges
the two agree except within float32 rounding of p_max.
"""

from __future__ import annotations

from typing import Iterable

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


def attack_score(fpr, fnr, delta: float = DELTA) -> np.ndarray:
    """1 − forgetting quality of (FPR, FNR) points: the NeurIPS 2023 challenge's ε, as in §5.3.

    fq = 0 for a perfect separation (FPR = FNR = 0); fq = 1 when either rate is ≥ 1 − δ (a rule
    that says "everyone" or "no one"); otherwise fq = 2^−ε with
    ε = max(0, min(ln(1−δ−FPR) − ln FNR, ln(1−δ−FNR) − ln FPR)), both rates clipped to
    [1e-10, 1 − δ − 1e-10]. Broadcasts; returns float64 of the broadcast shape (a NumPy scalar
    for scalar inputs).
    """
    fpr, fnr = np.broadcast_arrays(np.asarray(fpr, dtype=np.float64), np.asarray(fnr, dtype=np.float64))
    perfect = (fpr == 0) & (fnr == 0)
    trivial = (fpr >= 1 - delta) | (fnr >= 1 - delta)
    fpr_c = np.clip(fpr, 1e-10, 1 - delta - 1e-10)
    fnr_c = np.clip(fnr, 1e-10, 1 - delta - 1e-10)
    eps = np.minimum(np.log(1 - delta - fpr_c) - np.log(fnr_c), np.log(1 - delta - fnr_c) - np.log(fpr_c))
    fq = np.exp2(-np.maximum(eps, 0.0))
    fq = np.where(trivial, 1.0, fq)
    fq = np.where(perfect, 0.0, fq)
    return (1.0 - fq)[()]


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
    """The attack curves of one statistic, for both directions (§5.3).

    Both value arrays are clipped to [low, high]; thresholds = linspace(low, high, n). For
    "above_unlearn" the positives P are the model's values and the negatives N the retrained
    model's ("above_retrain" swaps them); TPR = mean(P ≥ t), FPR = mean(N ≥ t), FNR = 1 − TPR.
    Returns {direction: {"threshold", "fpr", "fnr", "attack_score"}}, each a float64 array of n.
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
            "attack_score": np.asarray(attack_score(fpr, fnr, delta)),
        }
    return curves


def privacy_score(curves: Iterable) -> float:
    """PS = 1 − the largest attack score over every curve given (higher is more private)."""
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

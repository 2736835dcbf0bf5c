"""Accuracy metrics: per-class accuracy, the Comparator's UA/RA/TUA/TRA, the literature's TA, prediction
matrices, for each kind of forget set (one class, several classes, a random sample of training images).

UA/RA/TUA/TRA and the prediction matrices follow the Unlearning Comparator (arXiv:2508.12730; code:
gnueaj/Machine-Unlearning-Comparator at commit 0e3ce99d, backend/app/threads/unlearn_*_thread.py and
backend/app/utils/evaluation.py); TA is the testing accuracy of the SalUn / ℓ1-sparse papers
(arXiv:2310.12508, arXiv:2304.04934). Nothing here is rounded: the original stores 3 decimals, we
keep full precision and leave rounding to the site.
"""

from __future__ import annotations

import numpy as np
import torch


def _labels_numpy(values, name: str) -> np.ndarray:
    """A 1-D int64 NumPy copy of integer labels or predictions given as a tensor or array-like."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name} must hold integers, got dtype {array.dtype}")
    return array.astype(np.int64, copy=False)


def _check_range(array: np.ndarray, num_classes: int, name: str) -> None:
    if array.size and (array.min() < 0 or array.max() >= num_classes):
        raise ValueError(
            f"{name} must lie in [0, {num_classes - 1}], got values in [{array.min()}, {array.max()}]"
        )


def per_class_accuracy(preds, labels, num_classes: int) -> np.ndarray:
    """Top-1 accuracy of each true class, shape (C,), float64; NaN for a class with no samples.

    NaN (rather than 0) keeps "no data" distinguishable from "all wrong".
    """
    preds = _labels_numpy(preds, "preds")
    labels = _labels_numpy(labels, "labels")
    if preds.shape != labels.shape:
        raise ValueError(f"preds {preds.shape} and labels {labels.shape} differ in length")
    _check_range(labels, num_classes, "labels")
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    correct = np.bincount(labels[preds == labels], minlength=num_classes).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, correct / np.where(counts > 0, counts, 1.0), np.nan)


def _accuracy_vectors(train_acc, test_acc) -> tuple[np.ndarray, np.ndarray]:
    train_acc = np.asarray(train_acc, dtype=np.float64)
    test_acc = np.asarray(test_acc, dtype=np.float64)
    if train_acc.ndim != 1 or train_acc.shape != test_acc.shape:
        raise ValueError(
            f"train_acc {train_acc.shape} and test_acc {test_acc.shape} must be the same 1-D shape"
        )
    if train_acc.shape[0] < 2:
        raise ValueError("need at least two classes")
    return train_acc, test_acc


def class_set_metrics(train_acc, test_acc, classes) -> dict[str, float]:
    """UA, RA, TUA, TRA of a class-wise forget set (one or several whole classes), unrounded.

    The Comparator's convention, generalised from one class to several: UA/TUA are the *unweighted* mean
    train/test accuracy over the set's classes, RA/TRA over the other classes (the original divides the
    other classes' sum by C − 1). One class gives exactly :func:`forget_metrics`. A NaN accuracy
    propagates.
    """
    train_acc, test_acc = _accuracy_vectors(train_acc, test_acc)
    num_classes = train_acc.shape[0]
    chosen = sorted({int(c) for c in classes})
    if not chosen or chosen[0] < 0 or chosen[-1] >= num_classes:
        raise ValueError(f"forget classes {chosen} must be non-empty and lie in [0, {num_classes - 1}]")
    if len(chosen) == num_classes:
        raise ValueError("a forget set of every class leaves no retain class")
    forget = np.zeros(num_classes, dtype=bool)
    forget[chosen] = True
    return {
        "UA": float(train_acc[forget].mean()),
        "RA": float(train_acc[~forget].mean()),
        "TUA": float(test_acc[forget].mean()),
        "TRA": float(test_acc[~forget].mean()),
    }


def forget_metrics(train_acc, test_acc, forget_class: int) -> dict[str, float]:
    """UA, RA, TUA, TRA of one forget class in the Comparator's convention, unrounded.

    UA/TUA are the forget class's train/test accuracy; RA/TRA the *unweighted* mean of the other
    classes' accuracies (the original divides their sum by C − 1). A NaN accuracy propagates.
    """
    return class_set_metrics(train_acc, test_acc, [forget_class])


def share_correct(preds, labels, mask=None) -> float:
    """Share of the samples (those where ``mask`` is True, or all) predicted correctly; NaN if none."""
    preds = _labels_numpy(preds, "preds")
    labels = _labels_numpy(labels, "labels")
    if preds.shape != labels.shape:
        raise ValueError(f"preds {preds.shape} and labels {labels.shape} differ in length")
    kept = np.ones(len(labels), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if kept.shape != labels.shape:
        raise ValueError(f"mask {kept.shape} and labels {labels.shape} differ in length")
    if not kept.any():
        return float("nan")
    return float(np.mean(preds[kept] == labels[kept]))


def random_set_metrics(train_preds, train_labels, forget_mask, test_acc) -> dict[str, float | None]:
    """UA, RA, TUA, TRA of a forget set of training images drawn at random across the classes.

    As SalUn (arXiv:2310.12508) and ℓ1-sparse (arXiv:2304.04934) report random-data forgetting: UA is the
    share of the forget set's images classified correctly, RA the share of the retain set's. Such a set
    has no test counterpart, so TUA is None and TRA is the unweighted mean test accuracy over all classes.
    """
    forget_mask = np.asarray(forget_mask, dtype=bool)
    test_acc = np.asarray(test_acc, dtype=np.float64)
    if test_acc.ndim != 1:
        raise ValueError(f"test_acc must be 1-D, got shape {test_acc.shape}")
    return {
        "UA": share_correct(train_preds, train_labels, forget_mask),
        "RA": share_correct(train_preds, train_labels, ~forget_mask),
        "TUA": None,
        "TRA": float(test_acc.mean()),
    }


def accuracy_outside_classes(preds, labels, excluded_classes) -> float:
    """Share of the samples of none of ``excluded_classes`` that are predicted correctly (NaN if none).

    With the test split and a class-wise forget set this is the SalUn / ℓ1-sparse literature's TA: in
    class-wise forgetting their test set drops the forgotten classes. It weights every sample equally,
    so it differs from TRA (the mean of per-class accuracies) when the classes' sizes differ. With no
    excluded class (a random forget set) it is the share of all samples classified correctly, the
    literature's TA for random-data forgetting.
    """
    labels_np = _labels_numpy(labels, "labels")
    kept = ~np.isin(labels_np, np.asarray(list(excluded_classes), dtype=np.int64))
    return share_correct(preds, labels_np, kept)


def accuracy_outside_class(preds, labels, excluded_class: int) -> float:
    """:func:`accuracy_outside_classes` of one class (the SalUn / ℓ1-sparse TA of class-wise forgetting)."""
    return accuracy_outside_classes(preds, labels, [excluded_class])


def prediction_matrices(logits, labels, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-normalised confusion matrix and mean softmax per true class; both (C, C) float64.

    ``proportion[i, j]`` is the share of true-class-i samples whose argmax is j (rows sum to 1);
    ``mean_confidence[i, j]`` is the mean softmax (T = 1) probability of class j over the samples of
    true class i. A class without samples gets a NaN row in both. ``logits`` may be a tensor on any
    device (the softmax runs there, in float32, or float64 if given float64) or an array.
    """
    if not isinstance(logits, torch.Tensor):
        logits = torch.as_tensor(np.asarray(logits))
    if logits.ndim != 2 or logits.shape[1] != num_classes:
        raise ValueError(f"logits must have shape (n, {num_classes}), got {tuple(logits.shape)}")
    labels = _labels_numpy(labels, "labels")
    if labels.shape[0] != logits.shape[0]:
        raise ValueError(f"{logits.shape[0]} logits but {labels.shape[0]} labels")
    _check_range(labels, num_classes, "labels")
    logits = logits.detach()
    if logits.dtype != torch.float64:
        logits = logits.float()  # half / bfloat16 softmax would lose ~3 significant digits
    probs = torch.softmax(logits, dim=1).cpu().numpy().astype(np.float64)
    # argmax of the logits (not of the rounded probabilities) on the CPU: first maximum on ties
    preds = logits.cpu().numpy().argmax(axis=1)

    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    confusion = np.bincount(labels * num_classes + preds, minlength=num_classes * num_classes)
    confusion = confusion.reshape(num_classes, num_classes).astype(np.float64)
    one_hot = np.zeros((labels.shape[0], num_classes), dtype=np.float64)
    one_hot[np.arange(labels.shape[0]), labels] = 1.0
    prob_sums = one_hot.T @ probs  # (C, C): sum of probability vectors per true class, in float64

    safe = np.where(counts > 0, counts, 1.0)[:, None]
    empty = (counts == 0)[:, None]
    proportion = np.where(empty, np.nan, confusion / safe)
    mean_confidence = np.where(empty, np.nan, prob_sums / safe)
    return proportion, mean_confidence

"""SalUn-convention MIA efficacy, so our numbers compare with the literature.

The metric ("MIA-Efficacy") as defined by J. Jia et al., "Model Sparsity Can Simplify Machine
Unlearning", NeurIPS 2023 (arXiv:2304.04934), and used by C. Fan et al., "SalUn: Empowering Machine
Unlearning via Gradient-based Weight Saliency in Both Image Classification and Generation", ICLR 2024
(arXiv:2310.12508).

A population attack on one scalar: the evaluated model's softmax probability of the true class.
An RBF SVC (C = 3, gamma = "auto") is fitted on members (retain training samples, label 1) against
non-members (test samples, label 0), all scored by the *evaluated* model itself, and applied to the
forget set; the efficacy is the share of forget samples predicted non-member. Higher means the
forget set looks less like training data. (The original Comparator's optional variant instead fits
linear SVCs on the *pre-unlearning* model's true-class probability and entropy, and never runs in its
shipped configuration: docs/the-original-comparator.md §4.3. We follow SalUn because that is what
papers report.)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

SVC_C = 3.0
DECIMALS = 4


def true_class_confidence(logits, labels) -> np.ndarray:
    """softmax(logits)[i, labels[i]] at T = 1, float64, shape (n,); computed from float64 log_softmax."""
    if not isinstance(logits, torch.Tensor):
        logits = torch.as_tensor(np.asarray(logits))
    logits = logits.detach()
    if logits.device.type == "mps":  # no float64 there
        logits = logits.cpu()
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (n, C), got {tuple(logits.shape)}")
    labels = torch.as_tensor(
        labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    )
    if labels.ndim != 1 or labels.shape[0] != logits.shape[0]:
        raise ValueError(
            f"need one label per row of logits, got {tuple(labels.shape)} for {tuple(logits.shape)}"
        )
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= logits.shape[1]):
        raise ValueError(f"labels must lie in [0, {logits.shape[1] - 1}]")
    log_p = torch.log_softmax(logits.to(torch.float64), dim=1)
    picked = log_p.gather(1, labels.to(device=log_p.device, dtype=torch.int64)[:, None]).squeeze(1)
    return picked.exp().cpu().numpy()


def _feature(values, name: str) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    return array


def mia_predictions(
    member_conf, nonmember_conf, target_conf, decimals: int | None = DECIMALS, C: float = SVC_C
) -> np.ndarray:
    """The attack's verdict on every target sample: int64 array, 1 = member, 0 = non-member.

    Speed: the feature is rounded to ``decimals`` (None: no rounding) and identical (value, label)
    pairs are merged into one sample weighted by their count. For an SVM this is exact: identical
    points have identical kernel rows, so the dual optimum only depends on the sum of their
    multipliers, bounded by count × C, which is what ``sample_weight`` sets. The target is
    predicted on its unique rounded values and expanded. With ~18 000 points this takes the
    original's seconds down to well under one.

    Degenerate cases: if only one class of training data is given (e.g. no non-members), the only
    classifier there is predicts that class for everyone.
    """
    members = _feature(member_conf, "member_conf")
    nonmembers = _feature(nonmember_conf, "nonmember_conf")
    target = _feature(target_conf, "target_conf")
    for name, values in (("member_conf", members), ("nonmember_conf", nonmembers), ("target_conf", target)):
        if not np.isfinite(values).all():
            raise ValueError(f"{name} contains NaN or inf")
    if members.size == 0 and nonmembers.size == 0:
        raise ValueError("mia_predictions needs member or non-member samples")
    if target.size == 0:
        return np.zeros(0, dtype=np.int64)
    if members.size == 0 or nonmembers.size == 0:
        return np.full(target.size, 1 if members.size else 0, dtype=np.int64)

    if decimals is not None:
        members, nonmembers, target = (np.round(v, decimals) for v in (members, nonmembers, target))
    features = np.concatenate([members, nonmembers])
    classes = np.concatenate([np.ones(members.size), np.zeros(nonmembers.size)])
    pairs, counts = np.unique(np.stack([features, classes], axis=1), axis=0, return_counts=True)

    from sklearn.svm import SVC  # imported here: sklearn costs ~1 s to import

    svc = SVC(C=C, gamma="auto", kernel="rbf")
    svc.fit(pairs[:, :1], pairs[:, 1].astype(np.int64), sample_weight=counts.astype(np.float64))
    unique_target, inverse = np.unique(target, return_inverse=True)
    return svc.predict(unique_target[:, None]).astype(np.int64)[inverse.reshape(-1)]


def mia_efficacy(
    member_conf, nonmember_conf, target_conf, decimals: int | None = DECIMALS, C: float = SVC_C
) -> float:
    """Share of the target (forget) samples the SVC predicts non-member, in [0, 1] (SalUn reports ×100).

    Returns NaN when any input holds NaN or inf (e.g. a diverged model's logits): there is no
    meaningful attack then, and NaN stays visible where the original silently reported 0.5. NaN
    also for an empty target set. See :func:`mia_predictions` for the rest.
    """
    arrays = [
        _feature(v, name)
        for v, name in (
            (member_conf, "member_conf"),
            (nonmember_conf, "nonmember_conf"),
            (target_conf, "target_conf"),
        )
    ]
    if not all(np.isfinite(a).all() for a in arrays):
        return float("nan")
    predictions = mia_predictions(*arrays, decimals=decimals, C=C)
    if predictions.size == 0:
        return float("nan")
    return float(np.mean(predictions == 0))


class MIASets(NamedTuple):
    members: np.ndarray  # int64 positions in the training split
    nonmembers: np.ndarray  # int64 positions in the test split
    target: np.ndarray  # int64 positions in the training split


def _numpy_1d(values, name: str) -> np.ndarray:
    array = np.asarray(values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D")
    return array


def mia_sets_of_masks(train_forget, test_counterpart) -> MIASets:
    """Index arrays of SalUn's MIA protocol for any forget set (SalUn, arXiv:2310.12508, as ℓ1-sparse,
    arXiv:2304.04934), from two bool masks: which training images are in the forget set, and which test
    images are its *test counterpart* (the test images of a class-wise set's classes; none for a random
    set).

    * non-members: the test samples outside the test counterpart (class-wise runs drop the forgotten
      classes from D_test; random-data runs keep all of it);
    * members: the first |non-members| retain (not forget-set) training samples, in index order (all of
      them if there are fewer);
    * target: every training sample of the forget set.
    """
    forget = _numpy_1d(train_forget, "train_forget").astype(bool)
    counterpart = _numpy_1d(test_counterpart, "test_counterpart").astype(bool)
    nonmembers = np.flatnonzero(~counterpart)
    retain = np.flatnonzero(~forget)
    return MIASets(
        members=retain[: nonmembers.size].astype(np.int64),
        nonmembers=nonmembers.astype(np.int64),
        target=np.flatnonzero(forget).astype(np.int64),
    )


def salun_mia_sets(train_labels, test_labels, forget_class: int) -> MIASets:
    """:func:`mia_sets_of_masks` of one whole forget class: non-members are the test samples not of the
    class, members as many training samples not of it (the first by index), target its training samples."""
    train = _numpy_1d(train_labels, "train_labels")
    test = _numpy_1d(test_labels, "test_labels")
    return mia_sets_of_masks(train == forget_class, test == forget_class)

"""The subsets every model of an experiment is measured on, chosen once and identically for all.

* the forget set (every training image of the forget class) and the retain set (the rest);
* the fixed evaluation subset: ``per_class`` training images per class drawn with the experiment's
  seed, concatenated in class order (as the original's, docs/the-original-comparator.md §1.2), used for
  embeddings and instance views;
* the CKA pool: the first images of each class (the original takes the first images by sorted index,
  docs/the-original-comparator.md §5), arranged in mixed mini-batches with the same number of images
  of every class. A model's Gram matrix of one mixed batch then contains, as sub-blocks, the Gram
  matrices of that batch's forget images and of its retain images for *every* forget class, so one
  forward pass serves them all;
* the validation split: a seeded, class-stratified share of the test split, drawn from the test images
  outside the CKA test pool, on which each method's grid point is chosen
  (``unlearning_comparator.selection``); every reported metric that uses test images uses the rest of
  the test split only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def forget_mask(labels: torch.Tensor, forget_class: int) -> torch.Tensor:
    return labels == forget_class


def evaluation_subset(labels: torch.Tensor, per_class: int, seed: int) -> torch.Tensor:
    """Positions of ``per_class`` images of each class, chosen with ``seed``, in class order."""
    generator = torch.Generator().manual_seed(int(seed))
    labels = labels.cpu()
    chosen = []
    for c in range(int(labels.max()) + 1):
        members = (labels == c).nonzero().flatten()
        if len(members) < per_class:
            raise ValueError(
                f"class {c} has {len(members)} images, fewer than the {per_class} the subset needs"
            )
        chosen.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    return torch.cat(chosen)


class ValidationSplitError(ValueError):
    """A class has too few test images outside the CKA test pool for the validation split."""


def validation_count(class_size: int, fraction: float) -> int:
    """Validation images of a class of ``class_size`` test images: ``fraction`` of it, rounded half up,
    at least one."""
    return max(1, int(fraction * class_size + 0.5))


def validation_split(labels: torch.Tensor, fraction: float, seed: int, exclude: torch.Tensor) -> torch.Tensor:
    """Positions (ascending) of the validation images of a split with ``labels``.

    Per class, :func:`validation_count` of its images (``fraction`` of the whole class, not of what is
    left), drawn with a generator seeded with ``seed`` from the class's images whose positions are not in
    ``exclude`` (the CKA pool, so that the layer-similarity numbers never see a validation image): a
    random permutation of those positions, in ascending order, of which the first are taken; classes in
    order, one generator for all. Raises :class:`ValidationSplitError` when a class has too few images
    outside ``exclude``.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"the validation fraction must lie in (0, 1), got {fraction}")
    labels = labels.cpu()
    excluded = torch.zeros(len(labels), dtype=torch.bool)
    excluded[exclude.cpu().long()] = True
    generator = torch.Generator().manual_seed(int(seed))
    chosen = []
    for c in range(int(labels.max()) + 1 if len(labels) else 0):
        members = labels == c
        size = int(members.sum())
        if size == 0:
            continue
        need = validation_count(size, fraction)
        free = (members & ~excluded).nonzero().flatten()
        if len(free) < need:
            raise ValidationSplitError(
                f"class {c} has {size} test images, {size - len(free)} of them in the CKA test pool; the "
                f"validation split needs {need} ({fraction:g} of the class) from the {len(free)} left"
            )
        chosen.append(free[torch.randperm(len(free), generator=generator)[:need]])
    return torch.sort(torch.cat(chosen)).values if chosen else torch.zeros(0, dtype=torch.int64)


@dataclass(frozen=True)
class CkaPool:
    positions: torch.Tensor  # int64: positions in the split, batch after batch
    labels: torch.Tensor  # int64: their classes
    batch: torch.Tensor  # int64: the mini-batch each position belongs to (non-decreasing)

    @property
    def num_batches(self) -> int:
        return int(self.batch.max()) + 1 if len(self.batch) else 0


def default_cka_per_class(labels: torch.Tensor, split: str) -> int:
    """The original's shares (docs/the-original-comparator.md §5): a tenth of the smallest class for
    training data, half of it for test data."""
    counts = torch.bincount(labels.cpu())
    divisor = 10 if split == "train" else 2
    return int(counts.min()) // divisor


MIN_BATCH_PER_CLASS = 4  # the unbiased HSIC estimator's minimum batch size


def cka_pool(labels: torch.Tensor, per_class: int, batch_per_class: int) -> CkaPool:
    """The first ``per_class`` images of every class, in mixed batches of ``batch_per_class`` per class."""
    labels = labels.cpu()
    num_classes = int(labels.max()) + 1
    firsts = []
    for c in range(num_classes):
        members = (labels == c).nonzero().flatten()[:per_class]
        if len(members) < per_class:
            raise ValueError(f"class {c} has {len(members)} images, fewer than the {per_class} CKA needs")
        firsts.append(members)
    positions, batches = [], []
    # A last batch with fewer than MIN_BATCH_PER_CLASS images of a class joins the one before: the unbiased
    # HSIC estimator needs 4 images per block, and a forget block that small would otherwise be dropped
    # while its retain block (9 classes' worth) is kept, so the two subsets would cover different batches.
    num_batches = max(
        1,
        per_class // batch_per_class
        if per_class % batch_per_class < MIN_BATCH_PER_CLASS
        else -(-per_class // batch_per_class),
    )
    for k in range(num_batches):
        end = per_class if k == num_batches - 1 else (k + 1) * batch_per_class
        for c in range(num_classes):
            part = firsts[c][k * batch_per_class : end]
            positions.append(part)
            batches.append(torch.full_like(part, k))
    positions_t = torch.cat(positions)
    return CkaPool(positions_t, labels[positions_t], torch.cat(batches))

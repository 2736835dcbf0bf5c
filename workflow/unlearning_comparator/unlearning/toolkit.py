"""Building blocks shared by the method modules, following the original's constants.

The constants are those of the original Comparator's ``backend/app/config/settings.py``
(gnueaj/Machine-Unlearning-Comparator at commit 0e3ce99d; docs/the-original-comparator.md §3.1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Split
from ..data.augment import random_crop_flip
from ..device import autocast
from .api import UnlearningTask

MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4
MAX_GRAD_NORM = 100.0
DECREASING_LR = (80, 120)  # MultiStepLR milestones (epochs); gamma 0.2


def sgd(
    params: Iterable[torch.nn.Parameter],
    lr: float,
    momentum: float = MOMENTUM,
    weight_decay: float = WEIGHT_DECAY,
    nesterov: bool = False,
) -> torch.optim.SGD:
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov)


def multistep(optimizer: torch.optim.Optimizer, milestones=DECREASING_LR, gamma: float = 0.2):
    """The original's MultiStepLR([80, 120], 0.2), stepped once per epoch."""
    return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(milestones), gamma=gamma)


def clip(model: nn.Module, max_norm: float) -> None:
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher || student) of the tempered softmaxes, batch-mean, times T² (Hinton et al.)."""
    t = temperature
    return F.kl_div(
        F.log_softmax(student_logits / t, dim=1),
        F.log_softmax(teacher_logits / t, dim=1),
        reduction="batchmean",
        log_target=True,
    ) * (t * t)


def random_other_labels(labels: torch.Tensor, num_classes: int, generator: torch.Generator) -> torch.Tensor:
    """For each label, a class drawn uniformly from the other ``num_classes - 1`` classes (seeded)."""
    shift = torch.randint(1, num_classes, labels.shape, generator=generator).to(labels.device)
    return (labels + shift) % num_classes


class FrozenWeights:
    """Keep the weights outside a mask bit-identical through optimiser steps.

    Zeroing masked gradients is not enough: SGD's weight decay and momentum still move those weights
    (the bug SalUn fixed in Feb 2026, #33). After every ``optimizer.step()`` call :meth:`restore`, which
    writes the saved values back and clears their momentum.
    """

    def __init__(self, model: nn.Module, masks: dict[str, torch.Tensor], optimizer: torch.optim.Optimizer):
        self.optimizer = optimizer
        self.entries = []
        for name, param in model.named_parameters():
            if name in masks:
                frozen = ~masks[name].bool()
                if frozen.any():
                    self.entries.append((param, frozen, param.detach()[frozen].clone()))

    @torch.no_grad()
    def restore(self) -> None:
        for param, frozen, saved in self.entries:
            param[frozen] = saved
            state = self.optimizer.state.get(param)
            if state and state.get("momentum_buffer") is not None:
                state["momentum_buffer"][frozen] = 0.0


# ------------------------------------------------------------------------------- helpers for the methods


def concat_splits(*splits: Split) -> Split:
    """One split holding the images of all ``splits`` (e.g. RL's retain ∪ forget loader), on their device."""
    if not splits:
        raise ValueError("concat_splits needs at least one split")
    return Split(
        torch.cat([s.images for s in splits]),
        torch.cat([s.labels for s in splits]),
        torch.cat([s.indices for s in splits]),
    )


def cosine(optimizer: torch.optim.Optimizer, epochs: int, eta_min: float = 0.0):
    """CosineAnnealingLR(T_max=epochs, eta_min), stepped once per epoch (the original's FT schedule)."""
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, int(epochs)), eta_min=eta_min)


def step(
    optimizer: torch.optim.Optimizer,
    loss: torch.Tensor,
    model: nn.Module | None = None,
    max_norm: float | None = None,
) -> None:
    """zero_grad, backward, optional grad-norm clipping of ``model``'s parameters, optimizer step."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if max_norm is not None:
        if model is None:
            raise ValueError("clipping needs the model")
        clip(model, max_norm)
    optimizer.step()


def zero_grads_like(model: nn.Module) -> dict[str, torch.Tensor]:
    """Float32 zero tensors shaped like every trainable parameter, on its device (accumulators)."""
    return {
        n: torch.zeros_like(p, dtype=torch.float32, memory_format=torch.preserve_format)
        for n, p in model.named_parameters()
        if p.requires_grad
    }


def global_top_fraction_mask(scores: dict[str, torch.Tensor], fraction: float) -> dict[str, torch.Tensor]:
    """Boolean masks keeping the entries whose score is ≥ the k-th largest of all scores, k = ⌊fraction·N⌋.

    One global threshold over every tensor (SalUn's "hard" saliency mask); ties at the threshold are
    kept, so slightly more than k entries can pass. ``fraction`` is clamped so that k ≥ 1.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"the kept fraction must be in (0, 1], got {fraction}")
    flat = torch.cat([s.detach().flatten().float() for s in scores.values()])
    n = flat.numel()
    k = min(n, max(1, int(fraction * n)))
    # the k-th largest value is the (n - k + 1)-th smallest
    threshold = torch.kthvalue(flat.cpu(), n - k + 1).values.to(flat.device)
    return {name: s >= threshold for name, s in scores.items()}


@torch.no_grad()
def best_other_labels(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """For each row, the highest-scoring class other than its own label (Boundary Shrink's nearest wrong
    class, GA+SL+FT's second-best label): never the image's own class."""
    return logits.float().scatter(1, labels.unsqueeze(1), float("-inf")).argmax(dim=1)


def require_whole_class(task: UnlearningTask, name: str) -> None:
    """Raise, naming the method ``name``, unless the forget set is exactly one whole class (the check of a
    ``WHOLE_CLASS_ONLY`` method called directly, past the runner)."""
    if task.forget_class is None:
        raise ValueError(
            f"{name} is defined only for forgetting one whole class (WHOLE_CLASS_ONLY): this forget set "
            "is not exactly one whole class"
        )


# ------------------------------------------------------------------------------------------- epochs


def augmented_batches(
    task: UnlearningTask, split: Split, batch_size: int, augment: bool
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Shuffled (normalised images, labels) batches of ``split``, each augmented with fresh draws from
    ``task.generator`` if asked (the data set's own ``random_crop_flip``); as ``task.batches`` if not."""
    if not augment:
        yield from task.batches(split, batch_size)
        return
    info = task.info
    for _, y, idx in task.indexed_batches(split, batch_size):
        images = random_crop_flip(split.images[idx], info.crop_padding, info.hflip, task.generator)
        yield task.inputs(images), y


def descent_epoch(
    task: UnlearningTask,
    optimizer: torch.optim.Optimizer,
    split: Split,
    batch_size: int,
    augment: bool,
) -> None:
    """One epoch of CE minimisation over ``split`` in train mode (no clipping): Fine-Tuning's epoch and
    the FT and SL phases of the hybrids (GA+FT, GA+SL+FT)."""
    model = task.model
    model.train()
    for x, y in augmented_batches(task, split, batch_size, augment):
        with autocast(task.device):
            loss = F.cross_entropy(model(x), y)
        step(optimizer, loss)


def ascent_epoch(
    task: UnlearningTask, optimizer: torch.optim.Optimizer, batch_size: int, augment: bool, grad_clip: float
) -> None:
    """One epoch of gradient ascent, −CE with the true labels, over the forget set in train mode (the
    gradient norm clipped to ``grad_clip``): Gradient Ascent's epoch and the GA phase of the hybrids."""
    model = task.model
    model.train()
    for x, y in augmented_batches(task, task.forget, batch_size, augment):
        with autocast(task.device):
            loss = -F.cross_entropy(model(x), y)
        step(optimizer, loss, model, grad_clip)


def salun_epoch(
    task: UnlearningTask, batch_size: int, random_labels: bool, update: Callable[[torch.Tensor], None]
) -> None:
    """One epoch of SalUn's loop (SalUn and SalUn-soft), in train mode: every shuffled forget batch with
    the CE towards random other labels (``random_labels``, RL) or −CE with the true labels (GA), then
    every shuffled retain batch with the CE; each batch's loss goes to ``update`` (the method's step)."""
    model = task.model
    model.train()
    for x, y in task.batches(task.forget, batch_size):
        with autocast(task.device):
            logits = model(x)
            if random_labels:
                loss = F.cross_entropy(logits, random_other_labels(y, task.num_classes, task.generator))
            else:
                loss = -F.cross_entropy(logits, y)
        update(loss)
    for x, y in task.batches(task.retain, batch_size):
        with autocast(task.device):
            loss = F.cross_entropy(model(x), y)
        update(loss)

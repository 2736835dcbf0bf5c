"""Building blocks shared by the method modules, following the original's constants.

The constants are those of the original Comparator's ``backend/app/config/settings.py``
(gnueaj/Machine-Unlearning-Comparator at commit 0e3ce99d; docs/the-original-comparator.md §3.1).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Split

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

"""Per-weight importance estimates shared by the methods that weigh weights by a diagonal Fisher.

* :func:`squared_gradient_sum`: Σ over mini-batches of the squared gradient of a batch loss, the one
  pass every estimate here is built on (eval mode: BatchNorm uses its running statistics, so the batch
  composition changes only how per-image gradients are summed, never the network's function);
* :func:`first_batches`: shuffled batches until enough images are seen (SCRUB's and Fisher forgetting's
  estimates look at a part of the retain set);
* :func:`label_sorted`: the images of one or more splits in a fixed order, by (label, position in the
  training split): it depends on which images are present, not on how they are divided into forget and
  retain sets, nor on a random draw;
* :func:`mean_batch_fisher`: (1/B) Σ_b (∇θ mean-CE_b)², the importance of Selective Synaptic Dampening
  (its authors' ``calc_importance``, with the true labels);
* :func:`sampled_fisher`: (1/N) Σ_b (∇θ Σ_{i∈b} −log p_θ(ŷ_i | x_i))², ŷ_i ~ p_θ(· | x_i), an unbiased
  mini-batch estimate of the diagonal of the (true) Fisher information, as Fisher forgetting uses it.

Per-image squared gradients would need one backward pass per image; both estimates square the gradient
of a whole mini-batch instead (named as a deviation by the methods using them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Split
from ..device import autocast
from .api import UnlearningTask
from .toolkit import concat_splits, zero_grads_like

LossOf = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (logits, labels) -> scalar loss


def squared_gradient_sum(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    loss_of: LossOf,
    device: torch.device,
) -> tuple[dict[str, torch.Tensor], int, int]:
    """Σ_b (∇θ loss_of(model(x_b), y_b))² per trainable parameter (float32), the number of batches and
    of images. The model is put in eval mode and its gradients are cleared afterwards."""
    model.eval()
    params = dict(model.named_parameters())
    total = zero_grads_like(model)
    n_batches = n_images = 0
    for x, y in batches:
        model.zero_grad(set_to_none=True)
        with autocast(device):
            logits = model(x)
        loss_of(logits.float(), y).backward()
        for name, acc in total.items():
            grad = params[name].grad
            if grad is not None:
                acc.add_(grad.float().square())
        n_batches += 1
        n_images += int(y.shape[0])
    model.zero_grad(set_to_none=True)
    return total, n_batches, n_images


def first_batches(
    task: UnlearningTask, split: Split, batch_size: int, max_images: int | None = None
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Shuffled batches of ``split`` (``task.batches``) up to and including the one that brings the
    images seen to at least ``max_images`` (every batch when None)."""
    limit = len(split) if max_images is None else max(1, min(int(max_images), len(split)))
    seen = 0
    for x, y in task.batches(split, batch_size):
        yield x, y
        seen += int(y.shape[0])
        if seen >= limit:
            return


def label_sorted(*splits: Split) -> Split:
    """The images of ``splits`` together, ordered by label, then by position in the training split."""
    both = concat_splits(*splits) if len(splits) > 1 else splits[0]
    # a stable two-key sort: by position first, then (stably) by label
    by_position = torch.argsort(both.indices, stable=True)
    by_label = torch.argsort(both.labels[by_position], stable=True)
    return both.select(by_position[by_label])


def mean_batch_fisher(task: UnlearningTask, split: Split, batch_size: int) -> dict[str, torch.Tensor]:
    """(1/B) Σ_b (∇θ mean-CE_b)² over the B mini-batches of ``split`` in :func:`label_sorted` order.

    Deterministic: no shuffling, so the estimate depends only on the model and the images."""
    ordered = label_sorted(split)
    batches = task.batches(ordered, batch_size, shuffle=False)
    total, n_batches, _ = squared_gradient_sum(task.model, batches, F.cross_entropy, task.device)
    for acc in total.values():
        acc.div_(max(n_batches, 1))
    return total


def sample_labels(logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One class per row drawn from softmax(logits), by inverse CDF of uniforms drawn from ``generator``
    (on the CPU, then moved: the draw is seeded and needs no host synchronisation)."""
    probs = torch.softmax(logits.detach().float(), dim=1)
    u = torch.rand(logits.shape[0], 1, generator=generator).to(logits.device)
    below = (probs.cumsum(dim=1) < u).sum(dim=1)
    return below.clamp(max=logits.shape[1] - 1)


def sampled_fisher(
    task: UnlearningTask, split: Split, batch_size: int, max_images: int | None = None
) -> dict[str, torch.Tensor]:
    """(1/N) Σ_b (∇θ Σ_{i∈b} −log p_θ(ŷ_i | x_i))² with ŷ_i ~ p_θ(· | x_i), over shuffled batches of
    ``split`` (the first batches holding at least ``max_images`` images, or all of it).

    The score ∇θ log p_θ(ŷ | x) has mean zero under the model's own distribution, so the cross terms
    between images of a batch vanish in expectation: the estimate is unbiased for the diagonal of the
    Fisher information (1/N) Σ_i E_ŷ[(∇θ log p_θ(ŷ | x_i))²] whatever the batch size; a larger batch
    only makes it noisier."""
    generator = task.generator

    def summed_nll_of_sampled_labels(logits: torch.Tensor, _: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, sample_labels(logits, generator), reduction="sum")

    batches = first_batches(task, split, batch_size, max_images)
    total, _, n_images = squared_gradient_sum(task.model, batches, summed_nll_of_sampled_labels, task.device)
    for acc in total.values():
        acc.div_(max(n_images, 1))
    return total


__all__ = [
    "first_batches",
    "label_sorted",
    "mean_batch_fisher",
    "sample_labels",
    "sampled_fisher",
    "squared_gradient_sum",
]

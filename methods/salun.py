"""SalUn as the Comparator runs it: random labelling restricted to the weights that are most salient
for the forget set.

SalUn: C. Fan et al., "SalUn: Empowering Machine Unlearning via Gradient-based Weight Saliency in Both
Image Classification and Generation", ICLR 2024 (arXiv:2310.12508). Recipe, as the original Comparator
runs it (gnueaj/Machine-Unlearning-Comparator@0e3ce99d, backend/app/services/unlearn_SalUn.py and
backend/app/threads/unlearn_SalUn_thread.py; constants in backend/app/config/settings.py, front-end
defaults in frontend/src/utils/config/unlearning.ts):

* saliency mask, a pre-step *outside* RTE: with the model in eval mode, over the first
  ``saliency_batches`` (5) shuffled forget batches, accumulate |∇θ(−CE)| per weight and divide by the
  number of batches; one global threshold = the k-th largest saliency over all parameters,
  k = ⌊``saliency_threshold`` · N⌋ (0.75: roughly the top 75 % of weights are updatable);
  mask = saliency ≥ threshold;
* each epoch, in train mode:
  - forget phase: every forget batch gets *all* its labels replaced by random labels of another class
    (``use_random_labels``, default true); minimise CE;
  - retain phase: CE with the true labels on every retain batch (the full retain set every epoch);
  - in both phases, after backward: multiply the gradients by the mask, clip their norm to
    ``grad_clip`` (100), step;
  - MultiStepLR([80, 120], 0.2) step;
* SGD(lr, momentum 0.9, weight decay 5e-4).

Deliberate deviations (docs/differences-from-the-original.md §3.1, §3.6, §2.3):

* frozen weights stay frozen: zeroing the masked gradients alone lets SGD's weight decay and momentum
  still move the "frozen" weights (the original's behaviour). Here the masked-out weights are restored
  after every step and their momentum is cleared
  (:class:`~unlearning_comparator.unlearning.toolkit.FrozenWeights`), so they stay bit-identical to the
  base model, as the SalUn authors fixed in their own code (OPTML-Group/Unlearn-Saliency, pull request
  #33, Feb 2026). BatchNorm running statistics are buffers, not weights, and are updated as usual;
* no accuracy-tracking pass: after every optimisation step (forget and retain batches) the original
  passes the same batch through the model again, in train mode under ``no_grad``, only to count correct
  predictions. That pass does not change the weights, but in train mode it updates BatchNorm's running
  mean and variance a second time per batch (with the post-step weights), so the original's running
  statistics average over roughly half as many recent batches and every eval-mode metric differs
  slightly; it also runs inside the original's RTE (about a third more compute per step). Here it is
  left out: BatchNorm sees each batch once and RTE measures the unlearning alone. The original's
  evaluation of the forget set after every epoch (eval mode, inside its RTE) is left out too;
* random labels: the original draws every forget label uniformly from the classes other than the forget
  class, with torch's global generator (seeded with 2048); here from the classes other than each image's
  own label (:func:`~unlearning_comparator.unlearning.toolkit.random_other_labels`), with
  ``task.generator``. For whole-class forgetting both mean "any class but the forget class"; the batch
  order comes from ``task.generator`` as well;
* ``use_random_labels: false`` makes the forget phase gradient ascent, −CE with the true labels, under
  the same mask. In the original the flag is a constant (true); were it false, the original would keep
  the true labels and minimise CE on them, i.e. train on the forget set;
* on CUDA the forward passes, including the saliency pre-step's, run under bfloat16 autocast; the
  original, like the CPU path here, uses float32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from unlearning_comparator.device import autocast
from unlearning_comparator.unlearning import UnlearningTask
from unlearning_comparator.unlearning.toolkit import (
    FrozenWeights,
    clip,
    global_top_fraction_mask,
    multistep,
    salun_epoch,
    sgd,
    zero_grads_like,
)

NAME = "SalUn"

DEFAULTS = {"epochs": 5, "lr": 0.001, "batch_size": 128}

HYPERPARAMETERS = {
    "saliency_threshold": {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": 1,
        "default": 0.75,
        "description": "fraction of the weights (the most salient ones) that unlearning may change",
    },
    "use_random_labels": {
        "type": "boolean",
        "default": True,
        "description": "forget phase: CE on random other-class labels (true) or gradient ascent (false)",
    },
    "saliency_batches": {
        "type": "integer",
        "minimum": 1,
        "default": 5,
        "description": "forget batches the saliency pre-step averages over",
    },
    "grad_clip": {
        "type": "number",
        "exclusiveMinimum": 0,
        "default": 100.0,
        "description": "maximum gradient norm of every step",
    },
}

PREPARATION = "the saliency mask from forget-set gradients (before the loop, as in the original)"
# for the registry's contract test (a few hundred images; DEFAULTS are sized for tens of thousands)
TEST_SETTINGS = {"epochs": 1, "lr": 0.03, "batch_size": 32}


def saliency_mask(task: UnlearningTask) -> dict[str, torch.Tensor]:
    """Boolean mask per parameter: True where the weight is among the most salient for the forget set."""
    model, hp = task.model, task.hp
    model.eval()
    params = dict(model.named_parameters())
    saliency = zero_grads_like(model)
    used = 0
    for x, y in task.batches(task.forget, hp["batch_size"]):
        if used >= int(hp["saliency_batches"]):
            break
        model.zero_grad(set_to_none=True)
        with autocast(task.device):
            loss = -F.cross_entropy(model(x), y)
        loss.backward()
        for name, acc in saliency.items():
            grad = params[name].grad
            if grad is not None:
                acc.add_(grad.float().abs())
        used += 1
    model.zero_grad(set_to_none=True)
    for acc in saliency.values():
        acc.div_(max(used, 1))
    return global_top_fraction_mask(saliency, float(hp["saliency_threshold"]))


def unlearn(task: UnlearningTask) -> torch.nn.Module:
    model, hp = task.model, task.hp
    grad_clip = float(hp["grad_clip"])
    random_labels = bool(hp["use_random_labels"])

    masks = saliency_mask(task)  # one-off preparation, outside RTE as in the original
    task.extras["salun_mask"] = masks  # for inspection (tests, diagnostics)
    optimizer = sgd(model.parameters(), lr=hp["lr"])
    scheduler = multistep(optimizer)
    frozen = FrozenWeights(model, masks, optimizer)
    masked = [(p, masks[n].to(p.dtype)) for n, p in model.named_parameters() if n in masks]

    def masked_step(loss: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            for p, m in masked:
                if p.grad is not None:
                    p.grad.mul_(m)
        clip(model, grad_clip)
        optimizer.step()
        frozen.restore()

    with task.timer:
        for _ in range(hp["epochs"]):
            salun_epoch(task, hp["batch_size"], random_labels, masked_step)
            scheduler.step()
    return model

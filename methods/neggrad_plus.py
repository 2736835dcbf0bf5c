"""NegGrad+: fine-tune on the retain set and ascend the loss on the forget set at the same time, in one
weighted objective.

M. Kurmanji, P. Triantafillou, J. Hayes, E. Triantafillou, "Towards Unbounded Machine Unlearning",
NeurIPS 2023 (arXiv:2302.09880), the NegGrad+ baseline. Reimplemented from the paper and the authors'
public code (meghdadk/SCRUB@98ffb119, thirdparty/repdistiller/helper/loops.py ``train_negrad`` and
large_scale_ictest.ipynb ``negative_grad``), not copied.

Update rule. For ``epochs`` passes over shuffled retain mini-batches B_r ⊂ D_r, each paired with the next
forget mini-batch B_f ⊂ D_f (the forget set is cycled, reshuffled at every pass):

    L(θ) = α · (1/|B_r|) Σ_{(x, y) ∈ B_r} CE(f(x; θ), y) − (1 − α) · (1/|B_f|) Σ_{(x, y) ∈ B_f} CE(f(x; θ), y)
    θ ← θ − lr · ∇L(θ)

with α = ``alpha`` ∈ [0, 1]: α = 1 is fine-tuning on the retain set, α = 0 pure gradient ascent on the
forget set (NegGrad). A term whose weight is 0 is not computed (no forward pass, no batch drawn), so
α = 1 is exactly fine-tuning with the same optimiser. An epoch is one pass over the retain set.

Defaults: the authors' large-scale CIFAR-10/ResNet setting (large_scale_ictest.ipynb): α = 0.9999,
10 epochs, lr 0.01, retain batch size 128 (``batch_size``), forget batch size 32 (``forget_batch_size``),
plain SGD (no momentum, no weight decay). (Their privacy notebook uses 5 epochs and smaller batches;
their small-scale setting α = 0.95.) DEFAULTS and HYPERPARAMETERS hold these.

Train/eval modes: train mode throughout, as in the authors' ``train_negrad``; the retain and the
forget batch go through the network in two separate forward passes, so each normalises with its own
batch statistics and both update the BatchNorm running statistics (the forget pass moves them towards
the forget set's statistics, with weight 0.1 per step regardless of α).

Deviations, named:

* cycling the forget set: the authors zip each retain batch with ``itertools.cycle(forget_loader)``,
  which replays the first pass's batch order until the epoch ends and starts a new order every epoch;
  here the forget batches form one stream over the run that reshuffles at every pass over the forget set;
* a zero-weighted term is skipped (the authors always run both forward passes, so at α = 1 their
  forget pass still updates the BatchNorm statistics);
* the batch order comes from ``task.generator``; on CUDA the forward passes run under bfloat16 autocast
  (the paper uses float32).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F

from unlearning_comparator.data import Split
from unlearning_comparator.device import autocast
from unlearning_comparator.unlearning import UnlearningTask
from unlearning_comparator.unlearning.toolkit import sgd, step

NAME = "NegGrad+"

DEFAULTS = {"epochs": 10, "lr": 0.01, "batch_size": 128}

HYPERPARAMETERS = {
    "alpha": {
        "type": "number",
        "minimum": 0,
        "maximum": 1,
        "default": 0.9999,
        "description": "weight α of the retain loss; the forget loss is ascended with weight 1 − α",
    },
    "forget_batch_size": {
        "type": "integer",
        "minimum": 1,
        "default": 32,
        "description": "forget images paired with each retain batch",
    },
}

# for the registry's contract test (200 forget / 1800 retain images; DEFAULTS are sized for 5000 / 45000)
TEST_SETTINGS = {"epochs": 1, "lr": 0.05, "batch_size": 32, "alpha": 0.95, "forget_batch_size": 32}


def endless_batches(task: UnlearningTask, split: Split, batch_size: int) -> Iterator[tuple]:
    """Mini-batches of ``split`` without end, reshuffled (with the task's generator) at every pass."""
    while True:
        yield from task.batches(split, batch_size)


def negative_gradient_loss(
    task: UnlearningTask, retain_batch: tuple, forget_stream: Iterator[tuple], alpha: float
) -> torch.Tensor:
    """α·CE(retain batch) − (1 − α)·CE(next forget batch); a term with weight 0 is not computed."""
    model = task.model
    loss = torch.zeros((), device=task.device)
    if alpha > 0:
        x, y = retain_batch
        with autocast(task.device):
            loss = loss + alpha * F.cross_entropy(model(x), y)
    if alpha < 1:
        x, y = next(forget_stream)
        with autocast(task.device):
            loss = loss - (1.0 - alpha) * F.cross_entropy(model(x), y)
    return loss


def unlearn(task: UnlearningTask) -> torch.nn.Module:
    model, hp = task.model, task.hp
    alpha = float(hp["alpha"])
    optimizer = sgd(model.parameters(), lr=hp["lr"], momentum=0.0, weight_decay=0.0)
    forget_stream = endless_batches(task, task.forget, int(hp["forget_batch_size"]))
    with task.timer:
        for _ in range(hp["epochs"]):
            model.train()
            for retain_batch in task.batches(task.retain, hp["batch_size"]):
                step(optimizer, negative_gradient_loss(task, retain_batch, forget_stream, alpha))
    return model

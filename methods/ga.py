"""Gradient Ascent (GA): maximise the cross-entropy of the forget set.

Recipe (reference/original-comparator.md §3.3; constants §3.1, UI defaults §3.11):

* each epoch, for every shuffled forget mini-batch: loss = −CE(model(x), y); backward; clip the
  gradient norm to ``grad_clip`` (the original's MAX_GRAD_NORM = 100); SGD step. The retain data is
  not used;
* SGD(lr, momentum 0.9, weight decay 5e-4); MultiStepLR([80, 120], gamma 0.2) stepped per epoch
  (constant over the few epochs a run has);
* the model is in train mode, as in the original: BatchNorm normalises with forget-class batch
  statistics and its running statistics drift towards the forget class;
* images are never augmented.

Deviations: none. Only the epoch loop is timed (RTE); bfloat16 autocast on CUDA.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from unlearning_comparator.device import autocast
from unlearning_comparator.unlearning import UnlearningTask
from unlearning_comparator.unlearning.toolkit import MAX_GRAD_NORM, multistep, sgd, step

NAME = "Gradient Ascent"

DEFAULTS = {"epochs": 7, "lr": 0.0001, "batch_size": 256}

HYPERPARAMETERS = {
    "grad_clip": {"type": "number", "exclusiveMinimum": 0, "default": 100.0,
                  "description": "maximum gradient norm of each ascent step"},
}


def unlearn(task: UnlearningTask) -> torch.nn.Module:
    model, hp = task.model, task.hp
    optimizer = sgd(model.parameters(), lr=hp["lr"])
    scheduler = multistep(optimizer)
    grad_clip = float(hp.get("grad_clip", MAX_GRAD_NORM))
    with task.timer:
        for _ in range(hp["epochs"]):
            model.train()
            for x, y in task.batches(task.forget, hp["batch_size"]):
                with autocast(task.device):
                    loss = -F.cross_entropy(model(x), y)
                step(optimizer, loss, model, grad_clip)
            scheduler.step()
    return model

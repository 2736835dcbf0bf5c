"""Gradient Ascent (GA): maximise the cross-entropy of the forget set.

Recipe, as the original Comparator runs it (gnueaj/Machine-Unlearning-Comparator@0e3ce99d,
backend/app/services/unlearn_GA.py and backend/app/threads/unlearn_GA_thread.py; constants in
backend/app/config/settings.py, front-end defaults in frontend/src/utils/config/unlearning.ts):

* each epoch, for every shuffled forget mini-batch: loss = −CE(model(x), y); backward; clip the
  gradient norm to ``grad_clip`` (the original's MAX_GRAD_NORM = 100); SGD step. The retain data is
  not used;
* SGD(lr, momentum 0.9, weight decay 5e-4); MultiStepLR([80, 120], gamma 0.2) stepped per epoch
  (constant over the few epochs a run has);
* the model is in train mode, as in the original: BatchNorm normalises with forget-class batch
  statistics and its running statistics drift towards the forget class;
* images are never augmented.

Deviations (docs/differences-from-the-original.md §3.1, §3.3, §2.3), none in the recipe:

* the batch order comes from ``task.generator`` (the run's seed), not from torch's global generator
  seeded with 2048;
* on CUDA the loss is computed under bfloat16 autocast; the original, like the CPU path here, uses float32.

RTE covers the same work as the original's: only the epoch loop is timed, and the original's GA thread
runs no extra evaluation inside its timer.
"""

from __future__ import annotations

import torch

from unlearning_comparator.unlearning import UnlearningTask
from unlearning_comparator.unlearning.toolkit import ascent_epoch, multistep, sgd

NAME = "Gradient Ascent"

DEFAULTS = {"epochs": 7, "lr": 0.0001, "batch_size": 256}

HYPERPARAMETERS = {
    "grad_clip": {
        "type": "number",
        "exclusiveMinimum": 0,
        "default": 100.0,
        "description": "maximum gradient norm of each ascent step",
    },
}

# for the registry's contract test (a few hundred images; DEFAULTS are sized for tens of thousands)
TEST_SETTINGS = {"epochs": 2, "lr": 0.001, "batch_size": 32}


def unlearn(task: UnlearningTask) -> torch.nn.Module:
    model, hp = task.model, task.hp
    optimizer = sgd(model.parameters(), lr=hp["lr"])
    scheduler = multistep(optimizer)
    grad_clip = float(hp["grad_clip"])
    with task.timer:
        for _ in range(hp["epochs"]):
            ascent_epoch(task, optimizer, hp["batch_size"], augment=False, grad_clip=grad_clip)
            scheduler.step()
    return model

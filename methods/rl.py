"""Random Labeling (RL): train on retain ∪ forget where every forget image carries a wrong label.

Recipe (reference/original-comparator.md §3.4; constants §3.1, UI defaults §3.11):

* one loader over the concatenation of the retain and the forget set, shuffled, ``batch_size`` images
  per batch;
* in every batch, each forget-class image gets a label drawn uniformly from the other C − 1 classes,
  drawn anew every batch; minimise CE on the mixed batch; no gradient clipping;
* SGD(lr, momentum 0.9, weight decay 5e-4); MultiStepLR([80, 120], gamma 0.2) per epoch;
* train mode; images never augmented.

Deliberate deviation: the original seeds each batch's label draw from ``time.time_ns()``, so no two
runs agree (reference §1.5). Here the labels come from ``task.generator``: the same seed gives the
same run, bit for bit on the same machine.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from unlearning_comparator.device import autocast
from unlearning_comparator.unlearning import UnlearningTask
from unlearning_comparator.unlearning.toolkit import concat_splits, multistep, random_other_labels, sgd, step

NAME = "Random Labeling"

DEFAULTS = {"epochs": 3, "lr": 0.001, "batch_size": 64}

HYPERPARAMETERS = {}  # no own keys: the recipe is fixed


def unlearn(task: UnlearningTask) -> torch.nn.Module:
    model, hp = task.model, task.hp
    optimizer = sgd(model.parameters(), lr=hp["lr"])
    scheduler = multistep(optimizer)
    mixed = concat_splits(task.retain, task.forget)  # one-off copy, outside RTE
    with task.timer:
        for _ in range(hp["epochs"]):
            model.train()
            for x, y in task.batches(mixed, hp["batch_size"]):
                # one draw per image (no host sync on CUDA), used where the image is of the forget class
                wrong = random_other_labels(y, task.num_classes, task.generator)
                y = torch.where(y == task.forget_class, wrong, y)
                with autocast(task.device):
                    loss = F.cross_entropy(model(x), y)
                step(optimizer, loss)
            scheduler.step()
    return model

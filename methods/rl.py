"""Random Labeling (RL): train on retain ∪ forget where every forget image carries a wrong label.

Recipe, as the original Comparator runs it (gnueaj/Machine-Unlearning-Comparator@0e3ce99d,
backend/app/services/unlearn_RL.py and backend/app/threads/unlearn_RL_thread.py; constants in
backend/app/config/settings.py, front-end defaults in frontend/src/utils/config/unlearning.ts):

* one loader over the concatenation of the retain and the forget set, shuffled, ``batch_size`` images
  per batch;
* in every batch, each forget image gets a label drawn uniformly from the other C − 1 classes,
  drawn anew every batch; minimise CE on the mixed batch; no gradient clipping;
* SGD(lr, momentum 0.9, weight decay 5e-4);
* train mode; images never augmented.

Deviations (docs/differences-from-the-original.md §3.1, §3.4, §2.3):

* learning-rate schedule: here MultiStepLR([80, 120], gamma 0.2) is stepped once per epoch, as in the
  other methods. The original's service builds that scheduler but its RL thread never steps it, so its
  rate stays constant. Identical for runs of up to 80 epochs (the UI default is 3); from the 81st epoch
  on, the rate here is 0.2 × lr;
* random labels: the original re-seeds torch's global generator from ``time.time_ns()`` in every batch
  with forget images (so no two runs agree, and the loader's later shuffles depend on the clock too) and
  draws from the classes other than the forget class. Here each image's label is drawn from the classes
  other than its own label, from ``task.generator``: the same distribution (every relabelled image is of
  the forget class), and the same seed gives the same run, bit for bit on the same machine. The batch
  order comes from ``task.generator`` as well;
* RTE times the epoch loop alone: the original's timer also covers an evaluation of the whole forget
  set after every epoch (in eval mode, so it changes neither weights nor BatchNorm statistics);
* on CUDA the loss is computed under bfloat16 autocast; the original, like the CPU path here, uses float32.
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

# for the registry's contract test (a few hundred images; DEFAULTS are sized for tens of thousands)
TEST_SETTINGS = {"epochs": 1, "lr": 0.01, "batch_size": 64}


def unlearn(task: UnlearningTask) -> torch.nn.Module:
    model, hp = task.model, task.hp
    optimizer = sgd(model.parameters(), lr=hp["lr"])
    scheduler = multistep(optimizer)
    mixed = concat_splits(task.retain, task.forget)  # one-off copy, outside RTE
    # which images of the mixed set are forget images (the forget set need not be a class)
    is_forget = torch.arange(len(mixed), device=mixed.labels.device) >= len(task.retain)
    with task.timer:
        for _ in range(hp["epochs"]):
            model.train()
            for x, y, idx in task.indexed_batches(mixed, hp["batch_size"]):
                # one draw per image (no host sync on CUDA), used where the image is a forget image
                wrong = random_other_labels(y, task.num_classes, task.generator)
                y = torch.where(is_forget[idx], wrong, y)
                with autocast(task.device):
                    loss = F.cross_entropy(model(x), y)
                step(optimizer, loss)
            scheduler.step()
    return model

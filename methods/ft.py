"""Fine-Tuning (FT): continue training on the retain set only, so that the forget class fades.

Recipe, as the original Comparator runs it (gnueaj/Machine-Unlearning-Comparator@0e3ce99d,
backend/app/services/unlearn_FT.py and backend/app/threads/unlearn_FT_thread.py; constants in
backend/app/config/settings.py, front-end defaults in frontend/src/utils/config/unlearning.ts):

* each epoch, for every shuffled retain mini-batch: minimise CE(model(x), y), no gradient clipping;
  the forget data is never read;
* SGD(lr, momentum 0.9, weight decay 5e-4), no Nesterov;
* CosineAnnealingLR(T_max=epochs, eta_min=0.01), stepped once per epoch;
* the model is in train mode (BatchNorm uses batch statistics and updates its running ones);
* images are never augmented (the original turns augmentation off for FT).

Quirk kept on purpose: ``eta_min`` is the original's absolute 0.01, not a fraction of ``lr``. With the
UI default lr 0.01 the learning rate is therefore constant, and with lr < 0.01 the schedule *raises*
the rate towards 0.01 over the epochs. It is the hyperparameter ``eta_min`` (default 0.01) so that a
config can set e.g. 0 for an ordinary decaying cosine schedule.

Deviations (docs/differences-from-the-original.md §3.1, §3.2, §2.3), none in the recipe:

* the batch order comes from ``task.generator`` (the run's seed), not from torch's global generator
  seeded with 2048;
* RTE times the retain loop alone: the original's timer also covers an evaluation of the whole forget
  set after every epoch (in eval mode, so it changes neither weights nor BatchNorm statistics);
* on CUDA the loss is computed under bfloat16 autocast; the original, like the CPU path here, uses float32.
"""

from __future__ import annotations

import torch

from unlearning_comparator.unlearning import UnlearningTask
from unlearning_comparator.unlearning.toolkit import cosine, descent_epoch, sgd

NAME = "Fine-Tuning"

DEFAULTS = {"epochs": 10, "lr": 0.01, "batch_size": 128}

HYPERPARAMETERS = {
    "eta_min": {
        "type": "number",
        "minimum": 0,
        "default": 0.01,
        "description": "CosineAnnealingLR's floor (absolute, as in the original: with lr <= 0.01 the rate "
        "stays at or rises towards it)",
    },
}

# for the registry's contract test (a few hundred images; DEFAULTS are sized for tens of thousands)
TEST_SETTINGS = {"epochs": 3, "lr": 0.1, "batch_size": 32}


def unlearn(task: UnlearningTask) -> torch.nn.Module:
    model, hp = task.model, task.hp
    optimizer = sgd(model.parameters(), lr=hp["lr"])
    scheduler = cosine(optimizer, hp["epochs"], eta_min=hp["eta_min"])
    with task.timer:
        for _ in range(hp["epochs"]):
            descent_epoch(task, optimizer, task.retain, hp["batch_size"], augment=False)
            scheduler.step()
    return model

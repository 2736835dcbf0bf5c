"""Template for a new unlearning method — copy this file to ``methods/<id>.py`` and fill it in.

The file name is the method's id (lower case, digits and '_'); files starting with '_' are ignored.
Name the method in the config to get one run per grid point and forget class::

    methods:
      my_method:
        epochs: [3]
        lr: [0.01, 0.001]      # every list is a grid axis
        batch_size: [128]
        strength: [0.5, 1.0]   # your own keys, declared in HYPERPARAMETERS below

What the workflow guarantees (see ``unlearning_comparator/unlearning/api.py``):

* ``task.model`` is a private copy of the base (original) model on ``task.device``; train it in place
  or build a new one, and return it;
* ``task.hp`` holds every key declared below (the config's values, else the declared default): read
  ``hp["key"]``, and keep defaults in ``DEFAULTS`` and ``HYPERPARAMETERS`` only;
* ``task.forget`` / ``task.retain`` hold the forget set (a class, several classes or any sample of
  the training split: never assume a class) and every other training image as uint8 tensors on the
  device; the task offers no other data (the test split is for evaluation only);
  ``task.batches(split, batch_size)`` yields normalised, shuffled, never-augmented mini-batches
  drawn with ``task.generator`` (seeded: same seed, same run);
* the seconds spent inside ``with task.timer:`` are the run's RTE — put one-off preparation outside;
* if ``unlearn`` raises, or the returned weights are not finite, the run is recorded as failed with
  the error, and every other run goes on.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from unlearning_comparator.unlearning import UnlearningTask
from unlearning_comparator.unlearning.toolkit import multistep, sgd

NAME = "My Method"  # the display name shown in the site

DEFAULTS = {"epochs": 3, "lr": 0.01, "batch_size": 128}  # used where the config leaves a grid key out

# The method's own keys, as JSON-schema fragments with a default; the config may give a value or a list.
HYPERPARAMETERS = {
    "strength": {"type": "number", "minimum": 0, "default": 1.0, "description": "weight of the forget term"},
}

# Optional declarations (literals):
# WHOLE_CLASS_ONLY = True   -> the method is defined only for forgetting one whole class; the workflow
#                              refuses it on other forget sets, before any job, with this reason
# FORGETS = False           -> lowering forget accuracy is not part of its contract (the contract test
#                              then does not require it)
# PREPARATION = "..."       -> the one-off work done outside the timer (the test checks it stays out)
# Settings for the registry's contract test (a few hundred images; the defaults above are sized for
# tens of thousands): the test checks that the method lowers forget accuracy with them.
TEST_SETTINGS = {"epochs": 1, "lr": 0.01, "batch_size": 32}


def unlearn(task: UnlearningTask) -> torch.nn.Module:
    model, hp = task.model, task.hp
    optimizer = sgd(model.parameters(), lr=hp["lr"])
    scheduler = multistep(optimizer)
    with task.timer:
        for _ in range(hp["epochs"]):
            model.train()
            for x, y in task.batches(task.retain, hp["batch_size"]):
                loss = F.cross_entropy(model(x), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            scheduler.step()
    return model

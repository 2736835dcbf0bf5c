"""GA+SL+FT as the Comparator runs it: GA+FT with a third phase in every epoch that trains each forget
image towards the class the base model ranks next ("second logit", SL).

A hybrid of the original Comparator's own, served by its API only (no paper; its published results
include GA+SL+FT runs). Recipe, as the original runs it (gnueaj/Machine-Unlearning-Comparator@0e3ce99d,
backend/app/services/unlearn_GA_SL_FT.py and backend/app/threads/unlearn_GA_SL_FT_thread.py;
re-initialisation in backend/app/utils/layer_utils.py; constants in backend/app/config/settings.py,
front-end defaults in frontend/src/utils/config/unlearning.ts; docs/the-original-comparator.md §3.4):

* relabelling, *inside* RTE (the original adds its time to RTE): the base model, in eval mode, sees
  every forget image once (augmented once, if ``augmentation``); the image gets the class of its
  second-highest logit. Those fixed images and labels form the SL set, replayed unchanged every epoch;
* set-up, *outside* RTE: the last ``reinit_groups`` (3) layer groups are re-initialised with PyTorch's
  default initialisation (conv/linear weights and biases ~ U(±1/√fan_in); BatchNorm weight 1, bias 0,
  running statistics reset; :func:`~unlearning_comparator.unlearning.layers.reinitialise_last_groups`,
  shared with GA+FT);
* three optimisers over the same weights, each with its own momentum: GA = SGD(r_GA·lr),
  SL = SGD(r_SL·lr), FT = SGD(lr), r_GA = ``ga_lr_ratio`` (0.01), r_SL = ``sl_lr_ratio`` (1.0), all
  momentum 0.9, weight decay 5e-4; each with CosineAnnealingLR(T_max=epochs) and floor r·η,
  η = ``eta_min`` (0.002, absolute), stepped once per epoch;
* inside RTE, phase 0 (only when some group was re-initialised): one FT epoch over the retain set;
* then each epoch, in train mode (the toolkit's ``ascent_epoch`` and ``descent_epoch``, shared
  with GA+FT):
  - GA: for every forget batch of ⌊``ga_batch_ratio`` · batch_size⌋ (16 × 128 = 2048) images,
    loss = −CE(f(x), y) with the true labels; clip the gradient norm to ``grad_clip`` (100); GA step;
  - SL: for every SL batch of ⌊``sl_batch_ratio`` · batch_size⌋ (128) images, CE with the SL labels,
    no clipping; SL step;
  - FT: for every retain batch of batch_size images, CE, no clipping; FT step;
  - the three schedules step;
* the GA and FT batches are augmented with fresh draws (``augmentation``, true), the SL batches are
  not (the original stores its SL images once, already augmented). The original augments with
  RandomCrop(32, padding 4) and RandomHorizontalFlip on CIFAR-10; here with the data set's own
  training augmentation (``random_crop_flip`` with its ``crop_padding`` and ``hflip``: the original's on
  CIFAR-10; padding 2, no flip on Fashion-MNIST), drawn from ``task.generator``.

Train/eval modes, as in the original: eval mode for the relabelling (running statistics, so a label
does not depend on the other images of its batch); train mode for the three phases.

Deviations (docs/differences-from-the-original.md §3.7, §3.1, §2.3):

* the SL label is the highest-scoring class *other than the image's own label*. The original takes the
  second-highest logit: the same class whenever the base model classifies the image correctly (almost
  always, on training images it has learnt), but for a misclassified image the original's label can be
  the image's own, training the forget set instead of unlearning it. Here an image is never relabelled
  with its own class, also when the forget set holds several classes or a random sample;
* the batch order and the augmentation and re-initialisation draws come from ``task.generator`` (the
  run's seed), not from torch's global generator seeded with 2048;
* RTE times the relabelling, phase 0 and the epochs alone: the original's timer also covers an
  evaluation of the whole forget set after phase 0 and after every epoch (eval mode, so it changes
  neither weights nor BatchNorm statistics);
* the layer groups are the network's own ``layer_groups()``: on the CIFAR ResNet-18 the original's last
  three (``layer4.0``, ``layer4.1``, ``fc``); on the compact ResNet (six groups) ``layer3``, ``layer4``
  and ``fc``;
* on CUDA the forward passes run under bfloat16 autocast; the original, like the CPU path here, uses
  float32.
"""

from __future__ import annotations

import torch

from unlearning_comparator.data import Split
from unlearning_comparator.data.augment import random_crop_flip
from unlearning_comparator.device import autocast
from unlearning_comparator.unlearning import UnlearningTask
from unlearning_comparator.unlearning.layers import reinitialise_last_groups
from unlearning_comparator.unlearning.toolkit import (
    ascent_epoch,
    best_other_labels,
    cosine,
    descent_epoch,
    sgd,
)

NAME = "GA+SL+FT"

DEFAULTS = {"epochs": 5, "lr": 0.01, "batch_size": 128}

HYPERPARAMETERS = {
    "ga_lr_ratio": {
        "type": "number",
        "minimum": 0,
        "default": 0.01,
        "description": "GA learning rate (and its cosine floor) as a fraction of the FT one",
    },
    "sl_lr_ratio": {
        "type": "number",
        "minimum": 0,
        "default": 1.0,
        "description": "SL learning rate (and its cosine floor) as a fraction of the FT one",
    },
    "ga_batch_ratio": {
        "type": "number",
        "exclusiveMinimum": 0,
        "default": 16.0,
        "description": "GA batch size as a multiple of batch_size",
    },
    "sl_batch_ratio": {
        "type": "number",
        "exclusiveMinimum": 0,
        "default": 1.0,
        "description": "SL batch size as a multiple of batch_size",
    },
    "eta_min": {
        "type": "number",
        "minimum": 0,
        "default": 0.002,
        "description": "FT cosine floor (absolute, as in the original); GA's and SL's: eta_min × their ratio",
    },
    "reinit_groups": {
        "type": "integer",
        "minimum": 0,
        "default": 3,
        "description": "last layer groups re-initialised before unlearning; if any, one FT epoch runs first",
    },
    "augmentation": {
        "type": "boolean",
        "default": True,
        "description": "augment the GA and FT batches (and the SL images, once) as the original does",
    },
    "grad_clip": {
        "type": "number",
        "exclusiveMinimum": 0,
        "default": 100.0,
        "description": "maximum gradient norm of every GA step",
    },
}

# 200 forget / 1800 retain images: the re-initialisation and the SL phase take the forget class away,
# and one phase-0 epoch at this rate brings the retain classes back.
TEST_SETTINGS = {"epochs": 1, "lr": 0.05, "batch_size": 64}


# ---------------------------------------------------------------------------------------------- relabelling


@torch.no_grad()
def second_best_labels(task: UnlearningTask, chunk: int, augment: bool) -> Split:
    """The SL set: every forget image (augmented once if asked) labelled with the class the model ranks
    highest among those other than the image's own label (eval mode)."""
    model, forget, info = task.model, task.forget, task.info
    model.eval()
    images, labels = [], []
    for start in range(0, len(forget), chunk):
        batch = forget.images[start : start + chunk]
        if augment:
            batch = random_crop_flip(batch, info.crop_padding, info.hflip, task.generator)
        with autocast(task.device):
            logits = model(task.inputs(batch)).float()
        own = forget.labels[start : start + chunk]
        images.append(batch)
        labels.append(best_other_labels(logits, own))
    return Split(torch.cat(images), torch.cat(labels), forget.indices)


def unlearn(task: UnlearningTask) -> torch.nn.Module:
    model, hp = task.model, task.hp
    epochs, lr, batch_size = int(hp["epochs"]), float(hp["lr"]), int(hp["batch_size"])
    ga_ratio, sl_ratio, eta_min = float(hp["ga_lr_ratio"]), float(hp["sl_lr_ratio"]), float(hp["eta_min"])
    ga_batch = max(1, int(batch_size * float(hp["ga_batch_ratio"])))
    sl_batch = max(1, int(batch_size * float(hp["sl_batch_ratio"])))
    augment = bool(hp["augmentation"])

    with task.timer:  # the original counts the relabelling in RTE
        relabelled = second_best_labels(task, ga_batch, augment)
    task.extras["sl_labels"] = relabelled.labels  # for inspection (tests, diagnostics)

    # set-up, outside RTE as in the original (no forward pass: nothing to declare as PREPARATION)
    reset = reinitialise_last_groups(model, int(hp["reinit_groups"]), task.generator)
    task.log(
        f"GA+SL+FT: re-initialised layer groups {reset or 'none'}; batches GA {ga_batch}, SL {sl_batch}; "
        f"lr GA {ga_ratio * lr:g}, SL {sl_ratio * lr:g}"
    )

    ga_optimizer = sgd(model.parameters(), lr=ga_ratio * lr)
    sl_optimizer = sgd(model.parameters(), lr=sl_ratio * lr)
    ft_optimizer = sgd(model.parameters(), lr=lr)
    schedules = [
        cosine(ga_optimizer, epochs, eta_min=ga_ratio * eta_min),
        cosine(sl_optimizer, epochs, eta_min=sl_ratio * eta_min),
        cosine(ft_optimizer, epochs, eta_min=eta_min),
    ]

    with task.timer:
        if reset:  # phase 0: steadies the new layers on the retain set before any ascent
            descent_epoch(task, ft_optimizer, task.retain, batch_size, augment)
        for _ in range(epochs):
            ascent_epoch(task, ga_optimizer, ga_batch, augment, float(hp["grad_clip"]))
            descent_epoch(task, sl_optimizer, relabelled, sl_batch, augment=False)
            descent_epoch(task, ft_optimizer, task.retain, batch_size, augment)
            for schedule in schedules:
                schedule.step()
    return model

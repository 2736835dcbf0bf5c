"""GA+FT as the Comparator runs it: re-initialise the network's last layer groups, then alternate gradient
ascent on the forget set with fine-tuning on the retain set.

A hybrid of the original Comparator's own, hidden in its menu but served by its API (no paper; its
published results include GA+FT runs). Recipe, as the original runs it
(gnueaj/Machine-Unlearning-Comparator@0e3ce99d, backend/app/services/unlearn_GA_FT.py and
backend/app/threads/unlearn_GA_FT_thread.py; re-initialisation in backend/app/utils/layer_utils.py;
constants in backend/app/config/settings.py, front-end defaults in frontend/src/utils/config/unlearning.ts;
docs/the-original-comparator.md §3.4):

* set-up, *outside* RTE: the last ``reinit_groups`` (3) layer groups are re-initialised with PyTorch's
  default initialisation (ResNet-18: ``layer4.0``, ``layer4.1``, ``fc``): every convolution and linear
  weight and bias ~ U(−1/√fan_in, 1/√fan_in), every BatchNorm weight 1, bias 0, running mean 0,
  running variance 1 (:func:`~unlearning_comparator.unlearning.layers.reinitialise_last_groups`, shared
  with GA+SL+FT). Nothing is frozen;
* two optimisers over the same weights, each with its own momentum: GA = SGD(r·lr) with
  r = ``ga_lr_ratio`` (0.05) and FT = SGD(lr), both momentum 0.9, weight decay 5e-4; each with
  CosineAnnealingLR(T_max=epochs), floors r·η and η, η = ``eta_min`` (0.003, absolute), stepped
  once per epoch;
* inside RTE, phase 0 (only when some group was re-initialised): one FT epoch over the retain set,
  at the full rate lr;
* then each epoch, in train mode (the toolkit's ``ascent_epoch`` and ``descent_epoch``, shared
  with GA+SL+FT):
  - GA: for every forget batch of ⌊``ga_batch_ratio`` · batch_size⌋ (32 × 128 = 4096) images,
    loss = −CE(f(x), y); clip the gradient norm to ``grad_clip`` (100); GA step;
  - FT: for every retain batch of batch_size images, loss = CE(f(x), y), no clipping; FT step;
  - both schedules step;
* every batch, forget and retain, is augmented (``augmentation``, true): the original's loaders use
  RandomCrop(32, padding 4) and RandomHorizontalFlip on CIFAR-10. Here the data set's own training
  augmentation (``random_crop_flip`` with its ``crop_padding`` and ``hflip``: the original's on
  CIFAR-10; padding 2, no flip on Fashion-MNIST) is applied to each batch with ``task.generator``.

The forget set may be any set of training images: GA uses each image's own label.

Train/eval modes, as in the original: train mode throughout (BatchNorm normalises GA batches with
forget-set statistics and its running statistics follow every phase; the re-initialised layers' are
rebuilt from phase 0 on).

Deviations (docs/differences-from-the-original.md §3.7, §3.1, §2.3), none in the recipe:

* the batch order and the augmentation and re-initialisation draws come from ``task.generator`` (the
  run's seed), not from torch's global generator seeded with 2048;
* RTE times phase 0 and the epochs alone: the original's timer also covers an evaluation of the whole
  forget set after phase 0 and after every epoch (eval mode, so it changes neither weights nor
  BatchNorm statistics);
* the layer groups are the network's own ``layer_groups()``: on the CIFAR ResNet-18 the original's last
  three; on the compact ResNet (six groups) the last three are ``layer3``, ``layer4`` and ``fc``;
* on CUDA the forward passes run under bfloat16 autocast; the original, like the CPU path here, uses
  float32.
"""

from __future__ import annotations

import torch

from unlearning_comparator.unlearning import UnlearningTask
from unlearning_comparator.unlearning.layers import reinitialise_last_groups
from unlearning_comparator.unlearning.toolkit import ascent_epoch, cosine, descent_epoch, sgd

NAME = "GA+FT"

DEFAULTS = {"epochs": 4, "lr": 0.01, "batch_size": 128}

HYPERPARAMETERS = {
    "ga_lr_ratio": {
        "type": "number",
        "minimum": 0,
        "default": 0.05,
        "description": "GA learning rate (and its cosine floor) as a fraction of the FT one",
    },
    "ga_batch_ratio": {
        "type": "number",
        "exclusiveMinimum": 0,
        "default": 32.0,
        "description": "GA batch size as a multiple of batch_size",
    },
    "eta_min": {
        "type": "number",
        "minimum": 0,
        "default": 0.003,
        "description": "FT cosine floor (absolute, as in the original); GA's is eta_min × ga_lr_ratio",
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
        "description": "augment every batch with the data set's random crop (and flip), as the original",
    },
    "grad_clip": {
        "type": "number",
        "exclusiveMinimum": 0,
        "default": 100.0,
        "description": "maximum gradient norm of every GA step",
    },
}

# 200 forget / 1800 retain images: the re-initialisation alone takes the forget class away, and one
# phase-0 epoch at this rate brings the retain classes back.
TEST_SETTINGS = {"epochs": 1, "lr": 0.05, "batch_size": 64}


def unlearn(task: UnlearningTask) -> torch.nn.Module:
    model, hp = task.model, task.hp
    epochs, lr, batch_size = int(hp["epochs"]), float(hp["lr"]), int(hp["batch_size"])
    ratio, eta_min = float(hp["ga_lr_ratio"]), float(hp["eta_min"])
    ga_batch = max(1, int(batch_size * float(hp["ga_batch_ratio"])))
    augment = bool(hp["augmentation"])

    # set-up, outside RTE as in the original (no forward pass: nothing to declare as PREPARATION)
    reset = reinitialise_last_groups(model, int(hp["reinit_groups"]), task.generator)
    task.log(
        f"GA+FT: re-initialised layer groups {reset or 'none'}; GA batch {ga_batch}, GA lr {ratio * lr:g}"
    )

    ga_optimizer = sgd(model.parameters(), lr=ratio * lr)
    ft_optimizer = sgd(model.parameters(), lr=lr)
    schedules = [cosine(ga_optimizer, epochs, eta_min=ratio * eta_min), cosine(ft_optimizer, epochs, eta_min)]

    with task.timer:
        if reset:  # phase 0: steadies the new layers on the retain set before any ascent
            descent_epoch(task, ft_optimizer, task.retain, batch_size, augment)
        for _ in range(epochs):
            ascent_epoch(task, ga_optimizer, ga_batch, augment, float(hp["grad_clip"]))
            descent_epoch(task, ft_optimizer, task.retain, batch_size, augment)
            for schedule in schedules:
                schedule.step()
    return model

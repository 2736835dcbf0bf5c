"""CF-k, catastrophic forgetting of the last k layers: fine-tune only the k deepest layer groups on the
retain set, with the rest of the network frozen.

S. Goel, A. Prabhu, A. Sanyal, S.-N. Lim, P. Torr, P. Kumaraguru, "Towards Adversarial Evaluations for
Inexact Machine Unlearning", 2022 (arXiv:2201.06640). Reimplemented from the paper, the authors' public
code (shash42/Evaluating-Inexact-Unlearning@a45fe023, src/methods.py ``cat_forget_finetune``) and the
CF-k baseline of M. Kurmanji et al., "Towards Unbounded Machine Unlearning", NeurIPS 2023
(arXiv:2302.09880; meghdadk/SCRUB@98ffb119, large_scale_ictest.ipynb), not copied.

Update rule. Split the weights into θ = (θ_frozen, θ_k), θ_k the parameters of the last ``k`` layer
groups (:func:`~unlearning_comparator.unlearning.layers.last_groups`). Starting from the base model,
for ``epochs`` passes over shuffled retain mini-batches B ⊂ D_r:

    θ_k ← SGD step on  (1/|B|) Σ_{(x, y) ∈ B} CE(f(x; θ_frozen, θ_k), y)        (θ_frozen unchanged)

The forget set is never used: forgetting comes only from catastrophic forgetting while the last layers
keep training on the retain set.

Defaults. Goel et al. count k in convolution/linear layers from the output and sweep it; here k counts
the model's layer groups (``k``, default 3): on ResNet-18 (conv1, eight basic blocks, fc) that is the
last stage's two blocks and the classifier, the part Kurmanji et al.'s ResNet-18 CF-k trains (their
``layer4``, to which the head is added here, as Goel et al. always include it); on the compact ResNet
(stem, layer1-4, fc) it is layer3, layer4 and fc. Kurmanji et al.'s CF-k for CIFAR-10/ResNet-18: 10
epochs, lr 0.01, batch size 128 (``DEFAULTS``).

Train/eval modes and frozen parts: the trained groups are in train mode; every frozen module is in eval
mode, so its BatchNorm layers normalise with the base model's running statistics and do not update them
— frozen groups stay bit-identical to the base model, parameters and buffers alike
(:func:`~unlearning_comparator.unlearning.layers.train_only`). Only the trained parameters are given to
the optimiser (weight decay and momentum cannot move the others), and backpropagation stops at the
first trained group.

Deviations, named:

* frozen BatchNorm statistics: in both public codes the whole network is in train mode, so the frozen
  layers' running statistics keep adapting to the retain set; here they stay the base model's;
* optimiser: SGD with momentum 0.9 and weight decay 5e-4 (the Comparator's constants), constant
  learning rate. Goel et al. use momentum 0.9, weight decay 5e-5, cosine annealing with warm restarts
  and gradient clipping at 10; Kurmanji et al. plain SGD (no momentum), weight decay 5e-4, whose step
  schedule does not decay within 10 epochs;
* k counts layer groups, not convolution/linear layers (see above);
* the batch order comes from ``task.generator``; on CUDA the forward passes run under bfloat16 autocast
  (the papers use float32).

The loop is :func:`~unlearning_comparator.unlearning.layers.train_last_groups`, EU-k's without its
re-initialisation.
"""

from __future__ import annotations

import torch

from unlearning_comparator.unlearning import UnlearningTask
from unlearning_comparator.unlearning.layers import train_last_groups

NAME = "CF-k"

DEFAULTS = {"epochs": 10, "lr": 0.01, "batch_size": 128}

HYPERPARAMETERS = {
    "k": {
        "type": "integer",
        "minimum": 1,
        "default": 3,
        "description": "number of layer groups, counted from the output, that are fine-tuned (the rest is "
        "frozen)",
    },
}

# for the registry's contract test (200 forget / 1800 retain images; DEFAULTS are sized for 5000 / 45000)
TEST_SETTINGS = {"epochs": 2, "lr": 0.1, "batch_size": 32, "k": 2}


def unlearn(task: UnlearningTask) -> torch.nn.Module:
    return train_last_groups(task, task.hp["k"], reinitialised=False)

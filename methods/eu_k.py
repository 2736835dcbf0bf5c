"""EU-k, exact unlearning of the last k layers: re-initialise the k deepest layer groups and train them from
scratch on the retain set, with the rest of the network frozen.

S. Goel, A. Prabhu, A. Sanyal, S.-N. Lim, P. Torr, P. Kumaraguru, "Towards Adversarial Evaluations for
Inexact Machine Unlearning", 2022 (arXiv:2201.06640). Reimplemented from the paper, the authors' public
code (shash42/Evaluating-Inexact-Unlearning@a45fe023, src/methods.py ``retrain_lastK``) and the EU-k
baseline of M. Kurmanji et al., "Towards Unbounded Machine Unlearning", NeurIPS 2023 (arXiv:2302.09880;
meghdadk/SCRUB@98ffb119, large_scale_ictest.ipynb), not copied.

Update rule. Split the weights into θ = (θ_frozen, θ_k), θ_k the parameters (and BatchNorm statistics)
of the last ``k`` layer groups (:func:`~unlearning_comparator.unlearning.layers.last_groups`). Then

    θ_k ← θ_k⁰ ~ the constructor's initialisation (drawn from task.generator)
    for ``epochs`` passes over shuffled retain mini-batches B ⊂ D_r:
        θ_k ← SGD step on  (1/|B|) Σ_{(x, y) ∈ B} CE(f(x; θ_frozen, θ_k), y)        (θ_frozen unchanged)

The forget set is never used. If the frozen layers were trained without the forget set, this would be
exact unlearning; they were not (they are the base model's), so EU-k removes the forget set's influence
from the last k groups only.

Initialisation, as the registered models' constructors do it, written out so that it draws from
``task.generator`` (:func:`~unlearning_comparator.unlearning.layers.reinitialise`): convolutions
Kaiming-normal (fan_out, ReLU gain) with zero biases, linear layers PyTorch's default U(−1/√fan_in,
1/√fan_in), BatchNorm weight 1, bias 0 and fresh running statistics.

Defaults. Goel et al. count k in convolution/linear layers from the output and sweep it; here k counts
the model's layer groups (``k``, default 3): on ResNet-18 (conv1, eight basic blocks, fc) that is the
last stage's two blocks and the classifier, the part Kurmanji et al.'s ResNet-18 EU-k re-initialises
(their ``layer4``, to which the head is added here, as Goel et al. always include it); on the compact
ResNet (stem, layer1-4, fc) it is layer3, layer4 and fc. Kurmanji et al.'s EU-k for CIFAR-10/ResNet-18
trains as long as the original model was trained (25 epochs there), lr 0.01, batch size 64
(``DEFAULTS``); Goel et al. also retrain for the original training's length.

Train/eval modes and frozen parts: the re-initialised groups are in train mode (their BatchNorm
statistics are re-estimated from retain batches); every frozen module is in eval mode, so its BatchNorm
layers normalise with the base model's running statistics and do not update them — frozen groups stay
bit-identical to the base model, parameters and buffers alike
(:func:`~unlearning_comparator.unlearning.layers.train_only`). Only the trained parameters are given to
the optimiser, and backpropagation stops at the first trained group.

Deviations, named:

* frozen BatchNorm statistics: in both public codes the whole network is in train mode, so the frozen
  layers' running statistics keep adapting to the retain set; here they stay the base model's;
* re-initialisation: Goel et al. re-initialise only convolution and linear weights (Kaiming-normal,
  fan_in, zero biases; the BatchNorm layers in the range keep their trained values); Kurmanji et al.
  copy a saved initial checkpoint's convolution and BatchNorm weights and biases (not its running
  statistics). Here the whole group is re-initialised with the constructor's scheme, running
  statistics included;
* ResNet-18's stem convolution (``conv1``), which its constructor leaves at PyTorch's default
  initialisation, would be re-initialised Kaiming-normal here (only with k = all 10 groups); its
  ``bn1`` belongs to no group and stays frozen;
* optimiser: SGD with momentum 0.9 and weight decay 5e-4 (the Comparator's constants), constant
  learning rate. Goel et al. use momentum 0.9, weight decay 5e-5, cosine annealing with warm restarts
  and gradient clipping at 10; Kurmanji et al. plain SGD (no momentum) with weight decay 5e-4;
* k counts layer groups, not convolution/linear layers (see above);
* the batch order comes from ``task.generator``; on CUDA the forward passes run under bfloat16 autocast
  (the papers use float32).

The re-initialisation (no forward pass, negligible) runs inside the timer, as part of the unlearning.
The loop is :func:`~unlearning_comparator.unlearning.layers.train_last_groups`, CF-k's after the
re-initialisation.
"""

from __future__ import annotations

import torch

from unlearning_comparator.unlearning import UnlearningTask
from unlearning_comparator.unlearning.layers import train_last_groups

NAME = "EU-k"

DEFAULTS = {"epochs": 25, "lr": 0.01, "batch_size": 64}

HYPERPARAMETERS = {
    "k": {
        "type": "integer",
        "minimum": 1,
        "default": 3,
        "description": "number of layer groups, counted from the output, that are re-initialised and "
        "retrained (the rest is frozen)",
    },
}

# for the registry's contract test (200 forget / 1800 retain images; DEFAULTS are sized for 5000 / 45000)
TEST_SETTINGS = {"epochs": 1, "lr": 0.05, "batch_size": 32, "k": 2}


def unlearn(task: UnlearningTask) -> torch.nn.Module:
    return train_last_groups(task, task.hp["k"], reinitialised=True)

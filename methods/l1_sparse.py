"""ℓ1-sparse unlearning: fine-tune on the retain set with an ℓ1 penalty on the weights whose weight decays
linearly over the run, so that unlearning is steered towards a sparse model.

J. Jia, J. Liu, P. Ram, Y. Yao, G. Liu, Y. Liu, P. Sharma, S. Liu, "Model Sparsity Can Simplify Machine
Unlearning", NeurIPS 2023 (arXiv:2304.04934), "sparsity-aware unlearning". Reimplemented from the paper
and the authors' public code (OPTML-Group/Unlearn-Sparse@80ba55d3, unlearn/FT.py ``FT_l1`` and
unlearn/impl.py, run as ``--unlearn FT_prune``), not copied.

Update rule. With θ every parameter of the network (weights, biases, BatchNorm affine parameters) and
‖θ‖₁ = Σ_i |θ_i|, for epoch t = 0, …, T − 1 (T = ``epochs``) and each shuffled retain mini-batch
B ⊂ D_r:

    γ_t = γ · (1 − t/T)                                    (linearly decaying, constant within an epoch)
    θ ← SGD step on  (1/|B|) Σ_{(x, y) ∈ B} CE(f(x; θ), y) + γ_t · ‖θ‖₁

so the penalty weight is γ in the first epoch, γ/2 half-way and γ/T in the last
(:func:`penalty_weight`). The forget set is never used: the method is fine-tuning (FT) with a sparsity
prior, and forgetting comes from FT's drift plus the pull of the ℓ1 term towards zero.

Defaults. The authors' code: SGD with momentum 0.9 and weight decay 5e-4, 10 epochs, lr 0.01 (their
README's ℓ1-sparse command), batch size 256 (their default), MultiStepLR at epochs 91 and 136 (never
reached in 10 epochs, so the rate is constant). γ = 5e-4 (``gamma``); the authors' README leaves γ to
the user (``--alpha ${alpha}``; the parser's default 0.2 belongs to other methods). DEFAULTS and
HYPERPARAMETERS hold these.

Train/eval modes: train mode throughout (BatchNorm statistics follow the retain batches), as in the
authors' code.

Deviations, named:

* the authors' code can hold the penalty at zero for the last ``no_l1_epochs`` epochs (default 0, so
  off); this option is not offered;
* the batch order comes from ``task.generator``; on CUDA the cross-entropy's forward pass runs under
  bfloat16 autocast (the penalty is computed in float32); the paper uses float32 throughout.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from unlearning_comparator.device import autocast
from unlearning_comparator.unlearning import UnlearningTask
from unlearning_comparator.unlearning.toolkit import sgd, step

NAME = "ℓ1-sparse"

DEFAULTS = {"epochs": 10, "lr": 0.01, "batch_size": 256}

HYPERPARAMETERS = {
    "gamma": {
        "type": "number",
        "minimum": 0,
        "default": 0.0005,
        "description": "initial weight γ of the ℓ1 penalty; it decays linearly to γ/T in the last of T "
        "epochs",
    },
}

# for the registry's contract test (200 forget / 1800 retain images; DEFAULTS are sized for 5000 / 45000)
TEST_SETTINGS = {"epochs": 2, "lr": 0.05, "batch_size": 32, "gamma": 0.0005}


def penalty_weight(gamma: float, epoch: int, epochs: int) -> float:
    """γ_t = γ·(1 − t/T) for epoch t = 0, …, T − 1: γ first, γ/2 half-way, γ/T in the last epoch."""
    if not 0 <= epoch < epochs:
        raise ValueError(f"epoch {epoch} is outside 0..{epochs - 1}")
    return gamma * (1.0 - epoch / epochs)


def l1_norm(model: nn.Module) -> torch.Tensor:
    """‖θ‖₁ over every parameter, in float32."""
    return torch.stack([p.float().abs().sum() for p in model.parameters()]).sum()


def unlearn(task: UnlearningTask) -> torch.nn.Module:
    model, hp = task.model, task.hp
    epochs = int(hp["epochs"])
    optimizer = sgd(model.parameters(), lr=hp["lr"])
    with task.timer:
        for epoch in range(epochs):
            weight = penalty_weight(float(hp["gamma"]), epoch, epochs)
            model.train()
            for x, y in task.batches(task.retain, hp["batch_size"]):
                with autocast(task.device):
                    loss = F.cross_entropy(model(x), y)
                if weight > 0:
                    loss = loss + weight * l1_norm(model)
                step(optimizer, loss)
    return model

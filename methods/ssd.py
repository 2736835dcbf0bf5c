"""Selective Synaptic Dampening (SSD): shrink the weights that matter far more to the forget set than
to the training data as a whole. No training.

SSD: J. Foster, S. Schoepf, A. Brintrup, "Fast Machine Unlearning Without Retraining Through Selective
Synaptic Dampening", AAAI 2024 (arXiv:2308.07707). Written from the paper and a reading of its authors'
release (if-loops/selective-synaptic-dampening at commit cdfdc0e: ``src/ssd.py``,
``src/forget_*_main.py`` and ``src/forget_*_strategies.py``); the code here is this project's own.

Update rule, with D the whole training data (here retain ∪ forget) and D_f the forget set:

* importance of every weight θ_i on a data set S: the diagonal of the Fisher information,
  []_S,i = E_S[(∂ log p(y | x; θ) / ∂θ_i)²], estimated as in the authors' ``calc_importance``:
  []_S = (1/B) Σ_b (∇θ mean-CE_b)² over the B mini-batches of ``batch_size`` images of S (model in eval
  mode, true labels);
* selection: the weights with []_Df,i > α · []_D,i;
* dampening: each selected weight is multiplied by β_i = min(λ · []_D,i / []_Df,i, 1); every other weight
  is left bit-identical, and so are all buffers (BatchNorm running statistics).

The paper's defaults for ResNet-18 on CIFAR: α (``selection_weighting``) = 10, λ (``dampening_constant``)
= 1, batch size 64 (the release's ``-b``); they are this module's defaults. SSD has no epochs and no
learning rate: ``epochs`` and ``lr`` are in DEFAULTS only because every method declares them, and are
unused (lr 0.1 is the rate of the release's never-stepped optimiser); ``batch_size`` is the importance
estimates' mini-batch size.

A limit of α: the importance is (nearly) additive over images, []_D ≈ f·[]_Df + (1 − f)·[]_Dr with
f = |D_f|/|D|, so []_Df > α·[]_D requires (1 − α·f)·[]_Df > α·(1 − f)·[]_Dr, impossible once α ≥ 1/f.
The paper's α = 10 was set for forget sets of at most 5 % of D (a CIFAR-100 or CIFAR-20 class, 100
random CIFAR-10 images); forgetting one class of ten (f = 0.1) needs α < 10 (e.g. 6), or nothing is
selected.

RTE. The paper times the whole method, both importance estimates included. Here []_D is a preparation
outside the timer (``PREPARATION``): it depends only on the trained model and the training set — D is
the same set whatever is forgotten, and it is estimated over a fixed order (below) — so it is computed
once per model and serves every forget request (the release's ``forget_full_class_strategies.py`` notes
that it "can also be done at any point before forgetting"). Its cost is logged and recorded as time
outside the timer. The forget-set importance []_Df and the dampening, which depend on the request, are
the timed unlearning.

Deviations:

* batch order: both importances go over their images sorted by label, then by position in the training
  split, without shuffling (deterministic; no random draw). The release iterates D and D_f in their
  stored order: for whole-class forgetting its D (retain then forget, each class-ordered) is class-sorted
  too, so its batches are nearly the same; for random forgetting its D batches mix classes. Squaring a
  mini-batch gradient makes the estimate depend on the batch's composition — mixed-class batches cancel
  much of the gradient — so one fixed, label-sorted order keeps []_D and []_Df comparable for any forget
  set and makes []_D independent of it;
* per-batch, not per-image, squared gradients: as the authors' code (the paper's definition is the
  per-image Fisher diagonal);
* on CUDA the forward passes run under bfloat16 autocast (gradients and importances in float32).
"""

from __future__ import annotations

import torch

from unlearning_comparator.unlearning import UnlearningTask
from unlearning_comparator.unlearning.importance import mean_batch_fisher
from unlearning_comparator.unlearning.toolkit import concat_splits

NAME = "SSD"

DEFAULTS = {"epochs": 1, "lr": 0.1, "batch_size": 64}  # epochs and lr unused (no training)

HYPERPARAMETERS = {
    "selection_weighting": {
        "type": "number",
        "exclusiveMinimum": 0,
        "default": 10.0,
        "description": "α: a weight is dampened where its forget importance exceeds α × its importance on D",
    },
    "dampening_constant": {
        "type": "number",
        "exclusiveMinimum": 0,
        "default": 1.0,
        "description": "λ: a selected weight is scaled by min(λ × importance on D / forget importance, 1)",
    },
}

PREPARATION = "diagonal Fisher importance over the whole training set (retain ∪ forget), for any forget set"

TEST_SETTINGS = {"batch_size": 64, "selection_weighting": 6.0}  # one class of ten: α < 10


@torch.no_grad()
def dampen(
    model: torch.nn.Module,
    full: dict[str, torch.Tensor],
    forget: dict[str, torch.Tensor],
    alpha: float,
    lam: float,
) -> dict[str, torch.Tensor]:
    """Multiply each weight with forget[i] > α·full[i] by min(λ·full[i]/forget[i], 1); return the
    selection masks."""
    selected = {}
    for name, param in model.named_parameters():
        if name not in full:
            continue
        chosen = forget[name] > alpha * full[name]
        beta = (lam * full[name][chosen] / forget[name][chosen]).clamp(max=1.0)
        param[chosen] = param[chosen] * beta.to(param.dtype)
        selected[name] = chosen
    return selected


def unlearn(task: UnlearningTask) -> torch.nn.Module:
    model, hp = task.model, task.hp
    batch_size = int(hp["batch_size"])

    # preparation: []_D over every training image, in a fixed order (the same for any forget set)
    full = mean_batch_fisher(task, concat_splits(task.retain, task.forget), batch_size)
    task.log("SSD: importance over the whole training set computed (preparation, outside the timer)")

    with task.timer:
        forget = mean_batch_fisher(task, task.forget, batch_size)
        selected = dampen(
            model, full, forget, float(hp["selection_weighting"]), float(hp["dampening_constant"])
        )
    chosen = sum(int(m.sum()) for m in selected.values())
    total = sum(m.numel() for m in selected.values())
    task.log(f"SSD: dampened {chosen} of {total} weights ({chosen / max(total, 1):.2%})")
    task.extras["ssd_importance"] = {"full": full, "forget": forget}  # for inspection (tests, diagnostics)
    task.extras["ssd_selected"] = selected
    return model

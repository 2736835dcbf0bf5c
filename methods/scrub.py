"""SCRUB as the Comparator runs it: a student moves away from a frozen teacher on the forget set and
stays close to it (and to the labels) on the retain set.

SCRUB: M. Kurmanji et al., "Towards Unbounded Machine Unlearning", NeurIPS 2023 (arXiv:2302.09880).
Recipe, as the original Comparator runs it (gnueaj/Machine-Unlearning-Comparator@0e3ce99d,
backend/app/services/unlearn_SCRUB.py and backend/app/threads/unlearn_SCRUB_thread.py; constants in
backend/app/config/settings.py, front-end defaults in frontend/src/utils/config/unlearning.ts), written
from a description of that behaviour (the SCRUB authors' code is non-commercial and was not used):

* teacher: a frozen copy of the base model; student: the model being unlearned;
* KD(s, t) = KL(softmax(t/T) ‖ softmax(s/T)), batch mean, × T², with T = ``kd_temperature`` (2.0);
* pre-step, *outside* RTE — the "Fisher" estimate: with the model in eval mode, over shuffled retain
  batches until at least ``fisher_samples`` (1000) images were seen, accumulate the square of each
  batch's (mean-CE) parameter gradient, then divide the sum by the number of images seen;
* each epoch:
  - forget phase (only while epoch < ``msteps``, i.e. always with the default 100): for every forget
    batch, loss = −alpha·KD; backward; divide every gradient by (Fisher + 1e-8); clip the gradient
    norm to ``grad_clip`` (1.0); step;
  - retain phase: for every retain batch, loss = alpha·KD + gamma·CE; clip to 1.0; step;
  - MultiStepLR([80, 120], 0.2) step;
* one SGD(lr, momentum 0.9, weight decay 5e-4) for both phases; alpha 0.5, gamma 1.0 (beta 0 unused).

Train/eval modes, as in the original: the teacher stays in eval mode throughout (fixed BatchNorm
statistics, so its targets are those of the base model and do not depend on the batch's
composition). The student is in train mode in both phases: in the forget phase its BatchNorm layers
therefore see single-class batches and their running statistics drift towards the forget class; the
retain phase that follows, far longer, re-estimates them from retain data (momentum 0.1: the forget
phase's share decays as 0.9^n).

Deviations (docs/differences-from-the-original.md §3.1, §3.5, §2.3), none in the recipe:

* the batch order comes from ``task.generator`` (the run's seed), not from torch's global generator
  seeded with 2048;
* RTE times the two phases alone: the original's timer also covers an evaluation of the whole forget
  set after every epoch (in eval mode, so it changes neither weights nor BatchNorm statistics);
* on CUDA the forward passes run under bfloat16 autocast, with the KD and CE terms computed in float32;
  the original, like the CPU path here, uses float32 throughout.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from unlearning_comparator.device import autocast
from unlearning_comparator.unlearning import UnlearningTask
from unlearning_comparator.unlearning.importance import first_batches, squared_gradient_sum
from unlearning_comparator.unlearning.toolkit import clip, kd_loss, multistep, sgd, step

NAME = "SCRUB"

DEFAULTS = {"epochs": 5, "lr": 0.01, "batch_size": 128}

HYPERPARAMETERS = {
    "alpha": {
        "type": "number",
        "minimum": 0,
        "default": 0.5,
        "description": "weight of the distillation terms",
    },
    "gamma": {"type": "number", "minimum": 0, "default": 1.0, "description": "weight of the retain CE term"},
    "kd_temperature": {
        "type": "number",
        "exclusiveMinimum": 0,
        "default": 2.0,
        "description": "softmax temperature of the distillation loss",
    },
    "msteps": {
        "type": "integer",
        "minimum": 0,
        "default": 100,
        "description": "epochs that include the forget (max) phase",
    },
    "fisher_samples": {
        "type": "integer",
        "minimum": 1,
        "default": 1000,
        "description": "retain images the Fisher pre-step looks at (at least)",
    },
    "grad_clip": {
        "type": "number",
        "exclusiveMinimum": 0,
        "default": 1.0,
        "description": "maximum gradient norm of every step",
    },
}

PREPARATION = "the diagonal Fisher estimate over retain batches (before the loop, as in the original)"
# for the registry's contract test (a few hundred images; DEFAULTS are sized for tens of thousands)
TEST_SETTINGS = {"epochs": 2, "lr": 0.05, "batch_size": 32}

EPS = 1e-8


def fisher_diagonal(task: UnlearningTask) -> dict[str, torch.Tensor]:
    """Σ_batches (∇θ mean-CE)² / images seen, over retain batches until ≥ fisher_samples images
    (eval mode)."""
    batches = first_batches(task, task.retain, task.hp["batch_size"], int(task.hp["fisher_samples"]))
    fisher, _, seen = squared_gradient_sum(task.model, batches, F.cross_entropy, task.device)
    for acc in fisher.values():
        acc.div_(max(seen, 1))
    return fisher


def unlearn(task: UnlearningTask) -> torch.nn.Module:
    student, hp = task.model, task.hp
    alpha, gamma = float(hp["alpha"]), float(hp["gamma"])
    temperature = float(hp["kd_temperature"])
    msteps = int(hp["msteps"])
    grad_clip = float(hp["grad_clip"])

    teacher = task.copy_model()  # frozen, eval mode
    fisher = fisher_diagonal(task)  # one-off preparation, outside RTE as in the original
    scale = [(p, 1.0 / (fisher[n] + EPS)) for n, p in student.named_parameters() if n in fisher]

    optimizer = sgd(student.parameters(), lr=hp["lr"])
    scheduler = multistep(optimizer)

    def kd(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad(), autocast(task.device):
            t_logits = teacher(x)
        with autocast(task.device):
            s_logits = student(x)
        return kd_loss(s_logits.float(), t_logits.float(), temperature), s_logits.float()

    with task.timer:
        for epoch in range(hp["epochs"]):
            student.train()
            teacher.eval()
            if epoch < msteps:
                for x, _ in task.batches(task.forget, hp["batch_size"]):
                    loss, _ = kd(x)
                    optimizer.zero_grad(set_to_none=True)
                    (-alpha * loss).backward()
                    with torch.no_grad():
                        for p, s in scale:
                            if p.grad is not None:
                                p.grad.mul_(s)
                    clip(student, grad_clip)
                    optimizer.step()
            for x, y in task.batches(task.retain, hp["batch_size"]):
                loss, logits = kd(x)
                loss = alpha * loss + gamma * F.cross_entropy(logits, y)
                step(optimizer, loss, student, grad_clip)
            scheduler.step()
    return student

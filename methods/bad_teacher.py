"""Bad Teacher: the student distils a competent teacher on retain images, an incompetent one on forget images.

V. S. Chundawat, A. K. Tarun, M. Mandal, M. Kankanhalli, "Can Bad Teaching Induce Forgetting? Unlearning
in Deep Networks Using an Incompetent Teacher", AAAI 2023 (arXiv:2205.08096). Reimplemented from the paper
and the authors' public code (vikram2000b/bad-teaching-unlearning@f1aa988f, unlearn.py and
CIFARSuper20_Rocket_Unlearn.ipynb), not copied.

Update rule. Three networks of the same architecture: the competent teacher T_s = a frozen copy of the
base model, the incompetent teacher T_d = a randomly initialised (untrained) network, and the student S =
the model being unlearned, initialised with the base weights. The unlearning data D_u = D_f ∪ R, where
D_f is the forget set and R a random subset of ``retain_fraction`` (paper: 30 %) of the retain set; each
image carries l_u = 1 if it is a forget image, else 0. With the softmax at temperature T
(``KL_temperature``, paper: 1),

    t(x) = l_u(x) · softmax(T_d(x)/T) + (1 − l_u(x)) · softmax(T_s(x)/T)
    L(x) = KL( t(x) ‖ softmax(S(x)/T) ) = Σ_c t_c(x) · (log t_c(x) − log softmax(S(x)/T)_c)

and the student minimises the mean of L over each mini-batch of shuffled D_u with Adam(lr), for
``epochs`` passes over D_u.

Paper / public-code defaults (CIFAR-100 super-classes, ResNet-18): 1 epoch, Adam with lr 1e-4, batch
size 256, temperature 1, 30 % of the retain set. DEFAULTS and HYPERPARAMETERS hold exactly these.

Train/eval modes: both teachers are in eval mode (fixed BatchNorm statistics; the incompetent teacher's
are the initial ones, mean 0 and variance 1), as in the public code. The student is in train mode (the
public notebook builds it fresh, so in train mode), and its BatchNorm statistics follow the mixed batches.

The incompetent teacher is drawn from ``task.generator`` (not torch's global generator), so that the same
seed gives the same teacher: convolutions get Kaiming-normal weights (fan-out, ReLU gain; the
initialisation of torchvision's ResNet and of every network registered here) and zero biases, linear
layers PyTorch's default U(−1/√fan_in, 1/√fan_in) for weights and biases, normalisation layers weight 1,
bias 0 and fresh running statistics (:func:`~unlearning_comparator.unlearning.layers.reinitialise_layer`,
as EU-k re-initialises). The retain subset and the batch order come from ``task.generator`` too.

Deviations from the paper's code, named:

* KL reduction: the public code calls ``F.kl_div`` with its default 'mean' reduction, which averages over
  images *and* classes (the batch mean divided by the number of classes). Here L is the batch mean of the
  per-image KL divergence. The two differ by the constant factor 1/C; with Adam, whose step is invariant
  to a constant loss scale (up to its ε), the update is practically the same;
* the incompetent teacher's initialisation scheme is written out (see above) instead of the
  architecture's constructor, so that it draws from ``task.generator``;
* the retain subset is drawn with ``task.generator`` (the notebook uses Python's ``random.sample``);
* on CUDA the forward passes run under bfloat16 autocast (the loss in float32); the paper uses float32.

The incompetent teacher's construction and the retain subset's draw (no forward passes) happen outside
the timer; every forward and backward pass of the distillation is inside it (RTE).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from unlearning_comparator.data import Split
from unlearning_comparator.device import autocast
from unlearning_comparator.unlearning import UnlearningTask
from unlearning_comparator.unlearning.layers import reinitialise_layer
from unlearning_comparator.unlearning.toolkit import concat_splits, step

NAME = "Bad Teacher"

DEFAULTS = {"epochs": 1, "lr": 0.0001, "batch_size": 256}

HYPERPARAMETERS = {
    "KL_temperature": {
        "type": "number",
        "exclusiveMinimum": 0,
        "default": 1.0,
        "description": "softmax temperature of the teachers' targets and the student's output",
    },
    "retain_fraction": {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": 1,
        "default": 0.3,
        "description": "fraction of the retain set (drawn at random) mixed with the forget set",
    },
}

# for the registry's contract test (200 forget / 1800 retain images; DEFAULTS are sized for 5000 / 45000)
TEST_SETTINGS = {"epochs": 2, "lr": 0.001, "batch_size": 32}


def incompetent_teacher(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """A randomly initialised network of ``model``'s architecture, frozen and in eval mode."""
    teacher = copy.deepcopy(model)
    for module in teacher.modules():
        reinitialise_layer(module, generator)  # the constructors' scheme
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher.eval()


def teacher_targets(
    competent_logits: torch.Tensor,
    incompetent_logits: torch.Tensor,
    is_forget: torch.Tensor,
    temperature: float,
) -> torch.Tensor:
    """Per image: softmax(incompetent/T) for forget images, softmax(competent/T) for retain images."""
    competent = F.softmax(competent_logits.float() / temperature, dim=1)
    incompetent = F.softmax(incompetent_logits.float() / temperature, dim=1)
    return torch.where(is_forget.unsqueeze(1), incompetent, competent)


def bad_teacher_loss(student_logits: torch.Tensor, targets: torch.Tensor, temperature: float) -> torch.Tensor:
    """Batch mean of KL(targets ‖ softmax(student/T))."""
    log_student = F.log_softmax(student_logits.float() / temperature, dim=1)
    return F.kl_div(log_student, targets, reduction="batchmean")


def retain_subset(task: UnlearningTask, fraction: float) -> Split:
    """A random ``fraction`` of the retain set (at least one image), drawn with the task's generator."""
    n = len(task.retain)
    k = min(n, max(1, round(fraction * n)))
    chosen = torch.randperm(n, generator=task.generator)[:k]
    return task.retain.select(chosen)


def unlearn(task: UnlearningTask) -> torch.nn.Module:
    student, hp = task.model, task.hp
    temperature = float(hp["KL_temperature"])

    competent = task.copy_model()  # frozen base model, eval mode
    incompetent = incompetent_teacher(student, task.generator)
    mixed = concat_splits(task.forget, retain_subset(task, float(hp["retain_fraction"])))
    is_forget = torch.arange(len(mixed), device=mixed.labels.device) < len(task.forget)
    optimizer = torch.optim.Adam(student.parameters(), lr=hp["lr"])

    with task.timer:
        for _ in range(hp["epochs"]):
            student.train()
            for x, _, idx in task.indexed_batches(mixed, hp["batch_size"]):
                with torch.no_grad(), autocast(task.device):
                    targets = teacher_targets(competent(x), incompetent(x), is_forget[idx], temperature)
                with autocast(task.device):
                    logits = student(x)
                loss = bad_teacher_loss(logits, targets, temperature)
                step(optimizer, loss)
    return student

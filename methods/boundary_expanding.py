"""Boundary Expanding: add a shadow class, fine-tune the forget images into it, then prune it.

M. Chen, W. Gao, G. Liu, K. Peng, C. Wang, "Boundary Unlearning: Rapid Forgetting of Deep Networks via
Shifting the Decision Space" (arXiv:2303.11570; "... the Decision Boundary" in the proceedings), CVPR 2023.
Reimplemented from the paper and the authors' public code (distributed as a zip archive; read here as
re-hosted at TY-LEE-KR/Boundary-Unlearning-Code@86c2f1f2, boundary_unlearning.py), not copied.

Why whole classes only (``WHOLE_CLASS_ONLY``): the paper defines Boundary Unlearning for forgetting a
class. Expanding moves the forget class's decision region into a shadow class and then deletes that
class, so the images left without a region are those the forget class used to claim; for a sample of
images whose class stays in the training data, training them into the shadow class would shift a class
that must still be recognised, a use the paper neither defines nor evaluates. The workflow therefore
refuses it on a forget set that is not exactly one whole class, and ``unlearn`` raises if called on one
directly.

Update rule. The network is f = h ∘ g with g the feature extractor and h(z) = W z + b the final linear
layer (C outputs; found in the model's structure as its last ``nn.Linear`` with C outputs, the layer
that maps ``feature_module()``'s features to the logits in every network registered here):

1. expand: h′(z) = W′ z + b′ with C + 1 outputs, W′[:C] = W, b′[:C] = b; the shadow row W′[C] is drawn
   Xavier-normal (std √(2 / (fan_in + C + 1))) and b′[C] = 0, as the code's ``init_params``;
2. fine-tune g and h′ together on the forget set, every image labelled with the shadow class C:
   minimise CE(h′(g(x)), C) with SGD(lr, momentum 0.9, no weight decay) for ``epochs`` epochs;
3. prune: h ← (W′[:C], b′[:C]); the returned model has the base architecture (the same state_dict keys
   and shapes), and its forget images, whose features now point at the deleted shadow class, fall to
   the other classes.

Paper / public-code defaults (CIFAR-10, All-CNN): batch size 64, SGD lr 1e-5, momentum 0.9, 10 epochs.
DEFAULTS hold exactly these; the method has no other hyperparameter.

Train/eval modes: the model is in train mode throughout the fine-tuning (its BatchNorm statistics follow
the forget-only batches), as in the code.

Deviations from the public code, named:

* the shadow row is drawn from ``task.generator`` (the code's ``init_params`` re-draws the whole widened
  layer from torch's global generator and then overwrites its first C rows, which leaves the same
  distribution for the shadow row); the batch order comes from ``task.generator`` too;
* the code computes each batch's logits before switching the widened model to train mode, so its very
  first batch runs in the mode the base model was left in; here every batch runs in train mode;
* on CUDA the forward passes run under bfloat16 autocast (the loss in float32); the paper uses float32.

Everything (expanding, fine-tuning, pruning) is inside the timer (RTE); the method has no preparation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from unlearning_comparator.device import autocast
from unlearning_comparator.unlearning import UnlearningTask
from unlearning_comparator.unlearning.toolkit import require_whole_class, sgd, step

NAME = "Boundary Expanding"

DEFAULTS = {"epochs": 10, "lr": 0.00001, "batch_size": 64}

HYPERPARAMETERS = {}  # no own keys: the recipe is fixed

WHOLE_CLASS_ONLY = True

# for the registry's contract test (200 forget images; DEFAULTS are sized for 5000)
TEST_SETTINGS = {"epochs": 2, "lr": 0.01, "batch_size": 32}


def logit_head(model: nn.Module, num_classes: int) -> tuple[nn.Module, str, nn.Linear]:
    """(parent, attribute name, layer) of the final linear layer: the last with ``num_classes`` outputs."""
    found = [
        (name, m)
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear) and m.out_features == num_classes
    ]
    if not found:
        raise TypeError(
            f"Boundary Expanding needs a final nn.Linear layer with {num_classes} outputs; "
            f"{type(model).__name__} has none"
        )
    name, head = found[-1]
    parent_name, _, attribute = name.rpartition(".")
    return model.get_submodule(parent_name), attribute, head


@torch.no_grad()
def widen_head(head: nn.Linear, generator: torch.Generator) -> nn.Linear:
    """``head`` plus one output, the shadow class: Xavier-normal weights drawn from ``generator``, bias 0."""
    classes, features = head.out_features, head.in_features
    wide = torch.nn.utils.skip_init(  # no draw from torch's global generator
        nn.Linear,
        features,
        classes + 1,
        bias=head.bias is not None,
        device=head.weight.device,
        dtype=head.weight.dtype,
    )
    std = (2.0 / (features + classes + 1)) ** 0.5
    wide.weight[:classes] = head.weight
    wide.weight[classes] = (torch.randn(features, generator=generator) * std).to(wide.weight)
    if head.bias is not None:
        wide.bias[:classes] = head.bias
        wide.bias[classes] = 0.0
    return wide


@torch.no_grad()
def prune_head(wide: nn.Linear, head: nn.Linear) -> None:
    """Copy the first ``head.out_features`` rows of ``wide`` (all classes but the shadow) into ``head``."""
    classes = head.out_features
    head.weight.copy_(wide.weight[:classes])
    if head.bias is not None:
        head.bias.copy_(wide.bias[:classes])


def unlearn(task: UnlearningTask) -> torch.nn.Module:
    require_whole_class(task, NAME)
    model, hp = task.model, task.hp
    parent, attribute, head = logit_head(model, task.num_classes)
    shadow = task.num_classes  # the index of the extra class
    with task.timer:
        wide = widen_head(head, task.generator)
        setattr(parent, attribute, wide)
        optimizer = sgd(model.parameters(), lr=hp["lr"], weight_decay=0.0)
        for _ in range(hp["epochs"]):
            model.train()
            for x, y in task.batches(task.forget, hp["batch_size"]):
                with autocast(task.device):
                    logits = model(x)
                loss = F.cross_entropy(logits.float(), torch.full_like(y, shadow))
                step(optimizer, loss)
        prune_head(wide, head)
        setattr(parent, attribute, head)  # the base architecture again: same keys, same shapes
    return model

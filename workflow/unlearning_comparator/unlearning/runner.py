"""Run one method on one forget set and record the outcome: ok with an RTE, or failed with the error."""

from __future__ import annotations

import copy
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..data import ImageDataset
from ..data.subsets import forget_mask
from ..models import ClassifierNet
from .api import LoopTimer, UnlearningTask, all_finite
from .registry import MethodSpec


@dataclass
class RunOutcome:
    model: nn.Module | None
    status: str  # "ok" or "failed"
    error: str | None
    seconds: float  # RTE: seconds inside the method's `with task.timer:` blocks
    outside_seconds: float = 0.0  # the rest of the call: one-off preparation (a Fisher estimate, a mask)


def make_task(
    base: ClassifierNet,
    data: ImageDataset,
    forget: int | torch.Tensor,
    hp: dict[str, Any],
    device: torch.device,
    seed: int,
    log: Callable[[str], None] = print,
) -> UnlearningTask:
    """An :class:`UnlearningTask` over ``data``'s training split (already on ``device``) with a private
    copy of ``base``. ``forget`` is a class (every training image of it is forgotten) or a boolean mask
    over the training split (any set of images); the retain set is the rest."""
    model = copy.deepcopy(base).to(device).to(memory_format=torch.channels_last)
    if isinstance(forget, torch.Tensor):
        mask = forget.to(data.train.labels.device).bool()
        if mask.shape != data.train.labels.shape:
            raise ValueError(f"the forget mask's shape {tuple(mask.shape)}: not one entry per training image")
        forget_labels = torch.unique(data.train.labels[mask])
        whole = len(forget_labels) == 1 and bool(
            (mask == forget_mask(data.train.labels, int(forget_labels[0]))).all()
        )
        forget_class = int(forget_labels[0]) if whole else None
    else:
        forget_class = int(forget)
        mask = forget_mask(data.train.labels, forget_class)
    if not mask.any() or mask.all():
        raise ValueError("the forget set must hold at least one training image and leave at least one")
    torch.manual_seed(seed)  # anything a method draws from torch's global generator is seeded too
    return UnlearningTask(
        model=model,
        forget=data.train.select(mask.nonzero().flatten()),
        retain=data.train.select((~mask).nonzero().flatten()),
        info=data.info,
        forget_class=forget_class,
        hp=dict(hp),
        device=device,
        generator=torch.Generator().manual_seed(seed),
        timer=LoopTimer(device),
        log=log,
    )


def run_method(spec: MethodSpec, task: UnlearningTask) -> RunOutcome:
    """Call the method; turn an import error, incomplete hyperparameters, an exception or non-finite
    weights into a failed outcome."""
    if not spec.ok or spec.unlearn is None:
        return RunOutcome(None, "failed", spec.error or f"method {spec.id} has no unlearn function", 0.0)
    missing = [key for key in spec.declared_keys() if key not in task.hp]
    if missing:
        # Methods read hp["key"]: their defaults live in their declarations, filled in by the config
        # (or MethodSpec.with_defaults), never in the method's code.
        return RunOutcome(None, "failed", f"task.hp lacks the declared hyperparameters {missing}", 0.0)
    if spec.whole_class_only and task.forget_class is None:
        return RunOutcome(None, "failed", spec.whole_class_reason(), 0.0)
    start = time.perf_counter()
    try:
        model = spec.unlearn(task)
    except Exception as exc:
        return RunOutcome(
            None, "failed", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}", task.timer.seconds
        )
    if not isinstance(model, nn.Module):
        return RunOutcome(
            None,
            "failed",
            f"unlearn() returned {type(model).__name__}, not a torch.nn.Module",
            task.timer.seconds,
        )
    if not all_finite(model):
        return RunOutcome(
            None,
            "failed",
            "the unlearned weights are not finite (NaN or Inf): the method diverged",
            task.timer.seconds,
        )
    # one-off preparation (a Fisher estimate, a mask, noise) is not RTE, but its cost is recorded
    outside = time.perf_counter() - start - task.timer.seconds
    return RunOutcome(model, "ok", None, task.timer.seconds, outside)

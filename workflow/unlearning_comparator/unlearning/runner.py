"""Run one method on one forget class and record the outcome: ok with an RTE, or failed with the error."""

from __future__ import annotations

import copy
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


def make_task(
    base: ClassifierNet,
    data: ImageDataset,
    forget_class: int,
    hp: dict[str, Any],
    device: torch.device,
    seed: int,
    log: Callable[[str], None] = print,
) -> UnlearningTask:
    """An :class:`UnlearningTask` over ``data`` (already on ``device``) with a private copy of ``base``."""
    model = copy.deepcopy(base).to(device).to(memory_format=torch.channels_last)
    mask = forget_mask(data.train.labels, forget_class)
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
    return RunOutcome(model, "ok", None, task.timer.seconds)

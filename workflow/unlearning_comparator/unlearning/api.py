"""The contract between the workflow and a method module.

A method module in ``methods/`` defines::

    NAME = "Gradient Ascent"                 # display name
    DEFAULTS = {"epochs": 7, "lr": 1e-4, "batch_size": 256}
    HYPERPARAMETERS = {"grad_clip": {"type": "number", "exclusiveMinimum": 0, "default": 100.0}}
    def unlearn(task: UnlearningTask) -> torch.nn.Module: ...

``unlearn`` receives the base model (a private copy, on the task's device), the forget and retain
data as in-memory tensors, and the run's hyperparameters, complete: ``task.hp`` holds every declared
key (the config fills in the declared defaults), so a method reads ``hp["key"]`` and keeps no default
of its own. It returns the unlearned model.
It wraps its unlearning loop in ``with task.timer:`` — the seconds spent inside are the run's RTE,
so one-off preparation (a Fisher estimate, a saliency mask) stays out of it, as in the original.
Every random draw must come from ``task.generator`` so that a seed gives the same run twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..data import DatasetInfo, Split, normalize
from ..device import synchronized
from ..models import ClassifierNet


class LoopTimer:
    """Accumulates the wall-clock seconds spent inside ``with timer:`` blocks (CUDA-synchronised)."""

    def __init__(self, device: torch.device):
        self.device = device
        self.seconds = 0.0
        self._start: float | None = None

    def __enter__(self) -> LoopTimer:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        assert self._start is not None
        self.seconds += time.perf_counter() - self._start
        self._start = None


@dataclass
class UnlearningTask:
    model: ClassifierNet  # the base model's weights, a private copy on `device`
    forget: Split  # every training image of the forget class, uint8, on `device`
    retain: Split  # every other training image, uint8, on `device`
    info: DatasetInfo
    forget_class: int
    hp: dict[str, Any]  # complete: epochs, lr, batch_size and every own key the module declares
    device: torch.device
    generator: torch.Generator  # CPU generator seeded with the run's seed
    timer: LoopTimer
    log: Callable[[str], None] = print
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return self.info.num_classes

    def inputs(self, images: torch.Tensor) -> torch.Tensor:
        """Normalised network input for a uint8 batch (never augmented: methods see clean images)."""
        return normalize(images, self.info)

    def batches(
        self, split: Split, batch_size: int, shuffle: bool = True, drop_last: bool = False
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield (normalised images, labels) mini-batches of ``split``, shuffled with the task's generator."""
        n = len(split)
        order = torch.randperm(n, generator=self.generator) if shuffle else torch.arange(n)
        order = order.to(split.labels.device)
        stop = n - (n % batch_size) if drop_last else n
        for start in range(0, stop, batch_size):
            idx = order[start : start + batch_size]
            yield self.inputs(split.images[idx]), split.labels[idx]

    def num_batches(self, split: Split, batch_size: int) -> int:
        return -(-len(split) // batch_size)

    def copy_model(self) -> ClassifierNet:
        """A frozen copy of the base model (e.g. a teacher), in eval mode."""
        import copy

        teacher = copy.deepcopy(self.model).eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
        return teacher


def all_finite(model: nn.Module) -> bool:
    return all(torch.isfinite(t).all().item() for t in model.state_dict().values() if t.is_floating_point())


__all__ = ["LoopTimer", "UnlearningTask", "all_finite", "synchronized"]

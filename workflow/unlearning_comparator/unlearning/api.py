"""The contract between the workflow and a method module.

A method module in ``methods/`` defines::

    NAME = "Gradient Ascent"                 # display name
    DEFAULTS = {"epochs": 7, "lr": 1e-4, "batch_size": 256}
    HYPERPARAMETERS = {"grad_clip": {"type": "number", "exclusiveMinimum": 0, "default": 100.0}}
    def unlearn(task: UnlearningTask) -> torch.nn.Module: ...

and may declare (literals, read without running the module)::

    WHOLE_CLASS_ONLY = True      # defined only for forgetting whole classes (e.g. Boundary Unlearning)
    FORGETS = False              # its contract does not include lowering forget accuracy by itself
    PREPARATION = "Fisher diagonal over the retain set"   # one-off work done outside the timer
    TEST_SETTINGS = {"epochs": 2, "lr": 0.05, "batch_size": 32}   # for the registry's contract test

``unlearn`` receives the base model (a private copy, on the task's device), the forget *set* and the
retain set (every other training image) as in-memory tensors — never the test split or any other
data: asking the task for them raises — and the run's hyperparameters, complete: ``task.hp`` holds
every declared key (the config fills in the declared defaults), so a method reads ``hp["key"]`` and
keeps no default of its own. It returns the unlearned model.
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
    forget: Split  # the training images to forget, uint8, on `device`
    retain: Split  # every other training image, uint8, on `device`
    info: DatasetInfo
    forget_class: int | None  # the class, when the forget set is exactly one whole class; else None
    hp: dict[str, Any]  # complete: epochs, lr, batch_size and every own key the module declares
    device: torch.device
    generator: torch.Generator  # CPU generator seeded with the run's seed
    timer: LoopTimer
    log: Callable[[str], None] = print
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return self.info.num_classes

    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes the task does not have: name the rule instead of a bare error.
        if name in ("test", "data", "dataset", "validation", "train"):
            raise AttributeError(
                f"task.{name}: an unlearning method sees the forget and retain sets only "
                "(the test split and held-out data are reserved for evaluation)"
            )
        raise AttributeError(name)

    def forget_classes(self) -> list[int]:
        """The classes present in the forget set (one for whole-class forgetting)."""
        return sorted(int(c) for c in torch.unique(self.forget.labels).tolist())

    def inputs(self, images: torch.Tensor) -> torch.Tensor:
        """Normalised network input for a uint8 batch (never augmented: methods see clean images)."""
        return normalize(images, self.info)

    def batches(
        self, split: Split, batch_size: int, shuffle: bool = True, drop_last: bool = False
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield (normalised images, labels) mini-batches of ``split``, shuffled with the task's generator."""
        for x, y, _ in self.indexed_batches(split, batch_size, shuffle, drop_last):
            yield x, y

    def indexed_batches(
        self, split: Split, batch_size: int, shuffle: bool = True, drop_last: bool = False
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """As :meth:`batches`, with each image's position in ``split`` (same draws, same order)."""
        n = len(split)
        order = torch.randperm(n, generator=self.generator) if shuffle else torch.arange(n)
        order = order.to(split.labels.device)
        stop = n - (n % batch_size) if drop_last else n
        for start in range(0, stop, batch_size):
            idx = order[start : start + batch_size]
            yield self.inputs(split.images[idx]), split.labels[idx], idx

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

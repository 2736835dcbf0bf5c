"""Training the original model (whole training split) and the retrained gold standard (retain set only).

Both follow the config's ``training`` recipe (as the original's, docs/the-original-comparator.md §2.3:
SGD with momentum and Nesterov, weight decay, a learning-rate schedule, augmentation), seeded so that
the same config gives the same weights. Batches are drawn from the in-memory uint8 tensors on the
device; augmentation is applied to whole batches there.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from .data import DatasetInfo, Split, normalize
from .data.augment import random_crop_flip
from .device import allow_tf32, autocast, synchronized
from .models import ClassifierNet


@dataclass
class TrainingHistory:
    epochs: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0  # wall seconds of the training loop (per-epoch test evaluation excluded)


def lr_lambda(recipe: dict[str, Any], steps_per_epoch: int) -> Callable[[int], float]:
    """Learning-rate factor as a function of the optimisation step, for the recipe's schedule."""
    total = recipe["epochs"] * steps_per_epoch
    schedule = recipe["schedule"]
    if schedule == "constant":
        return lambda step: 1.0
    if schedule == "cosine":
        return lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))
    if schedule == "onecycle":
        warm = max(1, int(recipe["warmup_fraction"] * total))

        def onecycle(step: int) -> float:
            if step < warm:
                return (step + 1) / warm
            return 0.5 * (1.0 + math.cos(math.pi * min(step - warm, total - warm) / max(1, total - warm)))

        return onecycle
    if schedule == "multistep":
        milestones = [m * steps_per_epoch for m in recipe["milestones"]]
        return lambda step: recipe["gamma"] ** sum(step >= m for m in milestones)
    raise ValueError(f"unknown schedule {schedule!r}")


@torch.inference_mode()
def accuracy(model: ClassifierNet, split: Split, info: DatasetInfo, batch_size: int = 1000) -> float:
    model.eval()
    correct = 0
    for start in range(0, len(split), batch_size):
        x = normalize(split.images[start : start + batch_size], info)
        correct += int((model(x).argmax(1) == split.labels[start : start + batch_size]).sum())
    return correct / max(1, len(split))


def train_classifier(
    model: ClassifierNet,
    train: Split,
    info: DatasetInfo,
    recipe: dict[str, Any],
    device: torch.device,
    seed: int,
    test: Split | None = None,
    log: Callable[[str], None] = print,
) -> TrainingHistory:
    """Train ``model`` in place on ``train`` (already on ``device``) with ``recipe``; return the history.

    TF32 is allowed for the loop on CUDA (bf16 autocast covers most of it anyway), whoever calls it."""
    with allow_tf32(True):
        return _train(model, train, info, recipe, device, seed, test, log)


def _train(
    model: ClassifierNet,
    train: Split,
    info: DatasetInfo,
    recipe: dict[str, Any],
    device: torch.device,
    seed: int,
    test: Split | None,
    log: Callable[[str], None],
) -> TrainingHistory:
    generator = torch.Generator().manual_seed(seed)
    batch_size = recipe["batch_size"]
    steps_per_epoch = -(-len(train) // batch_size)
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=recipe["lr"],
        momentum=recipe["momentum"],
        nesterov=recipe["nesterov"] and recipe["momentum"] > 0,
        weight_decay=recipe["weight_decay"],
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(recipe, steps_per_epoch))
    history = TrainingHistory()
    for epoch in range(recipe["epochs"]):
        model.train()
        loss_sum, seen = torch.zeros((), device=device), 0
        with synchronized(device):
            start = time.perf_counter()
        order = torch.randperm(len(train), generator=generator).to(device)
        for first in range(0, len(train), batch_size):
            idx = order[first : first + batch_size]
            images = train.images[idx]
            if recipe["augmentation"]:
                images = random_crop_flip(images, info.crop_padding, info.hflip, generator)
            with autocast(device):
                loss = F.cross_entropy(model(normalize(images, info)), train.labels[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum += loss.detach() * len(idx)
            seen += len(idx)
        with synchronized(device):
            history.seconds += time.perf_counter() - start
        record = {"epoch": epoch + 1, "loss": float(loss_sum) / seen, "lr": scheduler.get_last_lr()[0]}
        if not math.isfinite(record["loss"]):
            raise FloatingPointError(
                f"training diverged at epoch {epoch + 1} (loss {record['loss']}); lower training.lr"
            )
        if test is not None:
            record["test_accuracy"] = accuracy(model, test, info)
        history.epochs.append(record)
        log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))
    model.eval()
    return history

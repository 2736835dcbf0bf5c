"""What every job does first: logging, threads, the device, the data set and the shared subsets."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

import torch

from .. import device as devices
from ..data import ImageDataset, load_dataset
from ..data.subsets import (
    ValidationSplitError,
    cka_pool,
    default_cka_per_class,
    evaluation_subset,
    validation_split,
)
from ..evaluation import EvaluationPlan
from ..forget_sets import ForgetSet
from ..models import ClassifierNet, create_model


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class JobContext:
    spec: dict[str, Any]
    device: torch.device

    @property
    def device_name(self) -> str:
        return devices.describe(self.device)


def start(spec: dict[str, Any], threads: int = 1, trains: bool = True) -> JobContext:
    """Threads and device for a job. A job that ``trains`` (training, unlearning: the methods' loops are
    their own code) lets CUDA use TF32 throughout, as training always has; the evaluation job does not,
    and sets the precision of its forward pass itself (:func:`..device.evaluation_precision`)."""
    devices.set_threads(threads)
    device = devices.select_device(spec.get("device", "auto"))
    devices.set_tf32(trains, trains)
    log(f"device: {devices.describe(device)}")
    return JobContext(spec, device)


def load_data(spec: dict[str, Any], device: torch.device | None = None) -> ImageDataset:
    """The data set as the workflow's ``data`` rule found it. Jobs never download: on a cluster node
    without internet, or beside another job, a download would fail or race (the rule runs first)."""
    data_cfg = spec["data"]
    data = load_dataset(
        spec["dataset"],
        root=data_cfg["root"],
        download=False,
        train_per_class=data_cfg["train_per_class"],
        test_per_class=data_cfg["test_per_class"],
    )
    log(
        f"{data.info.display_name}: {len(data.train)} training and {len(data.test)} test images "
        f"from {data.source}"
    )
    return data.to(device) if device is not None else data


def spec_forget_set(spec: dict[str, Any]) -> ForgetSet | None:
    """The forget set a job's spec names: ``forget_set`` (ForgetSet.to_json()), or, in a spec written
    before forget sets, ``forget_class`` (a one-class set); None for a model compared with no set."""
    if spec.get("forget_set"):
        return ForgetSet.from_json(spec["forget_set"])
    if spec.get("forget_class") is not None:
        return ForgetSet.of_classes(int(spec["forget_class"]))
    return None


def model_files(entry: dict[str, Any], results: str | None) -> dict[str, Any]:
    """An analysis job's MODELS entry with its files: given as paths, or as the model's ``folder`` under
    the experiment's ``results`` (its info.json under models/, its evaluation tables under evaluation/)."""
    if "folder" not in entry:
        return entry
    folder = entry["folder"]
    files = {k: f"{results}/evaluation/{folder}/{k}.arrow" for k in ("logits", "features", "similarity")}
    return {**entry, "info": f"{results}/models/{folder}/info.json", **files}


def new_model(spec: dict[str, Any], data: ImageDataset, device: torch.device) -> ClassifierNet:
    model = create_model(spec["model"], data.info.num_classes, data.info.channels)
    return model.to(device).to(memory_format=devices.memory_format(device))


def evaluation_plan(spec: dict[str, Any], data: ImageDataset) -> EvaluationPlan:
    """The evaluation subset and the CKA pools: functions of the data and the config alone."""
    analysis = spec["analysis"]
    subset = evaluation_subset(data.train.labels, analysis["subset_per_class"], spec["seed"])
    cka = analysis["cka"]
    pools = {}
    for split_name, split in (("train", data.train), ("test", data.test)):
        per_class = cka[f"{split_name}_per_class"] or default_cka_per_class(split.labels, split_name)
        pools[split_name] = cka_pool(split.labels, per_class, min(cka["batch_per_class"], per_class))
    return EvaluationPlan(subset, pools)


def selection_settings(spec: dict[str, Any]) -> dict[str, Any]:
    """The config's ``selection`` section as the job's spec carries it, the schema's defaults filling in
    what it lacks (a spec written without the section gets the defaults)."""
    from ..config import load_schema  # the schema file: one place for the defaults

    schema = load_schema()["properties"]["selection"]["properties"]
    given = spec.get("selection") or {}
    return {key: given.get(key, sub["default"]) for key, sub in schema.items()}


def validation_positions(spec: dict[str, Any], data: ImageDataset, plan: EvaluationPlan) -> torch.Tensor:
    """Positions in the test split of the validation images (``selection.validation_fraction`` of each
    class, seeded with the experiment's seed, outside the plan's CKA test pool), ascending."""
    fraction = selection_settings(spec)["validation_fraction"]
    try:
        return validation_split(data.test.labels, fraction, spec["seed"], plan.cka_pools["test"].positions)
    except ValidationSplitError as exc:
        raise ValidationSplitError(
            f"{exc}. Lower selection.validation_fraction or analysis.cka.test_per_class, or use more test "
            f"images (data.test_per_class)"
        ) from None

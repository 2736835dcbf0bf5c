"""Job: run one unlearning method at one grid point for one forget set (of one replicate).

The job itself succeeds whatever the method does: a method that fails to import, raises or returns
non-finite weights gives a run recorded as ``failed`` with its error (and an empty state_dict in
place of weights), so the other runs and the tables still complete.

The evaluation (one forward pass per split, as the evaluate job does for the reference models) runs
in the same process when its outputs are given: every run then pays the interpreter start, the
imports and the data loading once instead of twice.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from .. import atomic
from ..checkpoints import load_weights, save_state_dict
from ..data import ImageDataset
from ..device import set_tf32
from ..forget_sets import ForgetSet
from ..unlearning.registry import load_method
from ..unlearning.runner import make_task, run_method
from .common import load_data, log, new_model, spec_forget_set, start
from .evaluate import EvaluationOutputs, evaluate_model


def task_forget(forget_set: ForgetSet, data: ImageDataset) -> int | torch.Tensor:
    """What make_task forgets: the class of a one-class set (so that task.forget_class is set, as the
    whole-class methods need), else the set's mask over the training split."""
    if forget_set.forget_class is not None:
        return forget_set.forget_class
    return torch.from_numpy(forget_set.train_mask(data.train.labels))


def run(
    spec: dict[str, Any],
    base_model: str,
    model_out: str,
    info_out: str,
    threads: int = 1,
    evaluation: EvaluationOutputs | None = None,
    reference_grams: dict[str, str] | None = None,
) -> None:
    ctx = start(spec, threads)
    method = load_method(Path(spec["method_path"]))
    hp = dict(spec["hyperparameters"])
    seed = int(hp["seed"])
    info = {
        "type": "unlearned",
        "method": spec["method"],
        "method_name": method.name,
        "base": spec["base"],
        "seed": seed,
        "epochs": hp["epochs"],
        "lr": hp["lr"],
        "batch_size": hp["batch_size"],
        "hyperparameters": hp,
        "device": ctx.device_name,
    }
    data = load_data(spec, ctx.device)
    base = load_weights(new_model(spec, data, ctx.device), base_model)
    forget_set = spec_forget_set(spec)
    log(
        f"{method.name} ({spec['method']}) on forget set {forget_set.id} "
        f"({forget_set.display_name(data.info.class_names)}): {json.dumps(hp, sort_keys=True)}"
    )
    task = make_task(base, data, task_forget(forget_set, data), hp, ctx.device, seed, log=log)
    outcome = run_method(method, task)
    if outcome.status == "ok":
        save_state_dict(outcome.model, model_out)
        log(
            f"ok: unlearning loop (RTE) {outcome.seconds:.2f} s; "
            f"outside the timer {outcome.outside_seconds:.2f} s"
        )
    else:
        with atomic.atomic_path(model_out) as tmp:
            torch.save({}, tmp)
        log(f"FAILED: {outcome.error}")
    atomic.write_json(
        info_out,
        {
            **info,
            "status": outcome.status,
            "error": outcome.error,
            "rte": outcome.seconds,
            "outside_timer_seconds": outcome.outside_seconds,  # preparation: not RTE, but not free
        },
    )
    if evaluation is not None:
        status = outcome.status
        del task, outcome  # free the method's copies before the forward pass
        set_tf32(False, False)  # as in the evaluate job: the forward pass sets its own precision
        evaluate_model(spec, ctx, data, model_out, status, evaluation, reference_grams)

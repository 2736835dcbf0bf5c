"""Job: train the original model on the whole training split, or retrain one without a forget set.

The spec's ``training_seed`` (a replicate's seed) seeds the initialisation and the data order; specs
written without it use the experiment's ``seed``. The forget set left out of a retraining is the spec's
``forget_set`` (or the ``--forget-class`` of the command line, a one-class set).
"""

from __future__ import annotations

from typing import Any

import torch

from .. import atomic
from ..checkpoints import save_state_dict
from ..forget_sets import ForgetSet
from ..training import accuracy, train_classifier
from .common import load_data, log, new_model, spec_forget_set, start


def run(
    spec: dict[str, Any], model_out: str, info_out: str, forget_class: int | None = None, threads: int = 1
) -> None:
    ctx = start(spec, threads)
    data = load_data(spec, ctx.device)
    recipe, seed = spec["training"], int(spec.get("training_seed", spec["seed"]))
    # the spec's set; else the command line's class (`train --forget-class N`)
    forget_set = spec_forget_set(spec) or (
        None if forget_class is None else ForgetSet.of_classes(forget_class)
    )
    train = data.train
    if forget_set is not None:
        keep = ~torch.from_numpy(forget_set.train_mask(train.labels)).to(train.labels.device)
        train = train.select(keep.nonzero().flatten())
        log(
            f"retraining without forget set {forget_set.id} "
            f"({forget_set.display_name(data.info.class_names)}): {len(train)} images"
        )
    torch.manual_seed(seed)
    model = new_model(spec, data, ctx.device)
    history = train_classifier(model, train, data.info, recipe, ctx.device, seed, test=data.test, log=log)
    save_state_dict(model, model_out)
    test_accuracy = accuracy(model, data.test, data.info)
    log(f"test accuracy {test_accuracy:.4f}; training loop {history.seconds:.1f} s")
    atomic.write_json(
        info_out,
        {
            "type": "original" if forget_set is None else "retrained",
            "method": None,
            "method_name": None,
            "base": None,
            "seed": seed,
            "epochs": recipe["epochs"],
            "lr": recipe["lr"],
            "batch_size": recipe["batch_size"],
            "hyperparameters": recipe,
            "status": "ok",
            "error": None,
            # RTE: the retrained model's is its retraining time (as in the original); the original has none.
            "rte": history.seconds if forget_set is not None else None,
            "training_seconds": history.seconds,
            "device": ctx.device_name,
            "test_accuracy": test_accuracy,
            "history": history.epochs,
        },
    )

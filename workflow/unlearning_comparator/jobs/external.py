"""Job: bring in a model unlearned elsewhere (the original's "Upload"), refusing unsafe checkpoints.

The checkpoint is read with ``weights_only=True`` and must fit the experiment's architecture; a
pickle that carries code, a truncated file or a mismatched state_dict gives a run recorded as
failed with the reason, not a crashed workflow.
"""

from __future__ import annotations

from typing import Any

import torch

from .. import atomic
from ..checkpoints import CheckpointError, load_weights, save_state_dict
from ..data import DATASETS
from ..models import create_model
from ..unlearning.api import all_finite
from .common import log


def run(spec: dict[str, Any], checkpoint: str, model_out: str, info_out: str) -> None:
    external = spec["external"]
    info = DATASETS[spec["dataset"]]
    record = {
        "type": "external",
        "method": None,
        "method_name": external.get("method_name") or spec["external_name"],
        "base": None,
        "seed": None,
        "epochs": None,
        "lr": None,
        "batch_size": None,
        "hyperparameters": {"checkpoint": checkpoint},
        "rte": None,
        "device": None,
    }
    try:
        model = load_weights(create_model(spec["model"], info.num_classes, info.channels), checkpoint)
        if not all_finite(model):
            raise CheckpointError(f"checkpoint {checkpoint} holds non-finite weights (NaN or Inf)")
    except CheckpointError as exc:
        log(f"FAILED: {exc}")
        with atomic.atomic_path(model_out) as tmp:
            torch.save({}, tmp)
        atomic.write_json(info_out, {**record, "status": "failed", "error": str(exc)})
        return
    save_state_dict(model, model_out)
    atomic.write_json(info_out, {**record, "status": "ok", "error": None})
    log(f"imported {checkpoint}")

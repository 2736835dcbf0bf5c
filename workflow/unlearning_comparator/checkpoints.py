"""Saving and loading model weights as ``state_dict`` files, safely.

Weights are written atomically and read back with ``torch.load(weights_only=True)``, so a
checkpoint that carries code (a pickle with a ``__reduce__`` payload) is refused instead of run.
Every failure names the file and says what to do.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from .atomic import atomic_path


class CheckpointError(RuntimeError):
    """A checkpoint could not be read: missing, truncated, corrupt, unsafe or of the wrong shape."""


def save_state_dict(model: nn.Module, path: str | os.PathLike) -> None:
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {path} does not exist; rerun the rule that makes it (snakemake --rerun-incomplete)"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError or EOFError depending on the damage
        text = str(exc)
        if "weights_only" in text or "Unsupported global" in text or "GLOBAL" in text:
            raise CheckpointError(
                f"checkpoint {path} is not a plain state_dict: it asks to run code while loading "
                f"({text.splitlines()[0]}). Refusing it. "
                "Save weights with torch.save(model.state_dict(), path)."
            ) from exc
        raise CheckpointError(
            f"checkpoint {path} is truncated or corrupt "
            f"({type(exc).__name__}: {text.splitlines()[0] if text else ''}). "
            "Delete it and rerun the rule that makes it (snakemake --rerun-incomplete), "
            "or replace it with a good copy."
        ) from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]  # a common wrapper format
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"checkpoint {path} does not hold a state_dict (a mapping of names to tensors)")
    return state


def load_weights(model: nn.Module, path: str | os.PathLike) -> nn.Module:
    """Load a state_dict file into ``model`` (strict: every key must match the architecture)."""
    state = load_state_dict(path)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(
            f"checkpoint {path} does not fit the model {type(model).__name__}: {str(exc).splitlines()[0]}. "
            f"Check the config's `model` and `dataset` against the ones the checkpoint was trained with."
        ) from exc
    return model

"""Model registry (in the manner of timm): ``@register_model`` functions build networks by name.

Every registered network is a :class:`ClassifierNet`: besides ``forward`` it names its layer
groups (the modules whose outputs the layer-wise similarity compares) and the module whose
output is the penultimate feature vector (used for the embedding space).
"""

from __future__ import annotations

from typing import Callable

from .base import ClassifierNet

_REGISTRY: dict[str, Callable[..., ClassifierNet]] = {}


def register_model(fn: Callable[..., ClassifierNet]) -> Callable[..., ClassifierNet]:
    if fn.__name__ in _REGISTRY:
        raise ValueError(f"model {fn.__name__!r} is registered twice")
    _REGISTRY[fn.__name__] = fn
    return fn


def create_model(name: str, num_classes: int, in_channels: int) -> ClassifierNet:
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; registered models: {list_models()}")
    return _REGISTRY[name](num_classes=num_classes, in_channels=in_channels)


def list_models() -> list[str]:
    return sorted(_REGISTRY)


# Importing the modules registers their models.
from . import compact_resnet, resnet18  # noqa: E402,F401

__all__ = ["ClassifierNet", "create_model", "list_models", "register_model"]

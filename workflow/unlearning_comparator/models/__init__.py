"""Model registry (in the manner of timm): ``@register_model`` functions build networks by name.

A model is one function in one module of this package, registered with its display name::

    @register_model(display_name="Compact ResNet")
    def compact_resnet(num_classes: int, in_channels: int) -> ClassifierNet: ...

Every module here whose name does not start with ``_`` is imported when the package is, so a new
file is all a new model takes. The function's name is the model's id (the config's ``model``).

Every registered network is a :class:`ClassifierNet`: besides ``forward`` it names its layer
groups (the modules whose outputs the layer-wise similarity compares) and the module whose
output is the penultimate feature vector (used for the embedding space).

Planning the workflow must not import PyTorch (it costs seconds for every ``snakemake`` call), so
:func:`unlearning_comparator.catalog.describe_models` reads the same registrations from the source
files without importing them; a test checks that both agree.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

from .base import ClassifierNet

ModelBuilder = Callable[..., ClassifierNet]


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    display_name: str  # shown on the site (e.g. "ResNet-18")
    build: ModelBuilder


_REGISTRY: dict[str, RegisteredModel] = {}


def register_model(*, display_name: str) -> Callable[[ModelBuilder], ModelBuilder]:
    """Register the decorated builder under its function name, with the name the site shows."""

    def register(fn: ModelBuilder) -> ModelBuilder:
        if fn.__name__ in _REGISTRY:
            raise ValueError(f"model {fn.__name__!r} is registered twice")
        _REGISTRY[fn.__name__] = RegisteredModel(fn.__name__, display_name, fn)
        return fn

    return register


def _registered(name: str) -> RegisteredModel:
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; registered models: {list_models()}")
    return _REGISTRY[name]


def create_model(name: str, num_classes: int, in_channels: int) -> ClassifierNet:
    return _registered(name).build(num_classes=num_classes, in_channels=in_channels)


def display_name(name: str) -> str:
    return _registered(name).display_name


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def model_module_names() -> list[str]:
    """The modules of this package that may register models: every one not starting with ``_``."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def _import_model_modules() -> None:
    for module in model_module_names():
        importlib.import_module(f"{__name__}.{module}")


_import_model_modules()

__all__ = ["ClassifierNet", "create_model", "display_name", "list_models", "register_model"]

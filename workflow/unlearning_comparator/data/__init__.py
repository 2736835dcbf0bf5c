"""Image data sets held in memory as tensors, their augmentation, and the fixed subsets every model shares.

The names that need PyTorch are imported on first use, so that the workflow can read
:mod:`.sources` and :mod:`.manifest` while it is planned without loading PyTorch.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..catalog import DATASETS, DatasetInfo
from .sources import DatasetMissingError

_FROM_DATASETS = ("ImageDataset", "Split", "load_dataset", "normalize")

__all__ = [
    "DATASETS",
    "DatasetInfo",
    "DatasetMissingError",
    "ImageDataset",
    "Split",
    "load_dataset",
    "normalize",
]


def __getattr__(name: str) -> Any:
    if name in _FROM_DATASETS:
        return getattr(importlib.import_module(".datasets", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Image data sets held in memory as tensors, their augmentation, and the fixed subsets every model shares."""

from .datasets import DATASETS, DatasetInfo, DatasetMissingError, ImageDataset, Split, load_dataset, normalize

__all__ = ["DATASETS", "DatasetInfo", "DatasetMissingError", "ImageDataset", "Split", "load_dataset", "normalize"]

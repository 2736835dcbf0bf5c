"""Fashion-MNIST and CIFAR-10 behind one interface: uint8 image tensors in memory, labels, class names.

Images stay uint8 (N, C, H, W) until a batch is used; :func:`normalize` turns a batch into the
network's float input on whatever device the batch is on. Files are read directly (IDX for
Fashion-MNIST, CIFAR-10's python pickles through a restricted unpickler), so the Debian package's
archives work even though their checksums differ from torchvision's list; torchvision is used only
to download the official files (:func:`ensure`, which the workflow's ``data`` rule calls; its jobs
never download).
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import io
import os
import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..catalog import DATASETS, DatasetInfo
from .sources import (
    DEBIAN_FASHION_MNIST,  # noqa: F401 (re-exported: where Debian's package puts Fashion-MNIST)
    NOT_DOWNLOADING,
    DatasetMissingError,
    Found,
    download_failed,
    locate,
    missing_message,
)


@dataclass
class Split:
    images: torch.Tensor  # uint8 (N, C, H, W)
    labels: torch.Tensor  # int64 (N,)
    indices: torch.Tensor  # int64 (N,): each image's position in the full published split

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def to(self, device: torch.device | str) -> Split:
        return Split(self.images.to(device), self.labels.to(device), self.indices.to(device))

    def select(self, positions: torch.Tensor) -> Split:
        positions = positions.to(self.labels.device)
        return Split(self.images[positions], self.labels[positions], self.indices[positions])


@dataclass
class ImageDataset:
    info: DatasetInfo
    train: Split
    test: Split
    source: str  # where the files came from, for provenance

    def to(self, device: torch.device | str) -> ImageDataset:
        return ImageDataset(self.info, self.train.to(device), self.test.to(device), self.source)


def normalize(images: torch.Tensor, info: DatasetInfo) -> torch.Tensor:
    """uint8 (N, C, H, W) -> normalised float32 in channels_last layout, on the images' device."""
    mean = torch.tensor(info.mean, device=images.device).view(1, -1, 1, 1)
    std = torch.tensor(info.std, device=images.device).view(1, -1, 1, 1)
    x = (images.float().div_(255.0) - mean) / std
    return x.contiguous(memory_format=torch.channels_last)


# --------------------------------------------------------------------------------------- finding, downloading


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    """One download per data root at a time, across processes (two experiments may share a root)."""
    with open(lock_file, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _torchvision_download(name: str, root: Path) -> None:
    from torchvision.datasets import CIFAR10, FashionMNIST

    if name == "fashion_mnist":
        FashionMNIST(str(root), train=True, download=True)  # fetches all four files
    else:
        CIFAR10(str(root), train=True, download=True)  # fetches and unpacks the whole archive


def download(name: str, root: str | os.PathLike) -> bool:
    """Download ``name`` into ``root`` with torchvision unless it is there; True if this call did."""
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
        with _exclusive(root / f".{name}.download.lock"):
            if locate(name, root) is not None:  # another process may have finished it while we waited
                return False
            _torchvision_download(name, root)
    except Exception as error:  # no network, a proxy, a bad checksum, a read-only root: "not available"
        raise DatasetMissingError(missing_message(name, root, download_failed(name, error))) from error
    return True


def ensure(name: str, root: str | os.PathLike, allow_download: bool) -> tuple[Found, bool]:
    """The data set's files (found, or downloaded when allowed), and whether they were downloaded now.

    Raises :class:`DatasetMissingError` with where the files must go and how to fetch them elsewhere."""
    found = locate(name, root)
    downloaded = False
    if found is None and allow_download:
        downloaded = download(name, root)
        found = locate(name, root)
    if found is None:
        raise DatasetMissingError(missing_message(name, root, NOT_DOWNLOADING))
    return found, downloaded


# ----------------------------------------------------------------------------------------- Fashion-MNIST


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped): the format of MNIST and Fashion-MNIST."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims))
    if len(data) - offset != expected:
        raise ValueError(f"{path} is truncated: {len(data) - offset} bytes of data, expected {expected}")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def _load_fashion_mnist(found: Found) -> tuple[Split, Split]:
    # found.files: train images, train labels, test images, test labels (sources.FASHION_MNIST_FILES)
    splits = []
    for images_file, labels_file in (found.files[:2], found.files[2:]):
        images = torch.from_numpy(read_idx(images_file).copy()).unsqueeze(1)
        labels = torch.from_numpy(read_idx(labels_file).astype(np.int64))
        if images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"Fashion-MNIST: {images.shape[0]} images in {images_file} "
                f"but {labels.shape[0]} labels in {labels_file}"
            )
        splits.append(Split(images, labels, torch.arange(labels.shape[0])))
    return splits[0], splits[1]


# ----------------------------------------------------------------------------------------------- CIFAR-10


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """CIFAR-10's batches are pickles; allow only what plain numpy arrays need, never arbitrary code."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR-10 batch file")


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 'python version' batch file -> (uint8 images (N, 3, 32, 32), int64 labels)."""
    with open(path, "rb") as handle:
        batch = _ArrayOnlyUnpickler(io.BytesIO(handle.read()), encoding="bytes").load()
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    labels = np.asarray(batch.get(b"labels", batch.get(b"fine_labels")), dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or data.shape[0] != labels.shape[0]:
        raise ValueError(f"{path} is not a CIFAR-10 batch: data {data.shape}, labels {labels.shape}")
    return data.reshape(-1, 3, 32, 32), labels


def _load_cifar10(found: Found) -> tuple[Split, Split]:
    parts = [read_cifar_batch(path) for path in found.files]  # data_batch_1..5, test_batch
    train_x = np.concatenate([p[0] for p in parts[:5]])
    train_y = np.concatenate([p[1] for p in parts[:5]])
    test_x, test_y = parts[5]
    train = Split(torch.from_numpy(train_x), torch.from_numpy(train_y), torch.arange(len(train_y)))
    test = Split(torch.from_numpy(test_x), torch.from_numpy(test_y), torch.arange(len(test_y)))
    return train, test


_LOADERS = {"fashion_mnist": _load_fashion_mnist, "cifar10": _load_cifar10}


def first_per_class(labels: torch.Tensor, per_class: int | None) -> torch.Tensor:
    """Positions of the first ``per_class`` images of every class, in index order (all when None)."""
    if per_class is None:
        return torch.arange(labels.shape[0])
    keep = torch.zeros_like(labels, dtype=torch.bool)
    for c in labels.unique():
        keep[(labels == c).nonzero().flatten()[:per_class]] = True
    return keep.nonzero().flatten()


def load_dataset(
    name: str,
    root: str | os.PathLike = "resources/data",
    download: bool = False,
    train_per_class: int | None = None,
    test_per_class: int | None = None,
) -> ImageDataset:
    """Load a data set into memory. ``*_per_class`` keep only the first images of each class (smoke tests)."""
    if name not in DATASETS:
        raise KeyError(f"unknown dataset {name!r}; known: {sorted(DATASETS)}")
    info = DATASETS[name]
    found, _ = ensure(name, root, download)
    train, test = _LOADERS[name](found)
    train = train.select(first_per_class(train.labels, train_per_class))
    test = test.select(first_per_class(test.labels, test_per_class))
    for split_name, split in (("train", train), ("test", test)):
        present = set(split.labels.unique().tolist())
        if present != set(range(info.num_classes)):
            lacking = sorted(set(range(info.num_classes)) - present)
            raise ValueError(f"{info.display_name} {split_name} split lacks classes {lacking}")
    return ImageDataset(info, train, test, str(found.folder))

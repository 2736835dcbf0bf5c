"""Where each data set's files must be, where they come from, and what to say when they are missing.

No PyTorch here: the workflow reads this while it is planned (the data rule's check of its manifest).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..catalog import DATASETS

# Debian/Ubuntu's package dataset-fashion-mnist installs the four gzipped IDX files here.
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
DEBIAN_PACKAGE = "dataset-fashion-mnist"

FASHION_MNIST_FOLDER = "FashionMNIST/raw"  # torchvision's layout under the root
FASHION_MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
# The official files (github.com/zalandoresearch/fashion-mnist), the mirror torchvision downloads from.
FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"

CIFAR10_FOLDER = "cifar-10-batches-py"  # the folder in the official archive
CIFAR10_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
# The official 'python version' (www.cs.toronto.edu/~kriz/cifar.html), as torchvision downloads it.
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"

TORCHVISION_CLASS = {"fashion_mnist": "FashionMNIST", "cifar10": "CIFAR10"}


class DatasetMissingError(FileNotFoundError):
    """The data set's files are not where the workflow looks, and it may not (or could not) download them."""


@dataclass(frozen=True)
class Found:
    """A data set on disk: the folder and the exact files the loaders read."""

    folder: Path
    files: tuple[Path, ...]

    @property
    def from_debian(self) -> bool:
        return self.folder == DEBIAN_FASHION_MNIST


def _fmnist_files(folder: Path) -> tuple[Path, ...] | None:
    files = []
    for name in FASHION_MNIST_FILES:
        candidates = [folder / name, folder / f"{name}.gz"]  # unpacked first, as torchvision leaves both
        present = [path for path in candidates if path.is_file()]
        if not present:
            return None
        files.append(present[0])
    return tuple(files)


def locate(name: str, root: str | os.PathLike) -> Found | None:
    """The folder the loaders read ``name`` from, or None. Fashion-MNIST: the root's copy, else Debian's."""
    root = Path(root)
    if name == "fashion_mnist":
        for folder in (root / FASHION_MNIST_FOLDER, DEBIAN_FASHION_MNIST):
            files = _fmnist_files(folder)
            if files:
                return Found(folder, files)
        return None
    if name == "cifar10":
        folder = root / CIFAR10_FOLDER
        files = tuple(folder / n for n in CIFAR10_FILES)
        return Found(folder, files) if all(path.is_file() for path in files) else None
    raise KeyError(f"unknown dataset {name!r}; known: {sorted(DATASETS)}")


def download_url(name: str) -> str:
    return FASHION_MNIST_URL if name == "fashion_mnist" else CIFAR10_URL


def _missing_in(folder: Path, names: tuple[str, ...], gz: bool) -> str:
    def present(n: str) -> bool:
        return (folder / n).is_file() or (gz and (folder / f"{n}.gz").is_file())

    missing = [n for n in names if not present(n)]
    return "none of them is there" if len(missing) == len(names) else f"missing there: {', '.join(missing)}"


def _fmnist_help(root: Path) -> list[str]:
    folder = root / FASHION_MNIST_FOLDER
    return [
        "The workflow reads its four IDX files (each as it is, or gzipped with .gz added) from",
        f"    {folder}/",
        "        " + "  ".join(FASHION_MNIST_FILES[:2]),
        "        " + "  ".join(FASHION_MNIST_FILES[2:]),
        f"    ({_missing_in(folder, FASHION_MNIST_FILES, gz=True)})",
        f"or from Debian/Ubuntu's package, which puts them in {DEBIAN_FASHION_MNIST}/:",
        f"    sudo apt-get install {DEBIAN_PACKAGE}",
        f"To fetch them on a machine with internet access (then copy them into {folder}/):",
        f"    for f in {' '.join(FASHION_MNIST_FILES)}; do",
        f"        curl -O {FASHION_MNIST_URL}$f.gz; done",
        f"or let torchvision put them in {folder}/:",
        f"    python -c \"from torchvision.datasets import FashionMNIST as F; F('{root}', download=True)\"",
    ]


def _cifar10_help(root: Path) -> list[str]:
    folder = root / CIFAR10_FOLDER
    return [
        "The workflow reads CIFAR-10's 'python version' from",
        f"    {folder}/",
        "        " + "  ".join(CIFAR10_FILES),
        "        (and batches.meta, which comes with them and is not needed)",
        f"    ({_missing_in(folder, CIFAR10_FILES, gz=False)})",
        f"To fetch them on a machine with internet access (then copy {CIFAR10_FOLDER}/ into {root}/):",
        f"    curl -O {CIFAR10_URL}    # about 170 MB",
        f"    md5sum {CIFAR10_ARCHIVE}    # {CIFAR10_MD5}",
        f"    tar -xzf {CIFAR10_ARCHIVE}    # unpacks {CIFAR10_FOLDER}/",
        "or let torchvision do both:",
        f"    python -c \"from torchvision.datasets import CIFAR10; CIFAR10('{root}', download=True)\"",
    ]


def missing_message(name: str, root: str | os.PathLike, reason: str) -> str:
    """What to tell a user whose data set is missing: where the files go, and how to get them elsewhere."""
    root = Path(root)
    lines = [f"{DATASETS[name].display_name} is not available: it was not found, and {reason}."]
    lines += _fmnist_help(root) if name == "fashion_mnist" else _cifar10_help(root)
    return "\n".join(lines)


NOT_DOWNLOADING = (
    "downloading it is switched off\n    (data.download: false in the config, or download=False)"
)


def download_failed(name: str, error: BaseException) -> str:
    what = " ".join(str(error).split())  # torchvision's messages span lines
    return f"downloading it failed\n    from {download_url(name)}\n    ({type(error).__name__}: {what})"

"""Shared fixtures: the repository root, a small real data set, and configs for tiny workflow runs."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
METHODS_DIR = ROOT / "methods"

# A tiny but complete experiment: real Fashion-MNIST images (the first 100 per class), two forget
# classes, every built-in method. Tests write variants of it; it is not in the repository's config/.
TINY_CONFIG = {
    "name": "tiny",
    "dataset": "fashion_mnist",
    "model": "compact_resnet",
    "seed": 1,
    "forget_classes": [1, 3],
    "data": {"train_per_class": 100, "test_per_class": 50},
    "training": {"epochs": 3, "batch_size": 64, "lr": 0.1, "schedule": "onecycle", "augmentation": True},
    "methods": {
        "ft": {"epochs": [1], "lr": [0.01], "batch_size": [64]},
        "ga": {"epochs": [2], "lr": [0.01], "batch_size": [64]},
        "rl": {"epochs": [1], "lr": [0.01], "batch_size": [64]},
        "scrub": {"epochs": [1], "lr": [0.01], "batch_size": [64]},
        "salun": {"epochs": [1], "lr": [0.01], "batch_size": [64]},
    },
    "analysis": {
        "subset_per_class": 20,
        "umap": {"n_epochs": 60, "aligned_epochs": 30},
        "cka": {"train_per_class": 20, "test_per_class": 20, "batch_per_class": 10},
    },
}


def tiny_config(**changes) -> dict:
    config = copy.deepcopy(TINY_CONFIG)
    config.update(changes)
    return config


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake(workdir: Path, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
    """Run the repository's workflow with ``workdir`` as its working directory (results land there)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir), *args],
        cwd=workdir, capture_output=True, text=True, timeout=timeout, env=env,
    )


@pytest.fixture(scope="session")
def fmnist_small():
    """Real Fashion-MNIST, the first 200 training and 100 test images of each class (from the Debian package)."""
    from unlearning_comparator.data import DatasetMissingError, load_dataset

    try:
        return load_dataset("fashion_mnist", root=str(ROOT / "resources" / "data"), download=False,
                            train_per_class=200, test_per_class=100)
    except DatasetMissingError as exc:
        pytest.fail(f"Fashion-MNIST is needed for the tests: {exc}")

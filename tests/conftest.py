"""Shared fixtures: the repository root, a small real data set, and configs for tiny workflow runs."""

from __future__ import annotations

import copy
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow.feather as feather
import pytest
import yaml

from unlearning_comparator.tables import TABLES  # the consolidated tables, in order

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


# A complete training recipe of a few seconds on a few thousand images, for tests that train models
# through the workflow's training job (the protocol and calibration tests).
SHORT_RECIPE = {
    "epochs": 4,
    "batch_size": 64,
    "lr": 0.1,
    "momentum": 0.9,
    "nesterov": True,
    "weight_decay": 5e-4,
    "schedule": "onecycle",
    "warmup_fraction": 0.25,
    "milestones": [80, 120],
    "gamma": 0.2,
    "augmentation": False,
}


def tiny_config(**changes) -> dict:
    config = copy.deepcopy(TINY_CONFIG)
    config.update(changes)
    return config


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake(workdir: Path, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
    """Run the repository's workflow with ``workdir`` as its working directory (results land there).

    Give targets first: ``--configfile`` and ``--forcerun`` take every following word as theirs."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(ROOT / "Snakefile"),
            "--directory",
            str(workdir),
            *args,
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


@pytest.fixture(scope="session")
def fmnist_small():
    """Real Fashion-MNIST, the first 200 training and 100 test images of each class (from the Debian
    package)."""
    from unlearning_comparator.data import DatasetMissingError, load_dataset

    try:
        return load_dataset(
            "fashion_mnist",
            root=str(ROOT / "resources" / "data"),
            download=False,
            train_per_class=200,
            test_per_class=100,
        )
    except DatasetMissingError as exc:
        pytest.fail(f"Fashion-MNIST is needed for the tests: {exc}")


@pytest.fixture(scope="module")
def one_thread():
    """PyTorch on one CPU thread for a test module (``pytestmark = pytest.mark.usefixtures("one_thread")``),
    as the method tests run: their timings and thresholds were set there."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def small_base_model(fmnist_small):
    """The base model of the method tests: a compact ResNet trained on ``fmnist_small`` for 5 epochs (SGD
    with OneCycle, seed 0, one CPU thread; ≈ 4 s), in eval mode.

    Shared by every test module that asks for it, so treat it as read-only: the methods get a private copy
    through ``make_task``; a test that changes the model itself must ``copy.deepcopy`` it first.
    """
    import torch
    import torch.nn.functional as F

    from unlearning_comparator.data import normalize
    from unlearning_comparator.models import create_model

    data = fmnist_small
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same weights as a training on one thread, whoever asks first
    try:
        torch.manual_seed(0)
        model = create_model("compact_resnet", data.info.num_classes, data.info.channels)
        model = model.to(memory_format=torch.channels_last)
        epochs, batch = 5, 64
        steps = epochs * -(-len(data.train) // batch)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=steps)
        generator = torch.Generator().manual_seed(0)
        for _ in range(epochs):
            model.train()
            order = torch.randperm(len(data.train), generator=generator)
            for start in range(0, len(order), batch):
                idx = order[start : start + batch]
                x = normalize(data.train.images[idx], data.info)
                loss = F.cross_entropy(model(x), data.train.labels[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
    finally:
        torch.set_num_threads(threads)
    return model.eval()


def logits_of(model, images, info, chunk: int = 500):
    """``model``'s logits for the uint8 ``images``, in eval mode, without gradients, ``chunk`` at a time."""
    import torch

    from unlearning_comparator.data import normalize

    model.eval()
    with torch.no_grad():
        return torch.cat(
            [model(normalize(images[i : i + chunk], info)) for i in range(0, len(images), chunk)]
        )


def class_accuracy(model, split, info):
    """Per-class accuracy on ``split`` (a CPU tensor, one entry per class)."""
    import torch

    preds = logits_of(model, split.images, info).argmax(1).cpu()
    labels = split.labels.cpu()
    return torch.stack([(preds[labels == c] == c).float().mean() for c in range(info.num_classes)])


def accuracy(model, split, info, mask) -> float:
    """Accuracy on the images of ``split`` that ``mask`` selects."""
    preds = logits_of(model, split.images, info).argmax(1)
    return float((preds[mask] == split.labels[mask]).float().mean())


def forget_accuracy(model, data, forget_class: int) -> float:
    """Training accuracy on the class ``forget_class`` of ``data`` (its images in one pass)."""
    mask = data.train.labels == forget_class
    preds = logits_of(model, data.train.images[mask], data.info).argmax(1)
    return float((preds == forget_class).float().mean())


BROKEN_METHODS = {
    "raises": """
        NAME = "Raises"
        DEFAULTS = {"epochs": 1, "lr": 0.1, "batch_size": 8}
        def unlearn(task):
            raise RuntimeError("this method always fails")
    """,
    "nan_weights": """
        import torch
        NAME = "NaN Weights"
        DEFAULTS = {"epochs": 1, "lr": 0.1, "batch_size": 8}
        def unlearn(task):
            with torch.no_grad():
                for p in task.model.parameters():
                    p.fill_(float("nan"))
            return task.model
    """,
    "bad_import": """
        import a_module_that_does_not_exist
        NAME = "Bad Import"
        DEFAULTS = {"epochs": 1, "lr": 0.1, "batch_size": 8}
        def unlearn(task):
            return task.model
    """,
}


EXTERNAL_MODELS = {
    # a plain state_dict (random weights) evaluated like any run, and a pickle that carries code
    "plain": {"forget_class": 1, "method_name": "Uploaded <b>model</b>"},
    "evil": {"forget_class": 3},
}


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch /tmp/uc-external-pwned",))


def tiny_run_config(workdir: Path) -> Path:
    """The tiny config plus three broken methods and two external checkpoints, written into ``workdir``."""
    import torch

    from unlearning_comparator.models import create_model

    config = tiny_config()
    extra = workdir / "my_methods"
    extra.mkdir(exist_ok=True)
    for name, code in BROKEN_METHODS.items():
        (extra / f"{name}.py").write_text(textwrap.dedent(code))
        config["methods"][name] = {"epochs": [1], "lr": [0.1], "batch_size": [8]}
    config["extra_methods_dirs"] = [str(extra)]
    torch.manual_seed(0)
    torch.save(create_model("compact_resnet", 10, 1).state_dict(), workdir / "plain.pt")
    with open(workdir / "evil.pt", "wb") as handle:
        pickle.dump({"payload": _Payload()}, handle)
    config["external"] = {
        name: {**e, "checkpoint": str(workdir / f"{name}.pt")} for name, e in EXTERNAL_MODELS.items()
    }
    return write_config(workdir / "tiny.yaml", config)


def same_column(left, right) -> bool:
    """Whether two Arrow columns hold the same values, NaN equal to NaN (Arrow's ``equals`` says NaN != NaN;
    attack_score_challenge is NaN wherever the challenge's rule discards a threshold)."""
    import pyarrow as pa

    if left.type != right.type or len(left) != len(right):
        return False
    if not pa.types.is_floating(left.type):
        return left.equals(right)
    nulls = [np.asarray(c.is_null().to_numpy(zero_copy_only=False)) for c in (left, right)]
    values = [np.asarray(c.to_numpy(zero_copy_only=False), dtype=np.float64) for c in (left, right)]
    return np.array_equal(*nulls) and np.array_equal(
        values[0][~nulls[0]], values[1][~nulls[1]], equal_nan=True
    )


def same_table(left, right) -> bool:
    return left.column_names == right.column_names and all(
        same_column(left.column(c), right.column(c)) for c in left.column_names
    )


def read_tables(workdir: Path, name: str = "tiny") -> dict:
    return {t: feather.read_table(workdir / "results" / name / "tables" / f"{t}.arrow") for t in TABLES}


def run_tiny(workdir: Path, *extra_args: str) -> dict:
    """Run the tiny workflow to its tables in ``workdir``; return the tables."""
    path = tiny_run_config(workdir)
    result = snakemake(workdir, "tables", "--cores", "2", *extra_args, "--configfile", str(path))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert not os.path.exists("/tmp/uc-external-pwned")
    return read_tables(workdir)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """One complete tiny run shared by the tests that inspect its tables: (working folder, tables).

    For fast iteration, set the environment variable ``UC_TINY_RUN_DIR`` to a folder that holds a
    finished tiny run (its ``results/tiny/tables/*.arrow``, as this fixture leaves them, e.g. a copy
    of an earlier run's working folder): the fixture then returns that folder and its tables, read
    from it, instead of running the workflow. Unset (the default), it runs the workflow as before.
    The folder must come from this config (``tiny_run_config``) and the code under test; tests that
    run the workflow in the returned folder (the site of a run) write into it, so point the variable
    at a copy you can spare.
    """
    given = os.environ.get("UC_TINY_RUN_DIR")
    if given:
        workdir = Path(given).resolve()
        missing = [
            t for t in TABLES if not (workdir / "results" / "tiny" / "tables" / f"{t}.arrow").is_file()
        ]
        if missing:
            pytest.fail(
                f"UC_TINY_RUN_DIR={given} does not hold a finished tiny run: "
                f"results/tiny/tables/{{{','.join(missing)}}}.arrow missing"
            )
        return workdir, read_tables(workdir)
    workdir = tmp_path_factory.mktemp("tiny")
    return workdir, run_tiny(workdir)

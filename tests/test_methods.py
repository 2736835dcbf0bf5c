"""The five built-in unlearning methods (methods/{ft,ga,rl,scrub,salun}.py), run for real on a small
Fashion-MNIST problem: 200 training images per class, a compact ResNet trained once per session.

What is checked here is specific to these five: the modules declare the original's defaults; FT
never reads forget data; SalUn's masked-out weights stay bit-identical (and would not without the
fix); RL and SalUn give other weights for another seed. What every method must satisfy (forgetting,
bit-identical reruns, no data outside forget and retain, preparation outside RTE) is tested once for
all methods in tests/test_method_contract.py. Everything runs on one CPU
thread; a CUDA variant runs where a GPU is present.
"""

from __future__ import annotations

import sys
import time

import pytest
import torch

from unlearning_comparator.unlearning import registry
from unlearning_comparator.unlearning.runner import make_task, run_method
from unlearning_comparator.unlearning.toolkit import (
    concat_splits,
    global_top_fraction_mask,
    random_other_labels,
)

from conftest import METHODS_DIR, class_accuracy

BUILT_IN = ("ft", "ga", "rl", "scrub", "salun")
FORGET_CLASS = 1  # Trouser: the base model knows it well (≈ 99 % training accuracy), so a drop is clear
SEED = 0
CPU = torch.device("cpu")

# The original front end's defaults (gnueaj/Machine-Unlearning-Comparator at commit 0e3ce99d,
# frontend/src/utils/config/unlearning.ts): pinned here on purpose, a second witness to the modules.
ORIGINAL_DEFAULTS = {
    "ft": ("Fine-Tuning", {"epochs": 10, "lr": 0.01, "batch_size": 128}),
    "ga": ("Gradient Ascent", {"epochs": 7, "lr": 0.0001, "batch_size": 256}),
    "rl": ("Random Labeling", {"epochs": 3, "lr": 0.001, "batch_size": 64}),
    "scrub": ("SCRUB", {"epochs": 5, "lr": 0.01, "batch_size": 128}),
    "salun": ("SalUn", {"epochs": 5, "lr": 0.001, "batch_size": 128}),
}
# The original backend's constants (same commit, backend/app/config/settings.py and the unlearn_*
# services), as the methods' own defaults
ORIGINAL_CONSTANTS = {
    "ft": {"eta_min": 0.01},
    "ga": {"grad_clip": 100.0},
    "rl": {},
    "scrub": {
        "alpha": 0.5,
        "gamma": 1.0,
        "kd_temperature": 2.0,
        "msteps": 100,
        "fisher_samples": 1000,
        "grad_clip": 1.0,
    },
    "salun": {
        "saliency_threshold": 0.75,
        "use_random_labels": True,
        "saliency_batches": 5,
        "grad_clip": 100.0,
    },
}

# Sized for the tiny problem (200 forget / 1800 retain images): the UI defaults assume 5000 / 45000
# images and would take one or two steps here. Each run takes 0.2-3 s on one CPU thread.
TEST_HP = {
    "ft": {"epochs": 1, "lr": 0.01, "batch_size": 64},
    "ga": {"epochs": 2, "lr": 0.001, "batch_size": 32},
    "rl": {"epochs": 1, "lr": 0.01, "batch_size": 64},
    "scrub": {"epochs": 2, "lr": 0.05, "batch_size": 32},
    "salun": {"epochs": 1, "lr": 0.03, "batch_size": 32},
}
# retain accuracy (mean over the other classes) each method must keep; GA has no retain term
RETAIN_FLOOR = {"ga": 0.6, "rl": 0.8, "scrub": 0.8, "salun": 0.8}


# ------------------------------------------------------------------------------------------------ fixtures

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data(fmnist_small):
    return fmnist_small


@pytest.fixture(scope="module")
def base(small_base_model):
    """A compact ResNet trained for 5 epochs on the 2000 images (tests/conftest.py; shared: read-only)."""
    return small_base_model


@pytest.fixture(scope="module")
def methods():
    return registry.discover(METHODS_DIR, load=True)


@pytest.fixture(scope="module")
def base_acc(base, data):
    return class_accuracy(base, data.train, data.info)


def retain_mean(acc: torch.Tensor, forget_class: int = FORGET_CLASS) -> float:
    return float(torch.cat([acc[:forget_class], acc[forget_class + 1 :]]).mean())


def hp_for(spec, method_id: str, **overrides):
    """Complete hyperparameters, as the workflow's config gives them: the declared defaults under these."""
    return spec.with_defaults({**TEST_HP[method_id], **overrides})


def method_module(spec):
    return sys.modules[spec.unlearn.__module__]


def run(methods, base, data, method_id, seed=SEED, device=CPU, **overrides):
    """Run one method; return (outcome, task, wall seconds of the whole call)."""
    spec = methods[method_id]
    task = make_task(
        base, data, FORGET_CLASS, hp_for(spec, method_id, **overrides), device, seed=seed, log=lambda _: None
    )
    start = time.perf_counter()
    outcome = run_method(spec, task)
    wall = time.perf_counter() - start
    assert outcome.status == "ok", outcome.error
    return outcome, task, wall


@pytest.fixture(scope="module")
def default_runs(methods, base, data):
    """Each method's run with TEST_HP and SEED, computed once and shared by several tests."""
    cache = {}

    def get(method_id):
        if method_id not in cache:
            cache[method_id] = run(methods, base, data, method_id)
        return cache[method_id]

    return get


def state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


# ----------------------------------------------------------------------------------------------- registry


def test_built_in_methods_declare_the_original_defaults(methods):
    for method_id in BUILT_IN:
        assert method_id in methods, f"methods/{method_id}.py is missing"
        spec = methods[method_id]
        name, defaults = ORIGINAL_DEFAULTS[method_id]
        assert spec.name == name
        assert spec.defaults == defaults
        assert spec.own_defaults() == ORIGINAL_CONSTANTS[method_id]
        doc = method_module(spec).__doc__ or ""
        assert "§3." in doc and "deviation" in doc.lower(), (
            f"{method_id}: docstring lacks its source or deviations"
        )


# ------------------------------------------------------------------------------------------------ toolkit


def test_global_top_fraction_mask_keeps_the_k_largest():
    generator = torch.Generator().manual_seed(1)
    scores = {"a": torch.rand(40, generator=generator), "b": torch.rand(3, 20, generator=generator)}
    masks = global_top_fraction_mask(scores, 0.75)
    flat = torch.cat([s.flatten() for s in scores.values()])
    kept = torch.cat([m.flatten() for m in masks.values()])
    assert int(kept.sum()) == int(0.75 * flat.numel())  # no ties among random floats
    assert flat[kept].min() > flat[~kept].max()
    assert all(global_top_fraction_mask(scores, 1.0)[k].all() for k in scores)


def test_random_other_labels_and_concat(data):
    labels = data.train.labels
    generator = torch.Generator().manual_seed(3)
    wrong = random_other_labels(labels, 10, generator)
    assert not (wrong == labels).any() and wrong.min() >= 0 and wrong.max() < 10
    both = concat_splits(data.train, data.test)
    assert len(both) == len(data.train) + len(data.test)
    assert torch.equal(both.images[len(data.train) :], data.test.images)


# --------------------------------------------------------------------------------------------- behaviour


class Tripwire:
    """Stands in for the forget split: records and refuses every use."""

    def __init__(self):
        object.__setattr__(self, "touched", [])

    def _trip(self, what):
        self.touched.append(what)
        raise AssertionError(f"forget data was accessed ({what})")

    def __getattr__(self, name):
        if name == "touched":
            return object.__getattribute__(self, "touched")
        self._trip(f".{name}")

    def __len__(self):
        self._trip("len()")

    def __getitem__(self, key):
        self._trip("[]")

    def __iter__(self):
        self._trip("iter()")


def test_fine_tuning_never_reads_forget_data(methods, base, data, base_acc):
    spec = methods["ft"]
    task = make_task(base, data, FORGET_CLASS, hp_for(spec, "ft"), CPU, seed=SEED, log=lambda _: None)
    tripwire = Tripwire()
    task.forget = tripwire
    requested = []
    real_batches = task.batches

    def recording_batches(split, *args, **kwargs):
        requested.append(split)
        for x, y in real_batches(split, *args, **kwargs):
            assert not (y == FORGET_CLASS).any(), "a batch held forget-class images"
            yield x, y

    task.batches = recording_batches
    outcome = run_method(spec, task)
    assert outcome.status == "ok", outcome.error
    assert tripwire.touched == []
    assert requested and all(split is task.retain for split in requested)
    after = class_accuracy(outcome.model, data.train, data.info)
    assert retain_mean(after) >= retain_mean(base_acc) - 0.03
    assert outcome.seconds > 0


def test_salun_masked_out_weights_stay_bit_identical(methods, base, data, default_runs, monkeypatch):
    before = dict(base.named_parameters())
    outcome, task, _ = default_runs("salun")
    masks = task.extras["salun_mask"]
    total = sum(m.numel() for m in masks.values())
    kept = sum(int(m.sum()) for m in masks.values())
    assert 0.74 <= kept / total <= 0.80  # ⌊0.75·N⌋ weights, plus ties at the threshold
    after = dict(outcome.model.named_parameters())
    changed_in = 0
    for name, mask in masks.items():
        frozen = ~mask
        assert torch.equal(after[name].detach()[frozen], before[name].detach()[frozen]), name
        changed_in += int((after[name].detach()[mask] != before[name].detach()[mask]).sum())
    assert changed_in > 0.5 * kept  # the salient weights did move

    # The same run without restoring: weight decay and momentum move the "frozen" weights (the
    # original's quirk).
    class NoRestore:
        def __init__(self, *args, **kwargs):
            pass

        def restore(self):
            pass

    monkeypatch.setattr(method_module(methods["salun"]), "FrozenWeights", NoRestore)
    quirky, quirky_task, _ = run(methods, base, data, "salun")
    quirky_masks = quirky_task.extras["salun_mask"]
    assert all(torch.equal(quirky_masks[n], masks[n]) for n in masks)  # same seed, same mask
    moved = 0
    for name, mask in quirky_masks.items():
        frozen = ~mask
        moved += int(
            (
                dict(quirky.model.named_parameters())[name].detach()[frozen] != before[name].detach()[frozen]
            ).sum()
        )
    assert moved > 0.5 * (total - kept), "without the fix the masked-out weights should drift"


def test_salun_gradient_ascent_variant(methods, base, data, base_acc):
    outcome, _, _ = run(methods, base, data, "salun", use_random_labels=False, lr=0.003)
    after = class_accuracy(outcome.model, data.train, data.info)
    assert float(after[FORGET_CLASS]) <= float(base_acc[FORGET_CLASS]) - 0.5
    assert retain_mean(after) >= 0.8


# ----------------------------------------------------------------------------------------- reproducibility


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs between two runs with the same seed"


def differs(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return any(not torch.equal(a[k], b[k]) for k in a if a[k].is_floating_point())


@pytest.mark.parametrize("method_id", ["rl", "salun"])
def test_same_seed_same_weights(method_id, methods, base, data, default_runs):
    first = state(default_runs(method_id)[0].model)
    second = state(run(methods, base, data, method_id)[0].model)
    assert_same_weights(first, second)
    other = state(run(methods, base, data, method_id, seed=SEED + 1)[0].model)
    assert differs(first, other), "another seed should give other weights"


# ----------------------------------------------------------------------------------------------------- CUDA


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_methods_run_on_cuda(methods, base, data, base_acc):
    device = torch.device("cuda")
    on_gpu = data.to(device)
    for method_id in BUILT_IN:
        outcome, task, wall = run(methods, base, on_gpu, method_id, device=device)
        assert all(p.device.type == "cuda" for p in outcome.model.parameters())
        assert 0 < outcome.seconds < wall
        after = class_accuracy(outcome.model, on_gpu.train, data.info)
        print(
            f"cuda {method_id}: forget {float(base_acc[FORGET_CLASS]):.3f} -> "
            f"{float(after[FORGET_CLASS]):.3f}, "
            f"retain {retain_mean(after):.3f}, RTE {outcome.seconds:.2f} s"
        )
        if method_id in RETAIN_FLOOR:
            assert float(after[FORGET_CLASS]) <= float(base_acc[FORGET_CLASS]) - 0.5
        if method_id == "salun":
            before = dict(base.named_parameters())
            for name, param in outcome.model.named_parameters():
                frozen = ~task.extras["salun_mask"][name]
                assert torch.equal(param.detach()[frozen].cpu(), before[name].detach()[frozen.cpu()])

"""The original Comparator's two hybrid methods, GA+FT (methods/ga_ft.py) and GA+SL+FT
(methods/ga_sl_ft.py), run for real on a small Fashion-MNIST problem (200 training images per class, a
compact ResNet trained once per session, one CPU thread).

What is checked: the modules declare the original's defaults and constants (pinned here from the
original's source, a second witness); the re-initialisation resets exactly the last k layer groups,
with PyTorch's default initialisation, from the task's generator; GA+FT is the GA recipe followed by
the FT recipe, each on its own optimiser (without its ascent it is methods/ft.py, bit for bit, and
without its fine-tuning it is methods/ga.py); GA+SL+FT's relabelling never gives an image its own
label, agrees with the original's "second-highest logit" wherever the base model is right, uses the
base model (before the re-initialisation), and counts in RTE while the re-initialisation does not.
What every method must satisfy is checked by the generic contract tests.
"""

from __future__ import annotations

import math
import sys
import time

import pytest
import torch
from torch import nn

from unlearning_comparator.interop.comparator_json import METHODS as UPSTREAM_METHODS
from unlearning_comparator.models import create_model
from unlearning_comparator.unlearning import registry
from unlearning_comparator.unlearning.runner import make_task, run_method

from conftest import METHODS_DIR, logits_of

FORGET_CLASS = 1  # Trouser: the base model knows it well (≈ 99 % training accuracy)
SEED = 0
CPU = torch.device("cpu")

# gnueaj/Machine-Unlearning-Comparator at commit 0e3ce99d: front-end defaults from
# frontend/src/utils/config/unlearning.ts ("ga_ft", "ga_sl_ft"), display names from the threads'
# status.method and result "Method" (backend/app/threads/unlearn_GA_FT_thread.py, unlearn_GA_SL_FT_thread.py).
ORIGINAL_DEFAULTS = {
    "ga_ft": ("GA+FT", {"epochs": 4, "lr": 0.01, "batch_size": 128}),
    "ga_sl_ft": ("GA+SL+FT", {"epochs": 5, "lr": 0.01, "batch_size": 128}),
}
# The services' constants (backend/app/services/unlearn_GA_FT.py, unlearn_GA_SL_FT.py:
# ga_lr_ratio, sl_lr_ratio, ga_batch_ratio, sl_batch_ratio, ETA_MIN, reinit_last_k_layers = 3,
# get_data_loaders(augmentation=True); MAX_GRAD_NORM = 100 in backend/app/config/settings.py).
ORIGINAL_CONSTANTS = {
    "ga_ft": {
        "ga_lr_ratio": 0.05,
        "ga_batch_ratio": 32.0,
        "eta_min": 0.003,
        "reinit_groups": 3,
        "augmentation": True,
        "grad_clip": 100.0,
    },
    "ga_sl_ft": {
        "ga_lr_ratio": 0.01,
        "sl_lr_ratio": 1.0,
        "ga_batch_ratio": 16.0,
        "sl_batch_ratio": 1.0,
        "eta_min": 0.002,
        "reinit_groups": 3,
        "augmentation": True,
        "grad_clip": 100.0,
    },
}
HYBRIDS = tuple(ORIGINAL_DEFAULTS)
SMALL = {"epochs": 1, "lr": 0.05, "batch_size": 64}  # sized for 200 forget / 1800 retain images


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
    """The two hybrids and the two methods they combine, imported by path."""
    return {m: registry.load_method(METHODS_DIR / f"{m}.py") for m in (*HYBRIDS, "ft", "ga")}


def module_of(spec):
    return sys.modules[spec.unlearn.__module__]


def run(methods, base, data, method_id, forget=FORGET_CLASS, **hp):
    """Run one method; return (outcome, task, wall seconds of the whole call)."""
    spec = methods[method_id]
    task = make_task(base, data, forget, spec.with_defaults(hp), CPU, seed=SEED, log=lambda _: None)
    start = time.perf_counter()
    outcome = run_method(spec, task)
    wall = time.perf_counter() - start
    assert outcome.status == "ok", outcome.error
    return outcome, task, wall


def state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def assert_same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs"


# ------------------------------------------------------------------------------------------- declarations


@pytest.mark.parametrize("method_id", HYBRIDS)
def test_hybrids_declare_the_original_defaults_and_constants(method_id, methods):
    spec = methods[method_id]
    assert spec.ok, spec.error
    name, defaults = ORIGINAL_DEFAULTS[method_id]
    assert spec.name == name
    assert spec.defaults == defaults
    assert spec.own_defaults() == ORIGINAL_CONSTANTS[method_id]
    # the original's result files convert to runs of these modules
    upstream = {v[0]: k for k, v in UPSTREAM_METHODS.items()}
    assert UPSTREAM_METHODS[upstream[method_id]] == (method_id, name)
    doc = module_of(spec).__doc__ or ""
    assert "gnueaj/Machine-Unlearning-Comparator@0e3ce99d" in doc
    assert "§3.7" in doc and "deviation" in doc.lower()
    assert not spec.preparation and not spec.whole_class_only and spec.forgets


# ---------------------------------------------------------------------------------------- re-initialisation


@pytest.mark.parametrize("method_id", HYBRIDS)
def test_reinitialisation_resets_exactly_the_last_groups(method_id, methods, base):
    reinit = module_of(methods[method_id]).reinitialise_last_groups
    before = state(base)
    model = create_model("compact_resnet", 10, 1)
    model.load_state_dict(before)
    names = reinit(model, 3, torch.Generator().manual_seed(5))
    assert names == ["layer3", "layer4", "fc"]
    after = state(model)
    reset = tuple(f"{n}." for n in names)
    for key, value in after.items():
        if not key.startswith(reset):
            assert torch.equal(value, before[key]), f"{key} is outside the reset groups but changed"
    for module_name, module in model.named_modules():
        if not module_name.startswith(reset):
            continue
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            bound = 1.0 / math.sqrt(module.weight[0].numel())  # PyTorch's reset_parameters()
            assert not torch.equal(module.weight, dict(base.named_modules())[module_name].weight)
            assert module.weight.abs().max() <= bound
            assert module.weight.abs().max() > 0.9 * bound  # uniform over the whole range
            if module.bias is not None:
                assert module.bias.abs().max() <= bound
        elif isinstance(module, nn.BatchNorm2d):
            assert torch.equal(module.weight, torch.ones_like(module.weight))
            assert torch.equal(module.bias, torch.zeros_like(module.bias))
            assert torch.equal(module.running_mean, torch.zeros_like(module.running_mean))
            assert torch.equal(module.running_var, torch.ones_like(module.running_var))
            assert int(module.num_batches_tracked) == 0

    again = create_model("compact_resnet", 10, 1)
    again.load_state_dict(before)
    reinit(again, 3, torch.Generator().manual_seed(5))
    assert_same_state(after, state(again))  # the draws come from the generator only
    assert reinit(again, 0, torch.Generator()) == []


def test_both_hybrids_reinitialise_the_originals_groups_of_resnet18(methods):
    """On the CIFAR ResNet-18 the last three groups are the original's: layer4.0, layer4.1, fc."""
    drawn = []
    for method_id in HYBRIDS:
        model = create_model("resnet18", 10, 3)
        names = module_of(methods[method_id]).reinitialise_last_groups(
            model, 3, torch.Generator().manual_seed(1)
        )
        assert names == ["layer4.0", "layer4.1", "fc"]
        drawn.append(model.fc.weight.detach().clone())
    assert torch.equal(*drawn)  # both modules draw with the one shared helper (layers.py)


# ----------------------------------------------------------------------------------------------------- GA+FT


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step")  # no optimiser step in a phase
def test_ga_ft_without_its_ascent_is_fine_tuning(methods, base, data, monkeypatch):
    """No re-initialisation, no augmentation, the ascent phase removed: what is left is methods/ft.py
    with GA+FT's floor, bit for bit (same batches, same optimiser, same schedule)."""
    hp = {"epochs": 2, "lr": 0.02, "batch_size": 64, "eta_min": 0.003}
    ft, _, _ = run(methods, base, data, "ft", **hp)
    with_ascent, _, _ = run(methods, base, data, "ga_ft", **hp, reinit_groups=0, augmentation=False)
    monkeypatch.setattr(module_of(methods["ga_ft"]), "ascent_epoch", lambda *args, **kwargs: None)
    without, _, _ = run(methods, base, data, "ga_ft", **hp, reinit_groups=0, augmentation=False)
    assert_same_state(state(ft.model), state(without.model))
    assert any(
        not torch.equal(a, b)
        for a, b in zip(state(with_ascent.model).values(), state(without.model).values())
    )


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step")  # no optimiser step in a phase
def test_ga_ft_without_its_fine_tuning_is_gradient_ascent(methods, base, data, monkeypatch):
    """The ascent phase at the full rate and batch size, alone for one epoch: methods/ga.py, bit for bit
    (its own optimiser: cosine and MultiStep agree in the first epoch)."""
    hp = {"epochs": 1, "lr": 0.003, "batch_size": 32}
    ga, _, _ = run(methods, base, data, "ga", **hp)
    monkeypatch.setattr(module_of(methods["ga_ft"]), "descent_epoch", lambda *args, **kwargs: None)
    alone, _, _ = run(
        methods,
        base,
        data,
        "ga_ft",
        **hp,
        reinit_groups=0,
        augmentation=False,
        ga_lr_ratio=1.0,
        ga_batch_ratio=1.0,
    )
    assert_same_state(state(ga.model), state(alone.model))


# -------------------------------------------------------------------------------------------------- GA+SL+FT


def test_sl_labels_are_never_the_own_label(methods, base, data):
    """On a forget set that is not a class and holds every image the base model gets wrong: each image
    is relabelled with the base model's best *other* class — the original's second-highest logit
    wherever the base model is right, its top class where it is wrong."""
    module = module_of(methods["ga_sl_ft"])
    logits = logits_of(base, data.train.images, data.info)
    right = logits.argmax(1) == data.train.labels
    assert (~right).sum() >= 20, "the base model should get some training images wrong"
    generator = torch.Generator().manual_seed(3)
    mask = ~right | (torch.rand(len(right), generator=generator) < 0.1)
    spec = methods["ga_sl_ft"]
    task = make_task(base, data, mask, spec.with_defaults(SMALL), CPU, seed=SEED, log=lambda _: None)
    assert task.forget_class is None and len(task.forget_classes()) > 1

    relabelled = module.second_best_labels(task, 128, augment=False)
    own = task.forget.labels
    assert torch.equal(relabelled.images, task.forget.images)
    assert not (relabelled.labels == own).any()
    ranked = logits[mask].topk(2, dim=1).indices
    was_right = right[mask]
    assert torch.equal(relabelled.labels[was_right], ranked[was_right, 1])  # the original's rule
    assert torch.equal(relabelled.labels[~was_right], ranked[~was_right, 0])
    assert (ranked[~was_right, 1] == own[~was_right]).any(), "the original would give some their own label"

    augmented = module.second_best_labels(task, 128, augment=True)
    assert not (augmented.labels == own).any()
    assert not torch.equal(augmented.images, task.forget.images)  # one fixed augmentation per image


def test_ga_sl_ft_relabels_with_the_base_model_inside_rte(methods, base, data, monkeypatch):
    """The SL labels come from the base model (before the re-initialisation); the relabelling counts in
    RTE, the re-initialisation does not (as in the original)."""
    module = module_of(methods["ga_sl_ft"])
    delay = 0.3
    real_relabel, real_reinit = module.second_best_labels, module.reinitialise_last_groups

    def slow_relabel(*args, **kwargs):
        time.sleep(delay)
        return real_relabel(*args, **kwargs)

    def slow_reinit(*args, **kwargs):
        time.sleep(delay)
        return real_reinit(*args, **kwargs)

    monkeypatch.setattr(module, "second_best_labels", slow_relabel)
    monkeypatch.setattr(module, "reinitialise_last_groups", slow_reinit)
    outcome, task, wall = run(methods, base, data, "ga_sl_ft", **SMALL, augmentation=False)
    assert outcome.seconds >= delay, "the relabelling ran outside the timer"
    assert wall - outcome.seconds >= delay, "the re-initialisation ran inside the timer"

    base_logits = logits_of(base, task.forget.images, data.info)
    expected = base_logits.scatter(1, task.forget.labels[:, None], float("-inf")).argmax(1)
    assert torch.equal(task.extras["sl_labels"], expected)
    after = logits_of(outcome.model, data.train.images, data.info).argmax(1)
    forget = data.train.labels == FORGET_CLASS
    assert float((after[forget] == FORGET_CLASS).float().mean()) < 0.5

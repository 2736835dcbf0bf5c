"""What is specific to the fine-tuning family of methods: CF-k, EU-k, ℓ1-sparse and NegGrad+
(methods/{cf_k,eu_k,l1_sparse,neggrad_plus}.py), run for real on the small Fashion-MNIST problem (200
training images per class, a compact ResNet trained once per session; forget set: the Trousers).

What the contract test (tests/test_method_contract.py) checks for every method is not repeated here.
Checked here:

* EU-k re-initialises exactly its k layer groups (with the constructor's scheme) and leaves every other
  parameter and buffer bit-identical to the base model, BatchNorm statistics included;
* CF-k leaves everything outside its k groups bit-identical and moves the inside less far than EU-k;
* ℓ1-sparse's penalty weight decays linearly per epoch (γ, γ/2 half-way, γ/T last), the loop uses that
  schedule, and its weights end with a smaller ℓ1 norm than the same run without the penalty (FT);
* NegGrad+'s loss is α·CE(retain batch) − (1 − α)·CE(forget batch); with α = 1 the method is exactly
  fine-tuning on the retain set with the same optimiser and seed, and never reads the forget set.

Everything runs on one CPU thread.
"""

from __future__ import annotations

import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from unlearning_comparator.unlearning import registry
from unlearning_comparator.unlearning.layers import (
    group_state_keys,
    last_groups,
    reinitialise,
    train_only,
)
from unlearning_comparator.unlearning.runner import make_task, run_method
from unlearning_comparator.unlearning.toolkit import sgd, step

from conftest import METHODS_DIR

FORGET_CLASS = 1  # Trouser
SEED = 0
CPU = torch.device("cpu")


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


def run(methods, base, data, method_id, **overrides):
    """Run one method with its TEST_SETTINGS under ``overrides``; return (outcome, task)."""
    spec = methods[method_id]
    assert spec.ok, spec.error
    hp = spec.with_defaults({**spec.test_settings, **overrides})
    task = make_task(base, data, FORGET_CLASS, hp, CPU, seed=SEED, log=lambda _: None)
    outcome = run_method(spec, task)
    assert outcome.status == "ok", outcome.error
    return outcome, task


def state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def relative_distance(after: dict, before: dict, keys: set[str]) -> float:
    """‖after − before‖ / ‖before‖ over the floating-point tensors named by ``keys``."""
    keys = [k for k in sorted(keys) if before[k].is_floating_point()]
    diff = torch.cat([(after[k] - before[k]).flatten() for k in keys])
    ref = torch.cat([before[k].flatten() for k in keys])
    return float(diff.norm() / ref.norm())


def assert_frozen_part_identical(after: dict, before: dict, trained: set[str]) -> None:
    frozen = set(before) - trained
    assert frozen, "the test needs a frozen part"
    moved = [k for k in sorted(frozen) if not torch.equal(after[k], before[k])]
    assert not moved, f"frozen parameters or buffers changed: {moved[:5]}"


# ------------------------------------------------------------------------------------------- layer groups


def test_last_groups_counts_from_the_output(base):
    names = [name for name, _ in base.layer_groups()]
    assert [name for name, _ in last_groups(base, 2)] == names[-2:] == ["layer4", "fc"]
    assert len(last_groups(base, len(names))) == len(names)
    for k in (0, len(names) + 1):
        with pytest.raises(ValueError, match="layer groups"):
            last_groups(base, k)
    keys = group_state_keys(base, last_groups(base, 1))
    assert keys == {"fc.weight", "fc.bias"}


def test_train_only_freezes_and_sets_modes(base):
    import copy

    model = copy.deepcopy(base)
    groups = last_groups(model, 2)
    with train_only(model, groups) as trainable:
        assert {id(p) for p in trainable} == {id(p) for _, g in groups for p in g.parameters()}
        assert all(p.requires_grad == any(p is q for q in trainable) for p in model.parameters())
        assert all(m.training for _, g in groups for m in g.modules())
        assert not any(m.training for m in model.layer1.modules()) and not model.training
    assert all(p.requires_grad for p in model.parameters())


def test_reinitialise_follows_the_constructor_scheme(base):
    import copy

    model = copy.deepcopy(base)
    reinitialise(last_groups(model, 2), torch.Generator().manual_seed(5))
    conv = model.layer4.conv2.weight  # Kaiming normal, fan_out, ReLU gain
    fan_out = conv.shape[0] * conv.shape[2] * conv.shape[3]
    assert abs(float(conv.detach().std()) / (2.0 / fan_out) ** 0.5 - 1) < 0.05
    bound = 1 / model.fc.in_features**0.5  # PyTorch's nn.Linear default
    with torch.no_grad():
        assert float(model.fc.weight.abs().max()) <= bound and float(model.fc.bias.abs().max()) <= bound
    bn = model.layer4.bn1
    assert torch.equal(bn.weight, torch.ones_like(bn.weight))
    assert torch.equal(bn.bias, torch.zeros_like(bn.bias))
    assert torch.equal(bn.running_mean, torch.zeros_like(bn.running_mean))
    assert torch.equal(bn.running_var, torch.ones_like(bn.running_var)) and int(bn.num_batches_tracked) == 0
    assert torch.equal(model.layer3.conv1.weight, base.layer3.conv1.weight)  # outside the groups
    again = copy.deepcopy(base)
    reinitialise(last_groups(again, 2), torch.Generator().manual_seed(5))
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))


# ---------------------------------------------------------------------------------------------- EU-k, CF-k


def test_eu_k_reinitialises_exactly_its_groups(methods, base, data):
    before = state(base)
    outcome, task = run(methods, base, data, "eu_k")
    k = task.hp["k"]
    trained = group_state_keys(outcome.model, last_groups(outcome.model, k))
    after = state(outcome.model)
    assert_frozen_part_identical(after, before, trained)
    unchanged = [key for key in sorted(trained) if torch.equal(after[key], before[key])]
    assert not unchanged, f"EU-k left these tensors of its groups as they were: {unchanged}"
    # re-initialised, not fine-tuned: the groups end far from the base weights, much farther than CF-k's
    cf_outcome, _ = run(methods, base, data, "cf_k", **{key: task.hp[key] for key in ("epochs", "lr", "k")})
    eu_distance = relative_distance(after, before, trained)
    cf_distance = relative_distance(state(cf_outcome.model), before, trained)
    assert eu_distance > 0.5 and eu_distance > 3 * cf_distance, (eu_distance, cf_distance)


def test_cf_k_changes_only_its_groups(methods, base, data):
    before = state(base)
    outcome, task = run(methods, base, data, "cf_k")
    trained = group_state_keys(outcome.model, last_groups(outcome.model, task.hp["k"]))
    after = state(outcome.model)
    assert_frozen_part_identical(after, before, trained)
    params = {name for name, _ in outcome.model.named_parameters()} & trained
    moved = [key for key in params if not torch.equal(after[key], before[key])]
    assert len(moved) == len(params), "every trained parameter tensor should move"
    assert all(p.requires_grad for p in outcome.model.parameters())


# ---------------------------------------------------------------------------------------------- ℓ1-sparse


def l1_module(methods):
    return sys.modules[methods["l1_sparse"].unlearn.__module__]


def test_l1_penalty_weight_decays_linearly(methods):
    weight = l1_module(methods).penalty_weight
    gamma, epochs = 5e-4, 10
    assert weight(gamma, 0, epochs) == gamma
    assert weight(gamma, epochs // 2, epochs) == pytest.approx(gamma / 2)
    assert weight(gamma, epochs - 1, epochs) == pytest.approx(gamma / epochs)
    values = [weight(gamma, t, epochs) for t in range(epochs)]
    steps = [a - b for a, b in zip(values, values[1:])]
    assert all(s == pytest.approx(gamma / epochs) for s in steps)  # linear, strictly decreasing
    assert weight(gamma, 0, 1) == gamma  # a one-epoch run keeps γ throughout
    for t in (-1, epochs):
        with pytest.raises(ValueError):
            weight(gamma, t, epochs)


def test_l1_sparse_follows_the_schedule_and_ends_sparser_than_fine_tuning(methods, base, data, monkeypatch):
    module = l1_module(methods)
    real = module.penalty_weight
    calls = []

    def recording(gamma, epoch, epochs):
        calls.append((epoch, epochs))
        return real(gamma, epoch, epochs)

    monkeypatch.setattr(module, "penalty_weight", recording)
    sparse, task = run(methods, base, data, "l1_sparse")
    epochs = task.hp["epochs"]
    assert epochs >= 2 and calls == [(t, epochs) for t in range(epochs)]  # once per epoch, in order

    plain, _ = run(methods, base, data, "l1_sparse", gamma=0.0)  # the same run without the penalty: FT
    with torch.no_grad():
        sparse_norm, plain_norm = float(module.l1_norm(sparse.model)), float(module.l1_norm(plain.model))
        base_norm = float(module.l1_norm(base))
    assert sparse_norm < plain_norm - 0.01 * base_norm, (sparse_norm, plain_norm, base_norm)


# ----------------------------------------------------------------------------------------------- NegGrad+


class Tripwire:
    """Stands in for the forget split: any use fails the run."""

    def __getattr__(self, name):
        raise AssertionError(f"the forget set was read (.{name})")

    def __len__(self):
        raise AssertionError("the forget set was read (len)")


def test_neggrad_plus_with_alpha_one_is_fine_tuning(methods, base, data):
    spec = methods["neggrad_plus"]
    hp = spec.with_defaults({**spec.test_settings, "alpha": 1.0, "epochs": 2, "batch_size": 64})
    task = make_task(base, data, FORGET_CLASS, hp, CPU, seed=SEED, log=lambda _: None)
    task.forget = Tripwire()  # α = 1: no forget term, so the forget set is never touched
    outcome = run_method(spec, task)
    assert outcome.status == "ok", outcome.error

    # fine-tuning on the retain set by hand: same seed, same batches, same optimiser (plain SGD)
    reference = make_task(base, data, FORGET_CLASS, hp, CPU, seed=SEED, log=lambda _: None)
    model = reference.model
    optimizer = sgd(model.parameters(), lr=hp["lr"], momentum=0.0, weight_decay=0.0)
    for _ in range(hp["epochs"]):
        model.train()
        for x, y in reference.batches(reference.retain, hp["batch_size"]):
            step(optimizer, F.cross_entropy(model(x), y))
    a, b = state(outcome.model), state(model)
    different = [key for key in a if not torch.equal(a[key], b[key])]
    assert not different, f"NegGrad+ (α = 1) differs from fine-tuning in {different[:5]}"


def test_neggrad_plus_loss_weights_retain_and_forget_terms(methods, base, data):
    module = sys.modules[methods["neggrad_plus"].unlearn.__module__]
    task = make_task(base, data, FORGET_CLASS, {}, CPU, seed=SEED, log=lambda _: None)
    task.model.eval()  # fixed BatchNorm statistics: the same batch gives the same logits every time
    retain_batch = next(task.batches(task.retain, 16))
    forget_batch = next(task.batches(task.forget, 16))
    with torch.no_grad():
        ce_retain = F.cross_entropy(task.model(retain_batch[0]), retain_batch[1])
        ce_forget = F.cross_entropy(task.model(forget_batch[0]), forget_batch[1])
        for alpha in (0.0, 0.3, 0.9999, 1.0):
            loss = module.negative_gradient_loss(task, retain_batch, iter([forget_batch]), alpha)
            expected = alpha * ce_retain - (1 - alpha) * ce_forget
            assert float(loss) == pytest.approx(float(expected), rel=1e-6, abs=1e-7), alpha

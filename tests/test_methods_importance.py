"""What is specific to the importance-based methods: methods/ssd.py, methods/fisher.py and
methods/salun_soft.py, with their shared estimates (unlearning/importance.py).

* SSD leaves every weight whose forget importance is not above α times its importance on D
  bit-identical, and multiplies every other weight by exactly β = min(λ·[]_D/[]_Df, 1), computed here
  from importances estimated independently; its []_D does not depend on how D is split;
* Fisher forgetting with α = 0 leaves the model bit-identical, and its noise has the variance
  (α·min(1/(F + ε), c))^{1/2} of the formula, checked on a hand-made Fisher;
* SalUn-soft's soft threshold gives the documented values on hand-made weight changes, holds exactly the
  weights at or below the threshold at their original value, and with mask_ratio 1 holds every weight.

Real data (Fashion-MNIST, 200 training images per class), a compact ResNet trained once per session, one CPU
thread. The generic contract of every method module is checked in tests/test_method_contract.py.
"""

from __future__ import annotations

import math
import sys

import pytest
import torch

from unlearning_comparator.unlearning import registry
from unlearning_comparator.unlearning.importance import label_sorted, mean_batch_fisher, sample_labels
from unlearning_comparator.unlearning.runner import make_task, run_method

from conftest import METHODS_DIR, forget_accuracy

FORGET_CLASS = 1  # Trouser: ≈ 99 % training accuracy in the base model
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


def spec_of(method_id: str) -> registry.MethodSpec:
    spec = registry.load_method(METHODS_DIR / f"{method_id}.py")
    assert spec.ok, spec.error
    return spec


def module_of(spec: registry.MethodSpec):
    return sys.modules[spec.unlearn.__module__]


def run(base, data, method_id: str, forget=FORGET_CLASS, **overrides):
    """Run a method with its TEST_SETTINGS (and ``overrides``); return (outcome, task)."""
    spec = spec_of(method_id)
    hp = spec.with_defaults({**spec.test_settings, **overrides})
    task = make_task(base, data, forget, hp, CPU, seed=SEED, log=lambda _: None)
    outcome = run_method(spec, task)
    assert outcome.status == "ok", outcome.error
    return outcome, task


def params_of(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


# ------------------------------------------------------------------------------------------ shared helpers


def test_label_sorted_order_does_not_depend_on_the_partition(data):
    train = data.train
    generator = torch.Generator().manual_seed(3)
    one = torch.rand(len(train), generator=generator) < 0.1
    other = train.labels == 4
    orders = [
        label_sorted(train.select((~m).nonzero().flatten()), train.select(m.nonzero().flatten())).indices
        for m in (one, other)
    ]
    assert torch.equal(orders[0], orders[1])
    assert torch.equal(orders[0], label_sorted(train).indices)
    labels = label_sorted(train).labels
    assert bool((labels[1:] >= labels[:-1]).all())


def test_sampled_labels_follow_the_model_distribution():
    generator = torch.Generator().manual_seed(0)
    confident = torch.tensor([[0.0, 50.0, 0.0]]).repeat(1000, 1)
    assert bool((sample_labels(confident, generator) == 1).all())
    probs = torch.tensor([0.2, 0.5, 0.3])
    drawn = sample_labels(probs.log().repeat(20000, 1), generator)
    share = torch.bincount(drawn, minlength=3).float() / drawn.numel()
    assert torch.allclose(share, probs, atol=0.015)


# --------------------------------------------------------------------------------------------------- SSD


def test_ssd_dampens_exactly_the_selected_weights_by_beta(base, data):
    outcome, task = run(base, data, "ssd")
    alpha, lam = float(task.hp["selection_weighting"]), float(task.hp["dampening_constant"])
    batch_size = int(task.hp["batch_size"])

    # importances estimated again, independently, on a fresh copy of the base model; []_D over the
    # training split as published (not retain ∪ forget): the same, since the order is fixed
    fresh = make_task(base, data, FORGET_CLASS, task.hp, CPU, seed=SEED, log=lambda _: None)
    full = mean_batch_fisher(fresh, data.train, batch_size)
    forget = mean_batch_fisher(fresh, fresh.forget, batch_size)
    for name in full:
        assert torch.equal(task.extras["ssd_importance"]["full"][name], full[name]), name
        assert torch.equal(task.extras["ssd_importance"]["forget"][name], forget[name]), name

    before, after = params_of(base), params_of(outcome.model)
    selected = dampened = 0
    for name, w0 in before.items():
        chosen = forget[name] > alpha * full[name]
        assert torch.equal(after[name][~chosen], w0[~chosen]), f"{name}: an unselected weight changed"
        beta = (lam * full[name][chosen] / forget[name][chosen]).clamp(max=1.0)
        assert torch.equal(after[name][chosen], w0[chosen] * beta), f"{name}: not dampened by exactly β"
        assert torch.equal(task.extras["ssd_selected"][name], chosen)
        selected += int(chosen.sum())
        dampened += int((beta < 1).sum())
    total = sum(w.numel() for w in before.values())
    assert 0 < selected < 0.2 * total and dampened > 0
    for key, buffer in base.state_dict().items():  # BatchNorm statistics untouched
        if key not in before:
            assert torch.equal(outcome.model.state_dict()[key], buffer), key
    assert (
        forget_accuracy(outcome.model, data, FORGET_CLASS) <= forget_accuracy(base, data, FORGET_CLASS) - 0.5
    )


# ---------------------------------------------------------------------------------------- Fisher forgetting


def test_fisher_with_zero_alpha_leaves_the_model_bit_identical(base, data):
    outcome, _ = run(base, data, "fisher", alpha=0.0)
    after = outcome.model.state_dict()
    for key, value in base.state_dict().items():
        assert torch.equal(after[key], value), key


def test_fisher_noise_variance_follows_the_formula():
    module = module_of(spec_of("fisher"))
    alpha, clip = 1e-6, 1e3
    fisher = torch.tensor([0.0, 1e-9, 1e-4, 1e-2, 1.0, 100.0])
    by_hand = [(alpha * min(1.0 / (f + 1e-8), clip)) ** 0.25 for f in fisher.tolist()]
    assert torch.allclose(module.noise_std(fisher, alpha, clip), torch.tensor(by_hand), rtol=1e-5)
    assert by_hand[0] == pytest.approx((alpha * clip) ** 0.25)  # clipped: F = 0 gets a bounded noise
    assert by_hand[4] == pytest.approx(alpha**0.25, rel=1e-6)  # F = 1: std α^(1/4)
    assert torch.equal(module.noise_std(fisher, 0.0, clip), torch.zeros(6))

    # the noise actually added: per-row sample variance (α / F)^(1/2), mean 0
    rows = torch.tensor([1e-4, 1e-2, 1.0, 100.0])
    net = torch.nn.Linear(50_000, 4, bias=False)
    torch.nn.init.zeros_(net.weight)
    hand_made = {"weight": rows[:, None].expand(4, 50_000).clone()}
    module.add_noise(net, hand_made, alpha, clip, torch.Generator().manual_seed(1))
    noise = net.weight.detach()
    expected = torch.tensor([math.sqrt(alpha * min(1.0 / (f + 1e-8), clip)) for f in rows.tolist()])
    assert torch.allclose(noise.var(dim=1), expected, rtol=0.03)
    assert bool((noise.mean(dim=1).abs() < 4 * expected.sqrt() / math.sqrt(50_000)).all())


# ---------------------------------------------------------------------------------------------- SalUn-soft


def test_salun_soft_threshold_on_hand_made_changes():
    module = module_of(spec_of("salun_soft"))
    anchors = [torch.tensor([1.0, -2.0, 0.5, 3.0]), torch.tensor([[0.25, -1.0]])]
    changes = [torch.tensor([0.5, -0.2, 0.05, -0.01]), torch.tensor([[0.3, 0.0]])]
    params = [a + d for a, d in zip(anchors, changes)]
    start = [p.clone() for p in params]

    # |changes| sorted: 0, 0.01, 0.05, 0.2, 0.3, 0.5; k = 3 -> τ = 0.05, over both tensors
    tau = module.soft_threshold(params, anchors, 3)
    assert float(tau) == pytest.approx(0.05)
    t = tau.item()
    expected = [
        torch.stack([start[0][0] - t, start[0][1] + t, anchors[0][2], anchors[0][3]]),
        torch.stack([start[1][0, 0] - t, anchors[1][0, 1]])[None],
    ]
    for got, want in zip(params, expected):
        assert torch.equal(got, want)
    # the soft-thresholding operator: new change = sign(Δ)·max(|Δ| − τ, 0), held ones bit-identical
    for got, a, d in zip(params, anchors, changes):
        assert torch.allclose(got - a, d.sign() * (d.abs() - t).clamp(min=0), atol=1e-7)
        held = d.abs() <= t
        assert torch.equal(got[held], a[held])

    # k = 0 holds nothing; k = N holds every weight at its anchor
    params = [p.clone() for p in start]
    assert module.soft_threshold(params, anchors, 0) is None
    assert all(torch.equal(p, s) for p, s in zip(params, start))
    module.soft_threshold(params, anchors, 6)
    assert all(torch.equal(p, a) for p, a in zip(params, anchors))

    # the share held decays linearly over the epochs
    assert [module.held_count(0.5, e, 4, 1000) for e in range(4)] == [500, 375, 250, 125]


def test_salun_soft_holds_the_thresholded_weights_at_their_original_values(base, data):
    outcome, task = run(base, data, "salun_soft")
    before, after = params_of(base), params_of(outcome.model)
    n_params = sum(w.numel() for w in before.values())
    held = sum(int((after[n] == before[n]).sum()) for n in before)
    # one epoch: every step holds at least ⌊mask_ratio·N⌋ weights at θ_o, the last step included
    k = module_of(spec_of("salun_soft")).held_count(float(task.hp["mask_ratio"]), 0, 1, n_params)
    assert k <= held < n_params
    assert (
        forget_accuracy(outcome.model, data, FORGET_CLASS) <= forget_accuracy(base, data, FORGET_CLASS) - 0.5
    )

    # mask_ratio 1: in a one-epoch run every weight is held, i.e. none moves (BatchNorm statistics do)
    outcome, _ = run(base, data, "salun_soft", mask_ratio=1.0)
    after = params_of(outcome.model)
    assert all(torch.equal(after[n], before[n]) for n in before)

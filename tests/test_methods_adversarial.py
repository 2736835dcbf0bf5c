"""What is specific to Bad Teacher, UNSIR, Boundary Shrink and Boundary Expanding, checked on real data.

A compact ResNet is trained once per session (tests/conftest.py) on 200 Fashion-MNIST training images
per class (the ``fmnist_small`` fixture); every method runs with its TEST_SETTINGS on one CPU thread.
What every method must satisfy (declarations, seeds, data access, RTE) is checked for all of them by the
generic contract tests; here:

* Bad Teacher: the incompetent teacher is a random network drawn from the task's generator (the same
  seed gives the same teacher, another seed another one); each image's target comes from the right
  teacher (the incompetent one for forget images, the competent one for retain images);
* UNSIR: the learnt noise raises the model's loss on the forget labels far above that of zero noise,
  and leaves the model untouched; noise counts follow the forgotten fraction of each class;
* Boundary Shrink: no neighbour label is the image's own label, and the attack stays within its bound;
* Boundary Expanding: a shadow class is added during the run and is gone after it (the base
  architecture, with the same state_dict keys and shapes, is returned);
* both Boundary methods refuse a forget set that is not one whole class, with a clear reason.
"""

from __future__ import annotations

import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from unlearning_comparator.data import normalize
from unlearning_comparator.unlearning.registry import load_method
from unlearning_comparator.unlearning.runner import make_task, run_method
from unlearning_comparator.unlearning.toolkit import best_other_labels

from conftest import METHODS_DIR, forget_accuracy

FORGET_CLASS = 1  # Trouser: the base model knows it well (≈ 99 % training accuracy)
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


def spec_of(method_id: str):
    spec = load_method(METHODS_DIR / f"{method_id}.py")
    assert spec.ok, spec.error
    return spec


def module_of(spec):
    return sys.modules[spec.unlearn.__module__]


def task_for(spec, base, data, forget=FORGET_CLASS, seed=SEED, **overrides):
    hp = spec.with_defaults({**spec.test_settings, **overrides})
    return make_task(base, data, forget, hp, CPU, seed=seed, log=lambda _: None)


def state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


# ---------------------------------------------------------------------------------------------- Bad Teacher


def test_bad_teacher_incompetent_teacher_is_drawn_from_the_seed(base):
    module = module_of(spec_of("bad_teacher"))
    first = module.incompetent_teacher(base, torch.Generator().manual_seed(3))
    again = module.incompetent_teacher(base, torch.Generator().manual_seed(3))
    other = module.incompetent_teacher(base, torch.Generator().manual_seed(4))
    a, b, c, original = state(first), state(again), state(other), state(base)
    assert a.keys() == original.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "the same seed must give the same teacher"
    weights = [k for k in a if k.endswith("weight") and a[k].dim() > 1]  # convolutions and linear layers
    assert all(not torch.equal(a[k], c[k]) for k in weights), "another seed must give another teacher"
    assert all(not torch.equal(a[k], original[k]) for k in weights), "the teacher must not be the base"
    # frozen, in eval mode, with fresh BatchNorm statistics
    assert not first.training and not any(p.requires_grad for p in first.parameters())
    means = [v for k, v in a.items() if k.endswith("running_mean")]
    assert means and all(torch.equal(m, torch.zeros_like(m)) for m in means)
    # the global generator is neither used nor needed: drawing leaves it where it was
    before = torch.random.get_rng_state()
    module.incompetent_teacher(base, torch.Generator().manual_seed(3))
    assert torch.equal(before, torch.random.get_rng_state())


def test_bad_teacher_targets_come_from_the_right_teacher(base, data, monkeypatch):
    spec = spec_of("bad_teacher")
    module = module_of(spec)
    task = task_for(spec, base, data, epochs=1)
    temperature = 2.0

    # the rule: row by row, the incompetent teacher's softmax for forget images, the competent one's else
    x = normalize(data.train.images[::50], data.info)
    with torch.no_grad():
        competent = base(x)
        incompetent = module.incompetent_teacher(base, torch.Generator().manual_seed(0))(x)
    is_forget = torch.arange(len(x)) % 3 == 0
    targets = module.teacher_targets(competent, incompetent, is_forget, temperature)
    torch.testing.assert_close(targets[is_forget], F.softmax(incompetent[is_forget] / temperature, 1))
    torch.testing.assert_close(targets[~is_forget], F.softmax(competent[~is_forget] / temperature, 1))
    # a student equal to its target teacher has zero loss
    assert float(module.bad_teacher_loss(competent[~is_forget], targets[~is_forget], temperature)) < 1e-6

    # the wiring: in a real run, the images flagged as forget images are exactly the forget images
    seen_labels, seen_flags = [], []
    real_batches, real_targets = task.indexed_batches, module.teacher_targets

    def recording_batches(split, *args, **kwargs):
        for x, y, idx in real_batches(split, *args, **kwargs):
            seen_labels.append(y)
            yield x, y, idx

    def recording_targets(competent, incompetent, is_forget, temperature):
        seen_flags.append(is_forget)
        return real_targets(competent, incompetent, is_forget, temperature)

    task.indexed_batches = recording_batches
    monkeypatch.setattr(module, "teacher_targets", recording_targets)
    outcome = run_method(spec, task)
    assert outcome.status == "ok", outcome.error
    labels, flags = torch.cat(seen_labels), torch.cat(seen_flags)
    assert torch.equal(flags, labels == FORGET_CLASS)  # forget set = class 1; the retain subset has none
    assert int(flags.sum()) == len(task.forget)
    assert int((~flags).sum()) == round(0.3 * len(task.retain))  # the paper's 30 % of the retain set


# --------------------------------------------------------------------------------------------------- UNSIR


def test_unsir_noise_raises_the_loss_on_the_forget_labels(base, data):
    spec = spec_of("unsir")
    module = module_of(spec)
    task = task_for(spec, base, data)
    before = state(task.model)
    noise = module.learn_noise(task, FORGET_CLASS)
    assert noise.shape == (spec.test_settings["noise_batch_size"], *data.train.images.shape[1:])
    labels = torch.full((len(noise),), FORGET_CLASS)
    with torch.no_grad():
        noisy = F.cross_entropy(base(noise), labels)
        zero = F.cross_entropy(base(torch.zeros_like(noise)), labels)
        start = F.cross_entropy(
            base(torch.randn(noise.shape, generator=torch.Generator().manual_seed(0))), labels
        )
    print(
        f"UNSIR: CE on class {FORGET_CLASS}: zero noise {zero:.2f}, initial {start:.2f}, learnt {noisy:.2f}"
    )
    assert noisy > zero + 1.0 and noisy > start, "the learnt noise must maximise the forget-label loss"
    after = state(task.model)
    assert all(torch.equal(before[k], after[k]) for k in before), "learning noise must not change the model"


def test_unsir_noise_counts_follow_the_forgotten_fraction(base, data):
    spec = spec_of("unsir")
    module = module_of(spec)
    labels = data.train.labels
    mask = labels == 3  # all of class 3 ...
    mask |= (labels == 5) & (torch.arange(len(labels)) % 4 == 0)  # ... and a quarter of class 5
    task = task_for(spec, base, data, forget=mask)
    full = spec.test_settings["noise_batches"] * spec.test_settings["noise_batch_size"]
    assert task.forget_class is None
    forgotten = int(mask[labels == 5].sum())
    assert 0 < forgotten < 200
    assert module.noise_counts(task) == {3: full, 5: round(full * forgotten / 200)}
    sample = module.retain_sample(task)
    per_class = torch.bincount(sample.labels, minlength=10)
    assert per_class[3] == 0 and per_class[5] == spec.test_settings["retain_per_class"]


# ------------------------------------------------------------------------------------------ Boundary Shrink


def test_boundary_shrink_neighbour_labels_are_never_the_own_label(base, data):
    spec = spec_of("boundary_shrink")
    module = module_of(spec)
    task = task_for(spec, base, data)
    before = forget_accuracy(base, data, FORGET_CLASS)
    outcome = run_method(spec, task)
    assert outcome.status == "ok", outcome.error
    targets = task.extras["boundary_shrink_labels"]
    assert targets.shape == task.forget.labels.shape
    assert not (targets == task.forget.labels).any(), "a neighbour label equals the image's own label"
    assert targets.min() >= 0 and targets.max() < task.num_classes
    assert forget_accuracy(outcome.model, data, FORGET_CLASS) <= before - 0.5

    # the attack stays in its L∞ ball (ε = 0.1 of the pixel range) and yields valid images
    images, labels = task.forget.images[:64], task.forget.labels[:64]
    adversarial = module.adversarial_images(task.copy_model(), task, images, labels)
    assert adversarial.dtype == torch.uint8
    assert (adversarial.int() - images.int()).abs().max() <= round(0.1 * 255)
    # where the attack crossed the boundary, the neighbour is the adversarial prediction (the paper's label)
    with torch.no_grad():
        logits = base(normalize(adversarial, data.info))
    crossed = logits.argmax(1) != labels
    assert crossed.any()
    assert torch.equal(best_other_labels(logits, labels)[crossed], logits.argmax(1)[crossed])
    assert torch.equal(
        best_other_labels(torch.tensor([[5.0, 4.0, 1.0]]), torch.tensor([0])), torch.tensor([1])
    )


# --------------------------------------------------------------------------------------- Boundary Expanding


def test_boundary_expanding_returns_the_base_architecture_without_the_shadow_class(base, data, monkeypatch):
    spec = spec_of("boundary_expanding")
    module = module_of(spec)
    task = task_for(spec, base, data)
    widened = []
    real_widen = module.widen_head

    def recording_widen(head, generator):
        wide = real_widen(head, generator)
        widened.append((head, wide, wide.weight.detach().clone()))
        return wide

    monkeypatch.setattr(module, "widen_head", recording_widen)
    before = forget_accuracy(base, data, FORGET_CLASS)
    outcome = run_method(spec, task)
    assert outcome.status == "ok", outcome.error
    model = outcome.model

    # during the run: one extra output, the base's rows copied, the shadow row drawn
    (head, wide, initial) = widened[0]
    assert wide.out_features == task.num_classes + 1 and head.out_features == task.num_classes
    torch.testing.assert_close(initial[: task.num_classes], base.fc.weight.detach())
    assert initial[task.num_classes].abs().sum() > 0
    # after it: the base architecture, the shadow class pruned
    assert type(model) is type(base) and model.fc is head
    assert {k: v.shape for k, v in model.state_dict().items()} == {
        k: v.shape for k, v in base.state_dict().items()
    }
    assert not any(isinstance(m, nn.Linear) and m.out_features != task.num_classes for m in model.modules())
    with torch.no_grad():
        assert model(normalize(data.train.images[:4], data.info)).shape == (4, task.num_classes)
    torch.testing.assert_close(model.fc.weight.detach(), wide.weight.detach()[: task.num_classes])
    assert forget_accuracy(model, data, FORGET_CLASS) <= before - 0.5


# ------------------------------------------------------------------------------------- whole classes only


@pytest.mark.parametrize("method_id", ["boundary_shrink", "boundary_expanding"])
def test_boundary_methods_refuse_a_forget_set_that_is_not_one_whole_class(method_id, base, data):
    spec = spec_of(method_id)
    assert spec.whole_class_only
    labels = data.train.labels
    sample = torch.zeros_like(labels, dtype=torch.bool)
    sample[torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))[:200]] = True
    almost = labels == FORGET_CLASS
    almost[almost.nonzero()[0]] = False  # the class but one image
    for mask in (sample, almost):
        task = task_for(spec, base, data, forget=mask)
        assert task.forget_class is None
        outcome = run_method(spec, task)
        assert outcome.status == "failed" and outcome.model is None
        assert outcome.error == spec.whole_class_reason() and "whole class" in outcome.error
        # called directly, past the runner, the method says why too
        with pytest.raises(ValueError, match="one whole class"):
            spec.unlearn(task)
    # and one whole class, given as a mask, is accepted
    task = task_for(spec, base, data, forget=labels == FORGET_CLASS, epochs=1)
    assert task.forget_class == FORGET_CLASS
    assert run_method(spec, task).status == "ok"

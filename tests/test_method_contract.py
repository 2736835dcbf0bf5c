"""The contract every unlearning method meets, tested once for all of them.

The parameters are read from the method registry (every ``methods/<id>.py``), so a method added later
is covered without a new test. Each method runs for real on a small Fashion-MNIST problem (200 training
images per class, a compact ResNet trained once per session; forget set: the 200 Trousers) with its
declared ``TEST_SETTINGS``, on one CPU thread. Checked for every method:

* it returns a finite model of the base architecture, and its loop runs inside the timer (RTE > 0);
* the same seed gives bit-identical weights;
* it touches no data outside the forget and retain sets: no network input equals a held-out image,
  and loading any data set from inside a method fails;
* its one-off preparation stays out of the timer: a method that declares ``PREPARATION`` runs forward
  passes outside it, and one that does not runs none there (undeclared work would escape RTE);
* for the methods whose contract is to forget (all but those declaring ``FORGETS = False``): the forget
  set's training accuracy drops by at least ``MIN_DROP``, while the retain accuracy stays above chance;
* it works on a forget set that is not a class (a random 10 % sample), or, for a method declared
  ``WHOLE_CLASS_ONLY``, the runner refuses that set with the reason.

What is specific to a method (SSD's untouched weights, EU-k's re-initialised groups, ...) is tested in
the method's own test file.
"""

from __future__ import annotations

import hashlib

import pytest
import torch

import unlearning_comparator.data as data_package
import unlearning_comparator.data.datasets as datasets_module
from unlearning_comparator.data import ImageDataset, normalize
from unlearning_comparator.unlearning.api import all_finite
from unlearning_comparator.unlearning.registry import describe_method, discover
from unlearning_comparator.unlearning.runner import make_task, run_method

from conftest import METHODS_DIR, accuracy

METHOD_IDS = sorted(discover(METHODS_DIR))
FORGET_CLASS = 1  # Trouser: the base model knows it well (≈ 99 % training accuracy), so a drop is clear
SEED = 0
CPU = torch.device("cpu")
MIN_DROP = 0.2  # forget-accuracy drop a forgetting method must reach with its TEST_SETTINGS
RETAIN_FLOOR = 0.3  # retain accuracy it must keep (3 × chance): forgetting is not destroying the model

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def problem(fmnist_small):
    """The small problem: training split (the methods' world) and the held-out test images."""
    return fmnist_small


@pytest.fixture(scope="module")
def base(small_base_model):
    """A compact ResNet trained for 5 epochs on the 2000 training images (tests/conftest.py; shared:
    read-only)."""
    return small_base_model


@pytest.fixture(scope="module")
def methods():
    return discover(METHODS_DIR, load=True)


def _row_digests(inputs: torch.Tensor) -> set[bytes]:
    rows = inputs.detach().float().contiguous().cpu().reshape(len(inputs), -1).numpy()
    return {hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in rows}


class Watch:
    """Forward hooks on every module of the task's model (copies made later inherit them): counts the
    forward passes inside and outside the timer and collects a digest of every network input."""

    def __init__(self, task):
        self.task = task
        self.inside = self.outside = 0
        self.digests: set[bytes] = set()
        self.handle = task.model.register_forward_pre_hook(self._hook)

    def _hook(self, module, args):
        if self.task.timer._start is not None:
            self.inside += 1
        else:
            self.outside += 1
        if args and isinstance(args[0], torch.Tensor):
            self.digests |= _row_digests(args[0])


def watched_run(spec, base, problem, forget, seed=SEED, monkeypatch=None):
    """Run ``spec`` with its TEST_SETTINGS on ``forget`` (a class or a mask): (outcome, task, watch)."""
    hp = spec.with_defaults({**spec.test_settings, "seed": seed})
    task = make_task(base, problem, forget, hp, CPU, seed=seed, log=lambda _: None)
    watch = Watch(task)
    if monkeypatch is not None:  # no method may load data of its own

        def refuse(*args, **kwargs):
            raise AssertionError("an unlearning method tried to load a data set")

        for module in (data_package, datasets_module):
            monkeypatch.setattr(module, "load_dataset", refuse)
    outcome = run_method(spec, task)
    watch.handle.remove()
    return outcome, task, watch


@pytest.fixture(scope="module")
def class_runs(methods, base, problem):
    """Each method's run on the forget class with its TEST_SETTINGS and SEED, computed once."""
    cache = {}
    patcher = pytest.MonkeyPatch()

    def get(method_id):
        if method_id not in cache:
            with patcher.context() as mp:
                cache[method_id] = watched_run(
                    methods[method_id], base, problem, FORGET_CLASS, monkeypatch=mp
                )
        return cache[method_id]

    return get


def state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


# ----------------------------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("method_id", METHOD_IDS)
def test_declarations_are_read_statically_as_imported(method_id, methods):
    imported, described = methods[method_id], describe_method(methods[method_id].path)
    assert imported.ok, imported.error
    assert described.ok, described.error
    fields = ("name", "defaults", "hyperparameters", "whole_class_only", "forgets", "preparation")
    assert {f: getattr(described, f) for f in fields} == {f: getattr(imported, f) for f in fields}
    assert described.test_settings == imported.test_settings


@pytest.mark.parametrize("method_id", METHOD_IDS)
def test_returns_a_finite_model_of_the_base_architecture(method_id, class_runs, base):
    outcome, _, _ = class_runs(method_id)
    assert outcome.status == "ok", outcome.error
    assert type(outcome.model) is type(base)
    shapes = {k: v.shape for k, v in outcome.model.state_dict().items()}
    assert shapes == {k: v.shape for k, v in base.state_dict().items()}
    assert all_finite(outcome.model)
    assert outcome.seconds > 0, "the unlearning loop must run inside `with task.timer:` (the run's RTE)"


@pytest.mark.parametrize("method_id", METHOD_IDS)
def test_the_same_seed_gives_bit_identical_weights(method_id, methods, class_runs, base, problem):
    first, _, _ = class_runs(method_id)
    again, _, _ = watched_run(methods[method_id], base, problem, FORGET_CLASS)
    assert first.status == again.status == "ok", (first.error, again.error)
    a, b = state(first.model), state(again.model)
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"the same seed gave other values of {different[:5]}"


@pytest.mark.parametrize("method_id", METHOD_IDS)
def test_touches_no_data_outside_forget_and_retain(method_id, class_runs, problem):
    outcome, task, watch = class_runs(method_id)  # ran with every data loader refused
    assert outcome.status == "ok", outcome.error
    held_out = _row_digests(normalize(problem.test.images, problem.info))
    assert watch.digests, "no forward pass was seen"
    assert not (watch.digests & held_out), "the method fed held-out (test) images to the network"
    with pytest.raises(AttributeError, match="forget and retain"):
        task.test  # noqa: B018 - the task refuses to hand out other data


@pytest.mark.parametrize("method_id", METHOD_IDS)
def test_one_off_preparation_stays_outside_the_timer(method_id, methods, class_runs):
    spec = methods[method_id]
    outcome, _, watch = class_runs(method_id)
    assert outcome.status == "ok", outcome.error
    if spec.preparation:
        assert watch.outside > 0, (
            f"PREPARATION ({spec.preparation!r}) declared, but nothing ran outside the timer"
        )
    else:
        assert watch.outside == 0, (
            f"{watch.outside} forward passes ran outside the timer: declare PREPARATION or time them"
        )


@pytest.mark.parametrize("method_id", METHOD_IDS)
def test_a_forgetting_method_lowers_forget_accuracy(method_id, methods, class_runs, base, problem):
    spec = methods[method_id]
    if not spec.forgets:
        pytest.skip(f"{spec.name} declares FORGETS = False")
    outcome, _, _ = class_runs(method_id)
    assert outcome.status == "ok", outcome.error
    forget = problem.train.labels == FORGET_CLASS
    before = accuracy(base, problem.train, problem.info, forget)
    after = accuracy(outcome.model, problem.train, problem.info, forget)
    retain_after = accuracy(outcome.model, problem.train, problem.info, ~forget)
    assert after <= before - MIN_DROP, f"forget accuracy {before:.3f} -> {after:.3f}"
    assert retain_after >= RETAIN_FLOOR, f"retain accuracy fell to {retain_after:.3f}"


@pytest.mark.parametrize("method_id", METHOD_IDS)
def test_a_forget_set_that_is_not_a_class(method_id, methods, base, problem):
    spec = methods[method_id]
    generator = torch.Generator().manual_seed(3)
    mask = torch.rand(len(problem.train), generator=generator) < 0.1  # a random 10 % of every class
    outcome, task, _ = watched_run(spec, base, problem, mask)
    assert task.forget_class is None and len(task.forget) == int(mask.sum())
    if spec.whole_class_only:
        assert outcome.status == "failed" and "whole classes" in outcome.error
    else:
        assert outcome.status == "ok", outcome.error
        assert all_finite(outcome.model)


def test_a_mask_of_one_whole_class_is_that_class(problem, base):
    mask = problem.train.labels == FORGET_CLASS
    task = make_task(base, problem, mask, {}, CPU, seed=0, log=lambda _: None)
    assert task.forget_class == FORGET_CLASS and task.forget_classes() == [FORGET_CLASS]
    assert len(task.retain) + len(task.forget) == len(problem.train)


def test_the_problem_keeps_held_out_images_apart(problem):
    assert isinstance(problem, ImageDataset)
    assert not (
        _row_digests(normalize(problem.test.images, problem.info))
        & _row_digests(normalize(problem.train.images, problem.info))
    ), "the check above needs test images that differ from every training image"

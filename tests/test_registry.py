"""Every registered model and every method module, checked the same way (as timm tests its registry).

A new model (a ``@register_model`` function in ``models/``) or a new method (a file in ``methods/``)
is tested here without anyone writing a test: the parameters are read from the registries.

* models, at each data set's image size and channels: the output shape; layer groups with unique
  names that each run once per forward, in forward order; the feature module's output is the input of
  the final Linear layer (logits = head(features)); channels_last gives the same logits and trains;
  the parameter count is reported (``-rP`` shows it, and it is a test property in JUnit XML);
* methods (and ``methods/_template.py``, so that a copy starts from a working method): the static
  description equals the import; NAME, DEFAULTS with the grid keys, HYPERPARAMETERS whose defaults
  satisfy their own schemas; one epoch on a few real Fashion-MNIST images returns a finite model of
  the same architecture, with the loop timed.
"""

from __future__ import annotations

import copy
import itertools

import jsonschema
import pytest
import torch
from torch import nn

from unlearning_comparator.catalog import DATASETS, describe_models
from unlearning_comparator.data import ImageDataset, Split
from unlearning_comparator.models import create_model, display_name, list_models
from unlearning_comparator.unlearning.api import all_finite
from unlearning_comparator.unlearning.registry import GRID_KEYS, describe_method, discover, load_method
from unlearning_comparator.unlearning.runner import make_task, run_method

from conftest import METHODS_DIR

CPU = torch.device("cpu")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the test machines share their cores
    yield
    torch.set_num_threads(before)


# -------------------------------------------------------------------------------------------------- models

MODEL_CASES = list(itertools.product(list_models(), DATASETS))


@pytest.fixture(scope="module", params=MODEL_CASES, ids=[f"{m}-{d}" for m, d in MODEL_CASES])
def model_case(request):
    """(model in eval mode, a batch of two images of the data set's size and channels, data set info)."""
    name, dataset = request.param
    info = DATASETS[dataset]
    torch.manual_seed(0)
    model = create_model(name, info.num_classes, info.channels).eval()
    images = torch.randn(2, info.channels, info.image_size, info.image_size)
    return model, images, info


def test_the_static_description_matches_the_registry():
    """The config's model choices are read from the source without importing it; they must be the registry."""
    assert describe_models() == {name: display_name(name) for name in list_models()}
    names = list(describe_models().values())
    assert all(names) and len(set(names)) == len(names), names


def test_forward_gives_one_logit_per_class(model_case, record_property):
    model, images, info = model_case
    with torch.no_grad():
        logits = model(images)
    assert logits.shape == (2, info.num_classes)
    assert torch.isfinite(logits).all()
    parameters = sum(p.numel() for p in model.parameters())
    record_property("parameters", parameters)
    print(f"{type(model).__name__} for {info.name}: {parameters:,} parameters")
    assert parameters > 0


def _modules_in_call_order(model: nn.Module, modules: list[nn.Module], images: torch.Tensor) -> list[int]:
    """Positions (in ``modules``) of the modules whose forward finished, in the order they finished."""
    fired: list[int] = []
    handles = [m.register_forward_hook(lambda *_, k=k: fired.append(k)) for k, m in enumerate(modules)]
    try:
        with torch.no_grad():
            model(images)
    finally:
        for handle in handles:
            handle.remove()
    return fired


def test_layer_groups_are_unique_and_run_once_each_in_forward_order(model_case):
    model, images, _ = model_case
    groups = model.layer_groups()
    names = [name for name, _ in groups]
    assert groups and len(set(names)) == len(names), f"layer group names repeat: {names}"
    fired = _modules_in_call_order(model, [module for _, module in groups], images)
    assert [names[k] for k in fired] == names, "each group must run exactly once per forward, in list order"


def test_the_features_are_the_input_of_the_final_linear_layer(model_case):
    model, images, _ = model_case
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    head = linears[_modules_in_call_order(model, linears, images)[-1]]
    seen: dict[str, torch.Tensor] = {}
    hooks = [
        model.feature_module().register_forward_hook(lambda m, i, o: seen.update(features=o)),
        head.register_forward_pre_hook(lambda m, i: seen.update(head_input=i[0])),
    ]
    try:
        with torch.no_grad():
            logits = model(images)
            features = torch.flatten(seen["features"], 1)
            assert torch.equal(features, seen["head_input"]), "feature_module() is not what the head reads"
            torch.testing.assert_close(head(features), logits)
    finally:
        for hook in hooks:
            hook.remove()


def test_channels_last_gives_the_same_logits_and_trains(model_case):
    model, images, _ = model_case
    fast = copy.deepcopy(model).to(memory_format=torch.channels_last)
    fast_images = images.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        torch.testing.assert_close(fast(fast_images), model(images), rtol=1e-4, atol=1e-5)
    fast.train()
    fast(fast_images).logsumexp(1).mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in fast.parameters())


# ------------------------------------------------------------------------------------------------- methods

METHOD_PATHS = [spec.path for spec in discover(METHODS_DIR).values()] + [METHODS_DIR / "_template.py"]
FORGET_CLASS = 1
IMAGES_PER_CLASS = 8


@pytest.fixture(scope="module", params=METHOD_PATHS, ids=[p.stem for p in METHOD_PATHS])
def method(request):
    """The method module, imported (a failure to import fails the tests that use it, with the error)."""
    spec = load_method(request.param)
    assert spec.ok, spec.error
    return spec


def test_the_declarations_are_complete_and_read_statically(method):
    described = describe_method(method.path)
    assert described.ok, described.error
    statically = (described.name, described.defaults, described.hyperparameters)
    assert statically == (method.name, method.defaults, method.hyperparameters), (
        "the planner reads other declarations than the import finds"
    )
    assert isinstance(method.name, str) and method.name.strip()
    assert set(GRID_KEYS) <= set(method.defaults), f"DEFAULTS lacks {set(GRID_KEYS) - set(method.defaults)}"


def test_every_hyperparameter_default_satisfies_its_own_schema(method):
    for key, fragment in method.hyperparameters.items():
        schema = {k: v for k, v in fragment.items() if k != "default"}
        jsonschema.Draft202012Validator.check_schema(schema)
        assert jsonschema.Draft202012Validator(schema).is_valid(fragment["default"]), (
            f"{key}: the default {fragment['default']!r} breaks its own schema {schema}"
        )


@pytest.fixture(scope="module")
def tiny_problem(fmnist_small):
    """The first few training images of each class and a compact ResNet (untrained: any weights do)."""
    train = fmnist_small.train
    firsts = [(train.labels == c).nonzero().flatten()[:IMAGES_PER_CLASS] for c in range(10)]
    small = train.select(torch.cat(firsts))
    data = ImageDataset(fmnist_small.info, small, Split(small.images, small.labels, small.indices), "test")
    torch.manual_seed(0)
    return data, create_model("compact_resnet", data.info.num_classes, data.info.channels)


def test_unlearn_returns_a_finite_model_of_the_same_architecture(method, tiny_problem):
    data, base = tiny_problem
    # the module's small-problem settings (defaults sized for 50,000 images can take minutes here), at
    # one epoch of batches of 8 on an untrained network: any weights must do
    hp = method.with_defaults({**method.test_settings, "epochs": 1, "batch_size": 8})
    task = make_task(base, data, FORGET_CLASS, hp, CPU, seed=0, log=lambda _: None)
    outcome = run_method(method, task)
    assert outcome.status == "ok", outcome.error
    assert type(outcome.model) is type(base)
    shapes = {k: v.shape for k, v in outcome.model.state_dict().items()}
    assert shapes == {k: v.shape for k, v in base.state_dict().items()}
    assert all_finite(outcome.model)
    assert outcome.seconds > 0, "the unlearning loop must run inside `with task.timer:` (the run's RTE)"


def test_a_task_lacking_a_declared_hyperparameter_fails_naming_it(method, tiny_problem):
    data, base = tiny_problem
    last = method.declared_keys()[-1]
    hp = {k: v for k, v in method.with_defaults().items() if k != last}
    outcome = run_method(method, make_task(base, data, FORGET_CLASS, hp, CPU, seed=0, log=lambda _: None))
    assert outcome.status == "failed" and repr(last) in outcome.error


def test_the_own_basic_block_equals_torchvisions(monkeypatch):
    """models/blocks.py replaces torchvision's BasicBlock (whose import costs every job ~1.5 s): the same
    seed must give the same weights, state_dict keys and outputs as the network built on torchvision's."""
    from torchvision.models.resnet import BasicBlock as TorchvisionBlock

    from unlearning_comparator.models import compact_resnet as module

    torch.manual_seed(0)
    ours = module.CompactResNet(10, 1).eval()
    monkeypatch.setattr(module, "BasicBlock", TorchvisionBlock)
    torch.manual_seed(0)
    theirs = module.CompactResNet(10, 1).eval()
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b)
    assert all(torch.equal(a[k], b[k]) for k in a)
    x = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))


def test_a_job_imports_no_torchvision():
    """Importing torchvision costs ~1.5 s (it pulls in torch._dynamo); jobs need it only to download."""
    import subprocess
    import sys

    code = (
        "import sys; import unlearning_comparator.cli, unlearning_comparator.jobs.unlearn, "
        "unlearning_comparator.jobs.evaluate, unlearning_comparator.jobs.train; "
        "from unlearning_comparator.models import create_model; create_model('compact_resnet', 10, 1); "
        "print('torchvision' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

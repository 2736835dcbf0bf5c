"""The one-pass evaluation is wired to the right modules and the right images.

``evaluation.forward_pass`` runs every image once through a copy of the model with its BatchNorms
folded into the convolutions, and hooks the layer groups (Gram matrices of the CKA batches) and the
feature module (penultimate features of the evaluation subset). Everything it returns is compared
here with what a plain ``model.eval()`` forward gives, with hooks written in this file on
``model.get_submodule(name)`` for each layer-group name and a forward *pre*-hook on the final
Linear layer for the features — nothing of the evaluation module is reused for the expected values.

Tolerances: the evaluation folds BatchNorm into the preceding convolution (W·s, (b − μ)·s + β
instead of conv then BN), which changes float32 rounding only, about 1e-7 relative per operation,
accumulated over ~15 layers. We measured at most 6e-7 relative to the largest magnitude of the
compared array (logits, features and every layer's Gram matrix) and allow 1e-5, still five orders
of magnitude below what a wrong module, a wrong image or a wrong order changes (O(1) relative).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from unlearning_comparator.data import ImageDataset, normalize
from unlearning_comparator.data.subsets import CkaPool
from unlearning_comparator.evaluation import EvaluationPlan, forward_pass
from unlearning_comparator.models import create_model

REL_TOL = 1e-5


def _close(actual, expected, what: str) -> None:
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, expected {expected.shape}"
    scale = max(np.abs(expected).max(), 1e-12)
    err = np.abs(actual - expected).max()
    assert err <= REL_TOL * scale, f"{what}: max |difference| {err:.3g} exceeds {REL_TOL} x {scale:.3g}"


@pytest.fixture(scope="module")
def small(fmnist_small):
    """40 training and 20 test images per class of the real data (fewer images: a faster pass)."""

    def firsts(labels, k):
        return torch.cat([(labels == c).nonzero().flatten()[:k] for c in range(10)]).sort().values

    data = fmnist_small
    return ImageDataset(
        data.info,
        data.train.select(firsts(data.train.labels, 40)),
        data.test.select(firsts(data.test.labels, 20)),
        data.source,
    )


@pytest.fixture(scope="module")
def model():
    """A compact ResNet with random weights and random BatchNorm statistics and affine parameters,
    so that folding BatchNorm is not the identity it is for freshly initialised layers."""
    torch.manual_seed(123)
    net = create_model("compact_resnet", 10, 1)
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(0.3 * torch.randn(n, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(n, generator=gen))
                m.weight.copy_(0.7 + 0.6 * torch.rand(n, generator=gen))
                m.bias.copy_(0.2 * torch.randn(n, generator=gen))
    return net.eval()


def _pool(labels: torch.Tensor, positions_per_batch: list[torch.Tensor]) -> CkaPool:
    positions = torch.cat(positions_per_batch)
    batch = torch.cat(
        [torch.full((len(p),), k, dtype=torch.int64) for k, p in enumerate(positions_per_batch)]
    )
    return CkaPool(positions, labels[positions], batch)


@pytest.fixture(scope="module")
def plan(small):
    """A subset in a scrambled (not sorted) order and CKA batches of mixed classes, built by hand."""
    gen = torch.Generator().manual_seed(3)
    subset = torch.randperm(len(small.train), generator=gen)[:57]
    pools = {}
    for name, split in (("train", small.train), ("test", small.test)):
        batches = []
        for k in range(2):  # batch k: the images 5k..5k+4 of every class, classes interleaved
            per_class = [(split.labels == c).nonzero().flatten()[5 * k : 5 * k + 5] for c in range(10)]
            batches.append(torch.stack(per_class, 1).flatten())
        pools[name] = _pool(split.labels, batches)
    return EvaluationPlan(subset, pools)


@pytest.fixture(scope="module")
def outputs(model, small, plan):
    return forward_pass(model, small, plan, batch_size=64)


class PlainHooks:
    """Outputs of the named layer groups and the input of the final Linear layer, from the plain model."""

    def __init__(self, model):
        self.names = [name for name, _ in model.layer_groups()]
        self.outputs: dict[str, torch.Tensor] = {}
        self.head_input = None
        self.handles = []
        for name in self.names:
            module = model.get_submodule(name)
            self.handles.append(module.register_forward_hook(self._keep(name)))
        self.head = model.get_submodule("fc")
        assert isinstance(self.head, nn.Linear)
        self.handles.append(self.head.register_forward_pre_hook(self._keep_input))

    def _keep(self, name):
        def hook(module, inputs, output):
            self.outputs[name] = output.detach().clone()

        return hook

    def _keep_input(self, module, inputs):
        self.head_input = inputs[0].detach().clone()

    def close(self):
        for h in self.handles:
            h.remove()


def _plain(model, images, info):
    hooks = PlainHooks(model)
    try:
        with torch.no_grad():
            logits = model(normalize(images, info))
    finally:
        hooks.close()
    return logits, hooks


def test_logits_equal_a_plain_forward_in_split_order(model, small, outputs):
    model.eval()
    for name, split in (("train", small.train), ("test", small.test)):
        logits, _ = _plain(model, split.images, small.info)
        got = outputs.logits[name]
        assert got.dtype == torch.float32
        _close(got.numpy(), logits.numpy(), f"{name} logits")
        # the right image in every row: argmax agrees wherever the top two logits are clearly apart
        top2 = torch.topk(logits, 2, dim=1).values
        clear = (top2[:, 0] - top2[:, 1]) > 1e-3 * top2.abs().max()
        assert torch.equal(got.argmax(1)[clear], logits.argmax(1)[clear])


def test_features_are_the_head_input_of_the_subset_in_subset_order(model, small, plan, outputs):
    images = small.train.images[plan.subset_positions]
    logits, hooks = _plain(model, images, small.info)
    features = hooks.head_input
    assert features.ndim == 2 and features.shape[1] == model.get_submodule("fc").in_features
    _close(outputs.features.numpy(), features.numpy(), "penultimate features (row i = subset position i)")
    # and the head maps them to the logits
    with torch.no_grad():
        head = model.get_submodule("fc")(outputs.features)
    _close(head.numpy(), logits.numpy(), "head(features) against the plain logits")
    # row i belongs to image subset_positions[i], not to the i-th image of the sorted subset
    sorted_images = small.train.images[plan.subset_positions.sort().values]
    _, sorted_hooks = _plain(model, sorted_images, small.info)
    assert not np.allclose(outputs.features.numpy(), sorted_hooks.head_input.numpy(), rtol=1e-2, atol=1e-3)


def test_gram_matrices_are_those_of_the_named_modules(model, small, plan, outputs):
    names = [name for name, _ in model.layer_groups()]
    assert outputs.layers == names
    for split_name, split in (("train", small.train), ("test", small.test)):
        pool = plan.cka_pools[split_name]
        assert len(outputs.grams[split_name]) == pool.num_batches == 2
        for k in range(pool.num_batches):
            positions = pool.positions[pool.batch == k]
            _, hooks = _plain(model, split.images[positions], small.info)
            got = outputs.grams[split_name][k]
            assert list(got) == names
            for name in names:
                x = hooks.outputs[name].reshape(len(positions), -1).double()
                _close(got[name].numpy(), (x @ x.T).numpy(), f"Gram of {name!r}, {split_name} batch {k}")


def test_gram_matrices_of_different_layers_differ(model, small, plan, outputs):
    """Guards the previous test's power: each layer's Gram is far from every other layer's."""
    grams = outputs.grams["train"][0]
    names = list(grams)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            ga, gb = grams[a].double().numpy(), grams[b].double().numpy()
            ga, gb = ga / np.abs(ga).max(), gb / np.abs(gb).max()
            assert np.abs(ga - gb).max() > 100 * REL_TOL, (a, b)


class _BatchNormsOutOfOrder(nn.Module):
    """A network whose BatchNorms are registered in another order than they run: folding by registration
    order would pair ``bn_second`` with ``conv_first``."""

    def __init__(self):
        super().__init__()
        self.conv_first = nn.Conv2d(1, 4, 3, padding=1)
        self.bn_second = nn.BatchNorm2d(4)
        self.conv_second = nn.Conv2d(4, 4, 3, padding=1)
        self.bn_first = nn.BatchNorm2d(4)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 10)

    def forward(self, x):
        x = torch.relu(self.bn_first(self.conv_first(x)))
        x = torch.relu(self.bn_second(self.conv_second(x)))
        return self.fc(torch.flatten(self.pool(x), 1))

    def layer_groups(self):
        return [("pool", self.pool)]

    def feature_module(self):
        return self.pool


def test_a_model_that_folding_would_break_is_evaluated_unfolded(small):
    from unlearning_comparator.evaluation import inference_copy

    torch.manual_seed(0)
    net = _BatchNormsOutOfOrder()
    with torch.no_grad():
        for bn in (net.bn_first, net.bn_second):
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
    net.eval()
    probe = normalize(small.train.images[:16], small.info)
    expected = net(probe)
    assert (inference_copy(net)(probe) - expected).abs().max() > 1e-2  # folding alone gets it wrong
    _close(inference_copy(net, probe=probe)(probe).detach(), expected.detach(), "logits with the probe")

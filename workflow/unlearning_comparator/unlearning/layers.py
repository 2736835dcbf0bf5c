"""The last k layer groups of a network: the part that CF-k fine-tunes and EU-k re-initialises and retrains.

A network's layer groups are those its :meth:`~unlearning_comparator.models.ClassifierNet.layer_groups`
names, in depth order (compact ResNet: stem, layer1-4, fc; ResNet-18: conv1, the eight basic blocks, fc).
"The last k groups" are the k deepest ones, so the classifier head is always among them (as in Goel et
al., who count layers from the output).

Everything else is *frozen*: modules outside the last k groups keep their parameters *and* buffers
bit-identical. Inside :func:`train_only` their parameters do not require gradients (so backpropagation
stops at the first trained group) and they are in eval mode, so that their BatchNorm layers normalise
with their stored running statistics and do not update them. The trained groups are in train mode.
A module that belongs to no group (ResNet-18's ``bn1`` after its ``conv1``) counts as frozen.

Re-initialisation draws from a given generator (the task's), with one of two schemes: the registered
models' constructors' (EU-k, Bad Teacher's incompetent teacher) or PyTorch's default one (the original
Comparator's hybrids, GA+FT and GA+SL+FT). :func:`train_last_groups` is CF-k's and EU-k's loop.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ..device import autocast
from ..models import ClassifierNet
from .api import UnlearningTask
from .toolkit import sgd, step

_NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)
SCHEMES = ("constructor", "pytorch")  # see reinitialise_layer


def last_groups(model: ClassifierNet, k: int) -> list[tuple[str, nn.Module]]:
    """The ``k`` deepest of ``model``'s layer groups, in depth order."""
    groups = model.layer_groups()
    if not 1 <= int(k) <= len(groups):
        names = ", ".join(name for name, _ in groups)
        raise ValueError(f"k = {k}: {type(model).__name__} has {len(groups)} layer groups ({names})")
    return groups[len(groups) - int(k) :]


def group_parameters(groups: list[tuple[str, nn.Module]]) -> list[nn.Parameter]:
    """The parameters of ``groups``, each once, in module order."""
    seen: set[int] = set()
    params = []
    for _, module in groups:
        for p in module.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                params.append(p)
    return params


def group_state_keys(model: nn.Module, groups: list[tuple[str, nn.Module]]) -> set[str]:
    """The ``model.state_dict()`` keys (parameters and buffers) that belong to ``groups``."""
    path = {id(m): name for name, m in model.named_modules()}
    prefixes = [f"{path[id(module)]}." for _, module in groups]
    return {key for key in model.state_dict() if any(key.startswith(p) for p in prefixes)}


@contextlib.contextmanager
def train_only(model: nn.Module, groups: list[tuple[str, nn.Module]]) -> Iterator[list[nn.Parameter]]:
    """Inside the block, only ``groups`` train: their parameters (yielded) require gradients and they are
    in train mode; every other module is in eval mode (frozen BatchNorm statistics) with its parameters
    excluded from autograd. On exit every parameter requires gradients again and the model is in eval
    mode."""
    trainable = group_parameters(groups)
    ids = {id(p) for p in trainable}
    for p in model.parameters():
        p.requires_grad_(id(p) in ids)
    model.eval()
    for _, module in groups:
        module.train()
    try:
        yield trainable
    finally:
        for p in model.parameters():
            p.requires_grad_(True)
        model.eval()


def _draw(shape: torch.Size, like: torch.Tensor, generator: torch.Generator, uniform_bound: float | None):
    """A CPU draw from ``generator`` (N(0, 1), or U(−b, b) if ``uniform_bound`` is b), moved like ``like``."""
    if uniform_bound is None:
        values = torch.randn(shape, generator=generator)
    else:
        values = (torch.rand(shape, generator=generator) * 2.0 - 1.0) * uniform_bound
    return values.to(device=like.device, dtype=like.dtype)


@torch.no_grad()
def reinitialise_layer(module: nn.Module, generator: torch.Generator, scheme: str = "constructor") -> None:
    """Fresh values for one layer's own parameters and buffers, drawn from ``generator``.

    ``scheme="constructor"``: the scheme of the registered models' constructors: convolutions
    Kaiming-normal weights (mode fan_out, ReLU gain √2; torchvision's ResNet and the compact ResNet) and
    zero biases; linear layers PyTorch's default U(−1/√fan_in, 1/√fan_in) for weights and biases.

    ``scheme="pytorch"``: PyTorch's default initialisation (the layers' ``reset_parameters()``, as the
    original Comparator's hybrids re-initialise): convolution and linear weights and biases alike
    U(−1/√fan_in, 1/√fan_in) (``kaiming_uniform_(a=√5)`` and the bias rule give the same bound).

    Both: normalisation layers weight 1, bias 0 and fresh running statistics (mean 0, variance 1, no
    batches tracked). Weights are drawn before biases, layer by layer.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown re-initialisation scheme {scheme!r} (known: {', '.join(SCHEMES)})")
    if scheme == "pytorch" and isinstance(module, (nn.modules.conv._ConvNd, nn.Linear)):
        bound = 1.0 / math.sqrt(module.weight[0].numel())
        module.weight.copy_(_draw(module.weight.shape, module.weight, generator, bound))
        if module.bias is not None:
            module.bias.copy_(_draw(module.bias.shape, module.bias, generator, bound))
    elif isinstance(module, nn.modules.conv._ConvNd):
        weight = module.weight
        fan_out = weight.shape[0] * weight[0][0].numel()
        weight.copy_(_draw(weight.shape, weight, generator, None) * (2.0 / fan_out) ** 0.5)
        if module.bias is not None:
            module.bias.zero_()
    elif isinstance(module, nn.Linear):
        bound = 1.0 / module.in_features**0.5
        module.weight.copy_(_draw(module.weight.shape, module.weight, generator, bound))
        if module.bias is not None:
            module.bias.copy_(_draw(module.bias.shape, module.bias, generator, bound))
    elif isinstance(module, _NORMS):
        if getattr(module, "weight", None) is not None:
            module.weight.fill_(1.0)
        if getattr(module, "bias", None) is not None:
            module.bias.zero_()
        if hasattr(module, "reset_running_stats"):
            module.reset_running_stats()
    elif any(True for _ in module.parameters(recurse=False)):
        raise TypeError(
            f"cannot re-initialise a {type(module).__name__} layer with the task's generator "
            "(known: convolutions, linear and normalisation layers)"
        )


def reinitialise(
    groups: list[tuple[str, nn.Module]], generator: torch.Generator, scheme: str = "constructor"
) -> None:
    """Re-initialise every layer of ``groups`` (in depth order, so a seed gives the same weights)."""
    for _, group in groups:
        for module in group.modules():
            reinitialise_layer(module, generator, scheme)


def reinitialise_last_groups(model: ClassifierNet, k: int, generator: torch.Generator) -> list[str]:
    """The original Comparator's hybrids' re-initialisation (GA+FT, GA+SL+FT; its layer_utils): the last
    ``k`` of ``model.layer_groups()`` (none for k = 0, all of them if k exceeds their number) get
    PyTorch's default initialisation (``scheme="pytorch"``); returns their names."""
    groups = model.layer_groups()[-k:] if k > 0 else []
    reinitialise(groups, generator, scheme="pytorch")
    return [name for name, _ in groups]


def train_last_groups(task: UnlearningTask, k: int, reinitialised: bool) -> ClassifierNet:
    """CF-k's and EU-k's loop: only the last ``k`` layer groups train (:func:`train_only`), on the
    retain set, for ``hp["epochs"]`` passes over shuffled mini-batches of ``hp["batch_size"]`` with the
    cross-entropy loss and SGD(``hp["lr"]``) with the toolkit's momentum and weight decay, constant rate.
    With ``reinitialised`` (EU-k) the groups are first re-initialised with the constructors' scheme
    (inside the timer); without (CF-k) they start from the base model's weights. Returns the model."""
    model, hp = task.model, task.hp
    groups = last_groups(model, k)
    with train_only(model, groups) as trainable:
        optimizer = sgd(trainable, lr=hp["lr"])
        with task.timer:
            if reinitialised:
                reinitialise(groups, task.generator)
            for _ in range(hp["epochs"]):
                for x, y in task.batches(task.retain, hp["batch_size"]):
                    with autocast(task.device):
                        loss = F.cross_entropy(model(x), y)
                    step(optimizer, loss)
    return model


__all__ = [
    "SCHEMES",
    "group_parameters",
    "group_state_keys",
    "last_groups",
    "reinitialise",
    "reinitialise_last_groups",
    "reinitialise_layer",
    "train_last_groups",
    "train_only",
]

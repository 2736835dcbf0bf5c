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
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from ..models import ClassifierNet

_NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


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
def reinitialise_layer(module: nn.Module, generator: torch.Generator) -> None:
    """Fresh values for one layer's own parameters and buffers, drawn from ``generator``.

    The scheme of the registered models' constructors: convolutions Kaiming-normal weights (mode
    fan_out, ReLU gain √2; torchvision's ResNet and the compact ResNet) and zero biases; linear layers
    PyTorch's default U(−1/√fan_in, 1/√fan_in) for weights and biases; normalisation layers weight 1,
    bias 0 and fresh running statistics (mean 0, variance 1, no batches tracked).
    """
    if isinstance(module, nn.modules.conv._ConvNd):
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


def reinitialise(groups: list[tuple[str, nn.Module]], generator: torch.Generator) -> None:
    """Re-initialise every layer of ``groups`` (in depth order, so a seed gives the same weights)."""
    for _, group in groups:
        for module in group.modules():
            reinitialise_layer(module, generator)


__all__ = [
    "group_parameters",
    "group_state_keys",
    "last_groups",
    "reinitialise",
    "reinitialise_layer",
    "train_only",
]

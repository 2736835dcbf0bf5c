"""What every network in the registry offers beyond ``forward``."""

from __future__ import annotations

from torch import nn


class ClassifierNet(nn.Module):
    """An image classifier that names its layer groups and its penultimate-feature module."""

    def layer_groups(self) -> list[tuple[str, nn.Module]]:
        """(name, module) pairs in depth order; each module's output is one group's activation."""
        raise NotImplementedError

    def feature_module(self) -> nn.Module:
        """The module whose (flattened) output is the penultimate feature vector."""
        raise NotImplementedError

"""The CIFAR-style ResNet-18 of the original Comparator (its ``backend/app/models/resnet.py`` at commit
0e3ce99d; docs/the-original-comparator.md §2.1).

torchvision's ResNet-18 with a 3x3, stride-1 first convolution (taking the data set's channels),
no max-pooling and a ``num_classes`` head: ~11.17 M parameters for CIFAR-10. Parameter names are
torchvision's, so state_dicts trained elsewhere with the same recipe load unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from . import register_model
from .base import ClassifierNet


class CifarResNet18(ClassifierNet):
    def __init__(self, num_classes: int, in_channels: int):
        super().__init__()
        # imported here: torchvision's import costs ~1.5 s, which jobs using other models need not pay
        from torchvision.models import resnet18 as tv_resnet18

        net = tv_resnet18(weights=None, num_classes=num_classes)
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
        # Keep torchvision's attribute names so state_dict keys match theirs (conv1.weight, layer1.0..., fc).
        for name, module in net.named_children():
            self.add_module(name, module)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))

    def layer_groups(self) -> list[tuple[str, nn.Module]]:
        # The ten groups the original compares by CKA (docs/the-original-comparator.md §2.2): conv1,
        # each basic block, fc.
        groups: list[tuple[str, nn.Module]] = [("conv1", self.conv1)]
        for stage in ("layer1", "layer2", "layer3", "layer4"):
            for i, block in enumerate(getattr(self, stage)):
                groups.append((f"{stage}.{i}", block))
        groups.append(("fc", self.fc))
        return groups

    def feature_module(self) -> nn.Module:
        return self.avgpool


@register_model(display_name="ResNet-18")
def resnet18(num_classes: int, in_channels: int) -> ClassifierNet:
    return CifarResNet18(num_classes, in_channels)

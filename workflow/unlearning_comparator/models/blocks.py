"""The residual basic block (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016).

Written here rather than imported from torchvision: importing anything from torchvision imports its
detection ops and, with them, torch._dynamo — about 1.5 s per job on a CPU, paid by every job of a
workflow run. Same attribute names (conv1, bn1, conv2, bn2, downsample), same construction order and
therefore the same random draws and state_dict keys as ``torchvision.models.resnet.BasicBlock``
(tests/test_registry.py checks both).
"""

from __future__ import annotations

import torch
from torch import nn


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)

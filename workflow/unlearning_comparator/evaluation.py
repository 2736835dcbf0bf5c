"""One forward pass per image set per model: logits, penultimate features and CKA Gram matrices together.

Each split is passed through the model exactly once. The CKA pool's mixed mini-batches go first, as
forward batches of their own, with hooks on the layer groups that turn each group's activations into
the batch's Gram matrix on the spot (activations are never kept); the remaining images follow in
plain batches. A hook on the feature module keeps the penultimate features of the evaluation subset.

The pass runs in the config's ``evaluation.precision`` (:func:`.device.evaluation_precision`): IEEE
float32 by default, or bfloat16 autocast. Either way the Gram matrices are formed from the activations
in float32 or float64 (:func:`.metrics.cka.gram`), outside autocast.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass, field

import torch
from torch import nn

from .data import ImageDataset, normalize
from .data.subsets import CkaPool
from .device import evaluation_precision
from .models import ClassifierNet


@dataclass
class EvaluationPlan:
    """Which images need more than logits: the evaluation subset (features) and the CKA pools (Grams)."""

    subset_positions: torch.Tensor  # positions in the training split
    cka_pools: dict[str, CkaPool]  # by split name


@dataclass
class ModelOutputs:
    logits: dict[str, torch.Tensor]  # split -> float32 (N, C), on the CPU, in split order
    features: torch.Tensor  # float32 (n_subset, D): penultimate features of the subset, in subset order
    grams: dict[str, list[dict[str, torch.Tensor]]] = field(
        default_factory=dict
    )  # split -> batches -> layer -> (n, n)
    layers: list[str] = field(default_factory=list)


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """Fold an eval-mode BatchNorm into the convolution before it (same outputs, one op fewer)."""
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(bn.running_mean)
    conv.weight = nn.Parameter(conv.weight.detach() * scale.view(-1, 1, 1, 1))
    conv.bias = nn.Parameter((bias - bn.running_mean) * scale + bn.bias.detach())


def inference_copy(model: ClassifierNet, probe: torch.Tensor | None = None) -> ClassifierNet:
    """A copy of ``model`` with every BatchNorm folded into its convolution, for evaluation.

    BatchNorm is a fifth of an evaluation pass on the CPU. A convolution whose own output is a
    layer group (ResNet-18's ``conv1``) keeps its BatchNorm, so every hooked activation is unchanged.
    Folding pairs each BatchNorm with the convolution registered just before it, which is the order
    they run in for every model of the registry; for a model where it is not, the folded copy would
    compute something else. Given ``probe`` (a few normalised images), the copy is checked against the
    model on them, in float32, and an unfolded copy is returned if their logits differ.
    """
    folded = copy.deepcopy(model).eval()
    observed = {id(m) for _, m in folded.layer_groups()}
    for parent in folded.modules():
        children = list(parent.named_children())
        for (_, conv), (bn_name, bn) in zip(children, children[1:]):
            if (
                isinstance(conv, nn.Conv2d)
                and isinstance(bn, nn.BatchNorm2d)
                and id(conv) not in observed
                and bn.track_running_stats
                and bn.affine
            ):
                _fold(conv, bn)
                setattr(parent, bn_name, nn.Identity())
    if probe is not None and not _same_logits(model, folded, probe):
        return copy.deepcopy(model).eval()
    return folded


def _same_logits(model: nn.Module, folded: nn.Module, probe: torch.Tensor) -> bool:
    """Whether two models give the same float32 logits on ``probe`` (up to float32 rounding)."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), evaluation_precision(probe.device, "float32"):
            expected, got = model(probe).float(), folded(probe).float()
    finally:
        model.train(was_training)
    scale = expected.abs().max().clamp_min(1.0)
    return bool(((expected - got).abs().max() <= 1e-4 * scale).item())


class _Capture:
    """Forward hooks: Gram matrices of the layer groups (when on) and the penultimate features (always)."""

    def __init__(self, model: ClassifierNet):
        from .metrics.cka import gram

        self._gram = gram
        self.grams_on = False
        self.grams: dict[str, torch.Tensor] = {}
        self.features: torch.Tensor | None = None
        self.handles = [m.register_forward_hook(self._group_hook(name)) for name, m in model.layer_groups()]
        self.handles.append(model.feature_module().register_forward_hook(self._feature_hook))

    def _group_hook(self, name: str):
        def hook(module, inputs, output):
            if self.grams_on:
                # outside autocast: on the CPU it would turn the Gram's float32 matmul into bfloat16
                with torch.autocast(output.device.type, enabled=False):
                    self.grams[name] = self._gram(output)

        return hook

    def _feature_hook(self, module, inputs, output):
        self.features = torch.flatten(output, 1)

    def close(self) -> None:
        for handle in self.handles:
            handle.remove()


@torch.inference_mode()
def forward_pass(
    model: ClassifierNet,
    data: ImageDataset,
    plan: EvaluationPlan,
    batch_size: int,
    with_grams: bool = True,
    precision: str = "float32",
) -> ModelOutputs:
    """Run every image of ``data`` (on the model's device) through ``model`` once; see the module doc.

    ``precision`` is ``evaluation.precision`` (float32 or bf16). Results stay on the device until the
    pass is over (no per-batch synchronisation), then move to the CPU.
    """
    model = inference_copy(model, probe=normalize(data.train.images[:16], data.info))
    logits: dict[str, torch.Tensor] = {}
    grams: dict[str, list[dict[str, torch.Tensor]]] = {}
    train_features: torch.Tensor | None = None
    model_device = next(model.parameters()).device
    with contextlib.closing(_Capture(model)) as capture, evaluation_precision(model_device, precision):
        for split_name, split in (("train", data.train), ("test", data.test)):
            device = split.labels.device
            n = len(split)
            out = torch.empty((n, data.info.num_classes), dtype=torch.float32, device=device)
            pool = plan.cka_pools.get(split_name)
            batches: list[tuple[torch.Tensor, bool]] = []
            covered = torch.zeros(n, dtype=torch.bool)
            if pool is not None and with_grams:
                for k in range(pool.num_batches):
                    positions = pool.positions[pool.batch == k]
                    batches.append((positions, True))
                    covered[positions] = True
            rest = (~covered).nonzero().flatten()
            batches += [(rest[i : i + batch_size], False) for i in range(0, len(rest), batch_size)]
            grams[split_name] = []
            for positions, is_cka in batches:
                capture.grams_on = is_cka
                capture.grams = {}
                positions = positions.to(device, non_blocking=True)
                out[positions] = model(normalize(split.images[positions], data.info)).float()
                if is_cka:
                    grams[split_name].append(dict(capture.grams))
                if split_name == "train":
                    if train_features is None:
                        train_features = torch.empty(
                            (n, capture.features.shape[1]), dtype=torch.float32, device=device
                        )
                    train_features[positions] = capture.features.float()
            logits[split_name] = out.cpu()
            grams[split_name] = [{k: v.cpu() for k, v in batch.items()} for batch in grams[split_name]]
    if train_features is None:
        features = torch.empty((0, 0))
    else:
        features = train_features[plan.subset_positions.to(train_features.device)].cpu()
    return ModelOutputs(logits, features, grams, [name for name, _ in model.layer_groups()])


def time_plain_forward(
    model: ClassifierNet, data: ImageDataset, batch_size: int, precision: str = "float32"
) -> float:
    """Seconds of a bare forward pass over both splits (no hooks), in the evaluation's ``precision``:
    the baseline analysis costs are compared with."""
    import time

    from .device import synchronized

    model.eval()
    device = next(model.parameters()).device
    with evaluation_precision(device, precision), synchronized(device):
        start = time.perf_counter()
        for split in (data.train, data.test):
            for i in range(0, len(split), batch_size):
                model(normalize(split.images[i : i + batch_size], data.info))
    return time.perf_counter() - start

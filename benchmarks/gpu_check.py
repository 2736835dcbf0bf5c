"""Check the CUDA path end to end on a tiny experiment and measure GPU throughput.

    python benchmarks/gpu_check.py [--data-root resources/data] [--out gpu_check.json]

Runs, on the device the workflow would choose (CUDA when present), the stages of the workflow with
the project's own code: training the original and a retrained model, every built-in method, the
one-pass evaluation (logits, features, CKA Gram matrices), the similarity against the references and
the per-forget-class metrics. It prints images/s for training and evaluation (Fashion-MNIST with the
compact network; CIFAR-shaped synthetic images with ResNet-18, since CIFAR-10 may not be on the
machine), where the time goes, and checks that the same seed gives bit-identical weights on the GPU.
Needs torch, torchvision, numpy, pyarrow and scikit-learn (not Snakemake, UMAP or Bokeh).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "workflow"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from unlearning_comparator import device as devices  # noqa: E402
from unlearning_comparator.data import ImageDataset, Split, load_dataset  # noqa: E402
from unlearning_comparator.catalog import DATASETS  # noqa: E402
from unlearning_comparator.evaluation import forward_pass, time_plain_forward  # noqa: E402
from unlearning_comparator.jobs.common import evaluation_plan  # noqa: E402
from unlearning_comparator.metrics import accuracy as acc  # noqa: E402
from unlearning_comparator.metrics import mia, privacy  # noqa: E402
from unlearning_comparator.models import create_model  # noqa: E402
from unlearning_comparator.similarity import centered_blocks, cka_matrices, stack_grams  # noqa: E402
from unlearning_comparator.training import accuracy, train_classifier  # noqa: E402
from unlearning_comparator.unlearning.registry import discover  # noqa: E402
from unlearning_comparator.unlearning.runner import make_task, run_method  # noqa: E402

RECIPE = {"epochs": 2, "batch_size": 128, "lr": 0.2, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4,
          "schedule": "onecycle", "warmup_fraction": 0.25, "milestones": [80, 120], "gamma": 0.2, "augmentation": True}
ANALYSIS = {"subset_per_class": 200, "cka": {"train_per_class": None, "test_per_class": None, "batch_per_class": 50}}
METHOD_HP = {"ft": {"epochs": 1, "lr": 0.01, "batch_size": 128}, "ga": {"epochs": 3, "lr": 0.003, "batch_size": 256},
             "rl": {"epochs": 1, "lr": 0.01, "batch_size": 128}, "scrub": {"epochs": 1, "lr": 0.01, "batch_size": 128},
             "salun": {"epochs": 1, "lr": 0.01, "batch_size": 128}}


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device, fn):
    sync(device)
    start = time.perf_counter()
    out = fn()
    sync(device)
    return out, time.perf_counter() - start


def new_model(name, info, device):
    return create_model(name, info.num_classes, info.channels).to(device).to(memory_format=torch.channels_last)


def synthetic_cifar(n_train: int, n_test: int) -> ImageDataset:
    g = torch.Generator().manual_seed(0)

    def split(n):
        return Split(torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g),
                     torch.arange(n) % 10, torch.arange(n))

    return ImageDataset(DATASETS["cifar10"], split(n_train), split(n_test), "synthetic")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default=str(ROOT / "resources" / "data"))
    parser.add_argument("--out", default="gpu_check.json")
    parser.add_argument("--train-per-class", type=int, help="use only this many training images per class (a quick CPU try)")
    args = parser.parse_args()

    device = devices.select_device("auto")
    report: dict = {"device": devices.describe(device), "torch": torch.__version__, "python": platform.python_version(),
                    "cuda": torch.version.cuda, "stages": {}}
    print(f"device: {report['device']} (torch {torch.__version__}, CUDA {torch.version.cuda})", flush=True)
    stages = report["stages"]

    data, load_s = timed(device, lambda: load_dataset("fashion_mnist", root=args.data_root, train_per_class=args.train_per_class,
                                                        test_per_class=args.train_per_class).to(device))
    stages["load Fashion-MNIST to device"] = {"seconds": load_s}
    info, n_train = data.info, len(data.train)

    # ---- training the original (compact network) and a retrained model without class 0
    torch.manual_seed(0)
    original = new_model("compact_resnet", info, device)
    history, wall = timed(device, lambda: train_classifier(original, data.train, info, RECIPE, device, 0, log=lambda m: None))
    test_acc = accuracy(original, data.test, info)
    stages["train original (compact, 2 epochs, augmentation, bf16)"] = {
        "seconds": wall, "images_per_s": RECIPE["epochs"] * n_train / history.seconds, "test_accuracy": test_acc}
    fc = 0
    retain = data.train.select((data.train.labels != fc).nonzero().flatten())
    torch.manual_seed(0)
    retrained = new_model("compact_resnet", info, device)
    history, wall = timed(device, lambda: train_classifier(retrained, retain, info, RECIPE, device, 0, log=lambda m: None))
    stages["retrain without class 0"] = {"seconds": wall, "images_per_s": RECIPE["epochs"] * len(retain) / history.seconds}

    # ---- determinism on the device: the same seed twice gives bit-identical weights
    def train_small(seed):
        torch.manual_seed(seed)
        m = new_model("compact_resnet", info, device)
        train_classifier(m, data.train.select(torch.arange(min(5000, n_train), device=data.train.labels.device)), info,
                         {**RECIPE, "epochs": 1}, device, seed, log=lambda msg: None)
        return m.state_dict()

    a, b = train_small(1), train_small(1)
    report["training_is_deterministic"] = all(torch.equal(a[k], b[k]) for k in a)

    # ---- every built-in method
    methods = discover(ROOT / "methods", load=True)
    unlearned = {}
    for mid, hp in METHOD_HP.items():
        task = make_task(original, data, fc, {**hp, "seed": 0}, device, 0, log=lambda m: None)
        outcome, wall = timed(device, lambda: run_method(methods[mid], task))
        stages[f"unlearn {mid}"] = {"seconds": wall, "rte": outcome.seconds, "status": outcome.status, "error": outcome.error}
        if outcome.model is not None:
            unlearned[mid] = outcome.model

    # ---- one-pass evaluation and analyses
    per_class = min(200, args.train_per_class or 200)
    spec = {"seed": 0, "analysis": {**ANALYSIS, "subset_per_class": per_class}}
    plan = evaluation_plan(spec, data)
    plain = time_plain_forward(original, data, 1000)
    outputs = {}
    for name, model in [("original", original), ("retrained", retrained), *unlearned.items()]:
        out, wall = timed(device, lambda: forward_pass(model, data, plan, 1000))
        outputs[name] = out
        stages[f"evaluate {name} (one pass: logits, features, Grams)"] = {
            "seconds": wall, "images_per_s": (len(data.train) + len(data.test)) / wall, "ratio_to_plain_forward": wall / plain}
    stages["plain forward pass (both splits)"] = {"seconds": plain, "images_per_s": (len(data.train) + len(data.test)) / plain}

    refs = {k: centered_blocks(stack_grams(outputs[k].grams, outputs[k].layers), plan.cka_pools, fc)
            for k in ("original", "retrained")}
    labels_train, labels_test = data.train.labels.cpu().numpy(), data.test.labels.cpu().numpy()
    sets = mia.salun_mia_sets(labels_train, labels_test, fc)
    for name, out in outputs.items():
        _, sim_s = timed(device, lambda: [list(cka_matrices(refs[r], centered_blocks(stack_grams(out.grams, out.layers),
                                                                                       plan.cka_pools, fc))) for r in refs])
        train_logits, test_logits = out.logits["train"].numpy(), out.logits["test"].numpy()

        def metrics():
            tr = acc.per_class_accuracy(train_logits.argmax(1), labels_train, 10)
            te = acc.per_class_accuracy(test_logits.argmax(1), labels_test, 10)
            m = acc.forget_metrics(tr, te, fc)
            m["MIA_efficacy"] = mia.mia_efficacy(
                mia.true_class_confidence(train_logits[sets.members], labels_train[sets.members]),
                mia.true_class_confidence(test_logits[sets.nonmembers], labels_test[sets.nonmembers]),
                mia.true_class_confidence(train_logits[sets.target], labels_train[sets.target]))
            forget = labels_train == fc
            r_logits = outputs["retrained"].logits["train"].numpy()[forget]
            curves = privacy.threshold_sweep(privacy.confidence(train_logits[forget]), privacy.confidence(r_logits), -2.5, 10)
            m["PS_confidence_only"] = privacy.privacy_score(c["attack_score"] for c in curves.values())
            return m

        m, metric_s = timed(device, metrics)
        stages[f"analyze {name}"] = {"similarity_seconds": sim_s, "metrics_seconds": metric_s,
                                     **{k: round(float(v), 4) for k, v in m.items()}}

    # ---- ResNet-18 throughput on CIFAR-shaped images
    cifar = synthetic_cifar(10000 if device.type == "cuda" else 1000, 2000 if device.type == "cuda" else 200).to(device)
    torch.manual_seed(0)
    net = new_model("resnet18", cifar.info, device)
    history, wall = timed(device, lambda: train_classifier(net, cifar.train, cifar.info, {**RECIPE, "epochs": 1}, device, 0, log=lambda m: None))
    stages["ResNet-18 training (CIFAR-shaped, bf16)"] = {"seconds": wall, "images_per_s": len(cifar.train) / history.seconds}
    cplan = evaluation_plan({"seed": 0, "analysis": {**ANALYSIS, "subset_per_class": 50,
                                                      "cka": {"train_per_class": None, "test_per_class": None, "batch_per_class": 50}}}, cifar)
    cplain = time_plain_forward(net, cifar, 1000)
    _, wall = timed(device, lambda: forward_pass(net, cifar, cplan, 1000))
    n_images = len(cifar.train) + len(cifar.test)
    stages["ResNet-18 evaluation (one pass)"] = {"seconds": wall, "images_per_s": n_images / wall, "ratio_to_plain_forward": wall / cplain}
    stages["ResNet-18 plain forward"] = {"seconds": cplain, "images_per_s": n_images / cplain}
    if device.type == "cuda":
        report["max_memory_allocated_gb"] = torch.cuda.max_memory_allocated(device) / 1e9

    width = max(len(k) for k in stages)
    for name, values in stages.items():
        shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items() if v is not None)
        print(f"{name:<{width}}  {shown}")
    print(f"training deterministic on this device: {report['training_is_deterministic']}")
    Path(args.out).write_text(json.dumps(report, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())

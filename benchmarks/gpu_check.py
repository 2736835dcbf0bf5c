"""Check the CUDA path end to end on a small experiment and measure GPU throughput.

    python benchmarks/gpu_check.py [--data-root resources/data] [--out gpu_check.json] [--train-per-class N]
                                   [--precision float32|bf16]

Runs the workflow's own job entry points (the code the Snakemake rules call), in order, on the device
the workflow chooses (CUDA when present): subsets, the original model, a retrained model, every
built-in method, the one-pass evaluation of every model, the forget class's analysis and the tables.
It prints where the time goes and images/s for training and evaluation, checks that the same seed
gives bit-identical weights on the device, and measures ResNet-18 on CIFAR-shaped synthetic images
(CIFAR-10 itself may not be on the machine). Needs the project's dependencies except Snakemake and Bokeh.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "workflow"))

import torch  # noqa: E402

from unlearning_comparator import device as devices  # noqa: E402
from unlearning_comparator.catalog import DATASETS  # noqa: E402
from unlearning_comparator.checkpoints import load_state_dict  # noqa: E402
from unlearning_comparator.config import unlearning_runs, validate_config  # noqa: E402
from unlearning_comparator.data import ImageDataset, Split  # noqa: E402
from unlearning_comparator.evaluation import forward_pass, time_plain_forward  # noqa: E402
from unlearning_comparator.jobs import analyze, evaluate, subsets, tables, train, unlearn  # noqa: E402
from unlearning_comparator.jobs.common import evaluation_plan, load_data, new_model  # noqa: E402
from unlearning_comparator.tables import TABLES  # noqa: E402
from unlearning_comparator.training import train_classifier  # noqa: E402


def config(data_root: str, per_class: int | None) -> dict:
    return validate_config(
        {
            "name": "gpu-check",
            "dataset": "fashion_mnist",
            "model": "compact_resnet",
            "seed": 0,
            "forget_classes": [0],
            "data": {
                "root": data_root,
                "download": False,
                "train_per_class": per_class,
                "test_per_class": per_class,
            },
            "training": {
                "epochs": 2,
                "batch_size": 128,
                "lr": 0.2,
                "schedule": "onecycle",
                "augmentation": True,
            },
            "methods": {
                "ft": {"epochs": [1], "lr": [0.01], "batch_size": [128]},
                "ga": {"epochs": [3], "lr": [0.0003], "batch_size": [256]},
                "rl": {"epochs": [1], "lr": [0.01], "batch_size": [128]},
                "scrub": {"epochs": [1], "lr": [0.01], "batch_size": [128]},
                "salun": {"epochs": [1], "lr": [0.01], "batch_size": [128]},
            },
            "analysis": {"subset_per_class": min(200, per_class or 200)},
        },
        ROOT / "methods",
    )


def clocked(device, fn):
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return out, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-root", default=str(ROOT / "resources" / "data"))
    parser.add_argument("--out", default="gpu_check.json")
    parser.add_argument(
        "--train-per-class", type=int, help="only this many images per class (a quick CPU try)"
    )
    parser.add_argument(
        "--precision",
        choices=devices.EVALUATION_PRECISIONS,
        default="float32",
        help="evaluation.precision of the evaluation passes (default float32)",
    )
    args = parser.parse_args()
    cfg = config(args.data_root, args.train_per_class)
    device = devices.select_device("auto")
    report: dict = {
        "device": devices.describe(device),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "evaluation_precision": args.precision,
        "stages": {},
    }
    stages = report["stages"]
    print(
        f"device: {report['device']} (torch {torch.__version__}, CUDA {torch.version.cuda}); "
        f"evaluation precision {args.precision}",
        flush=True,
    )
    base = {k: cfg[k] for k in ("name", "dataset", "model", "seed", "device", "data")}
    work = Path(tempfile.mkdtemp(prefix="uc-gpu-check-"))
    fc = 0
    data = load_data(base)
    n_train, n_test = len(data.train), len(data.test)

    # ---- the workflow's jobs, in the order Snakemake runs them
    analysis = {"subset_per_class": cfg["analysis"]["subset_per_class"], "cka": cfg["analysis"]["cka"]}
    _, s = clocked(
        device,
        lambda: subsets.run({**base, "analysis": analysis}, work / "subset.arrow", work / "thumbnails.png"),
    )
    stages["subsets"] = {"seconds": s}
    models = {"original": (work / "original", None), "retrained": (work / "retrained", fc)}
    for name, (folder, forget) in models.items():
        _, s = clocked(
            device,
            lambda folder=folder, forget=forget: train.run(
                {**base, "training": cfg["training"]}, folder / "model.pt", folder / "info.json", forget
            ),
        )
        info = json.loads((folder / "info.json").read_text())
        seen = cfg["training"]["epochs"] * (n_train if forget is None else n_train - n_train // 10)
        stages[f"train {name} (2 epochs, augmentation, bf16 on CUDA)"] = {
            "seconds": s,
            "loop_seconds": info["training_seconds"],
            "images_per_s": seen / info["training_seconds"],
            "test_accuracy": info["test_accuracy"],
        }
    runs = [r for r in unlearning_runs(cfg, ROOT / "methods") if r.forget_class == fc]
    for r in runs:
        folder = work / r.method
        spec = {
            **base,
            "method": r.method,
            "method_path": r.module_path,
            "forget_class": fc,
            "hyperparameters": r.hp,
            "base": "fc0-original",
        }
        _, s = clocked(
            device,
            lambda spec=spec, folder=folder: unlearn.run(
                spec, work / "original" / "model.pt", folder / "model.pt", folder / "info.json"
            ),
        )
        info = json.loads((folder / "info.json").read_text())
        stages[f"unlearn {r.method}"] = {
            "seconds": s,
            "rte": info["rte"],
            "status": info["status"],
            "error": info["error"],
        }
        models[r.method] = (folder, fc)
    eval_spec = {
        **base,
        "evaluation": {"batch_size": cfg["evaluation"]["batch_size"], "precision": args.precision},
        "analysis": analysis,
    }
    references = {
        "original": str(work / "original" / "grams.pt"),
        "retrained": str(work / "retrained" / "grams.pt"),
    }
    entries = []
    for name, (folder, _) in models.items():
        run_id = f"fc{fc}-{name}" if name in ("original", "retrained") else f"fc{fc}-{name}-x"
        is_ref = name in ("original", "retrained")
        out = {k: folder / f"{k}.arrow" for k in ("logits", "features", "similarity")}
        _, s = clocked(
            device,
            lambda run_id=run_id, folder=folder, out=out, is_ref=is_ref: evaluate.run(
                {**eval_spec, "run_id": run_id, "forget_class": fc},
                folder / "model.pt",
                folder / "info.json",
                out["logits"],
                out["features"],
                out["similarity"],
                folder / "summary.json",
                grams_out=str(folder / "grams.pt") if is_ref else None,
                reference_grams=None if is_ref else references,
            ),
        )
        summary = json.loads((folder / "summary.json").read_text())
        stages[f"evaluate {name}"] = {
            "seconds": s,
            "forward_pass_s": summary.get("forward_seconds"),
            "similarity_s": summary.get("similarity_seconds"),
            "images_per_s": (n_train + n_test) / summary["forward_seconds"],
        }
        entries.append(
            {"run_id": run_id, "info": str(folder / "info.json"), **{k: str(v) for k, v in out.items()}}
        )
    out_tables = {t: str(work / "analysis" / f"{t}.arrow") for t in TABLES}
    _, s = clocked(
        device,
        lambda: analyze.run(
            {**base, "forget_class": fc, "evaluation": cfg["evaluation"], "analysis": cfg["analysis"]},
            entries,
            references,
            out_tables,
        ),
    )
    stages["analyze (metrics, attack, UMAP, reference CKA; CPU)"] = {"seconds": s}
    _, s = clocked(
        device,
        lambda: tables.run(
            {
                **base,
                "title": None,
                "forget_classes": [fc],
                "analysis": cfg["analysis"],
                "training": cfg["training"],
                "evaluation": {"precision": args.precision},
            },
            {t: [out_tables[t]] for t in TABLES},
            str(work / "subset.arrow"),
            {t: str(work / "tables" / f"{t}.arrow") for t in TABLES},
        ),
    )
    stages["tables"] = {"seconds": s}

    # ---- a plain forward pass over the same images, the evaluation's baseline
    on_device = data.to(device)
    model = new_model(base, on_device, device)
    model.load_state_dict(load_state_dict(work / "original" / "model.pt"))
    plain = time_plain_forward(model, on_device, cfg["evaluation"]["batch_size"], args.precision)
    stages["plain forward pass, both splits (baseline)"] = {
        "seconds": plain,
        "images_per_s": (n_train + n_test) / plain,
    }

    # ---- the same seed twice: bit-identical weights on this device
    def train_small(seed):
        torch.manual_seed(seed)
        m = new_model(base, on_device, device)
        train_classifier(
            m,
            on_device.train.select(torch.arange(min(5000, n_train), device=on_device.train.labels.device)),
            on_device.info,
            {**cfg["training"], "epochs": 1},
            device,
            seed,
            log=lambda msg: None,
        )
        return m.state_dict()

    a, b = train_small(1), train_small(1)
    report["training_is_deterministic"] = all(torch.equal(a[k], b[k]) for k in a)

    # ---- ResNet-18 on CIFAR-shaped images
    big = device.type == "cuda"
    g = torch.Generator().manual_seed(0)

    def split(n):
        return Split(
            torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g),
            torch.arange(n) % 10,
            torch.arange(n),
        )

    cifar = ImageDataset(
        DATASETS["cifar10"], split(10000 if big else 1000), split(2000 if big else 200), "synthetic"
    ).to(device)
    net = new_model({**base, "model": "resnet18"}, cifar, device)
    history, _ = clocked(
        device,
        lambda: train_classifier(
            net, cifar.train, cifar.info, {**cfg["training"], "epochs": 1}, device, 0, log=lambda m: None
        ),
    )
    stages["ResNet-18 training (CIFAR-shaped, bf16 on CUDA)"] = {
        "images_per_s": len(cifar.train) / history.seconds
    }
    plan = evaluation_plan(
        {"seed": 0, "analysis": {"subset_per_class": 50, "cka": cfg["analysis"]["cka"]}}, cifar
    )
    cplain = time_plain_forward(net, cifar, 1000, args.precision)
    _, s = clocked(device, lambda: forward_pass(net, cifar, plan, 1000, precision=args.precision))
    n_images = len(cifar.train) + len(cifar.test)
    stages["ResNet-18 one-pass evaluation"] = {
        "seconds": s,
        "images_per_s": n_images / s,
        "ratio_to_plain_forward": s / cplain,
    }
    stages["ResNet-18 plain forward"] = {"seconds": cplain, "images_per_s": n_images / cplain}
    if device.type == "cuda":
        report["max_memory_allocated_gb"] = torch.cuda.max_memory_allocated(device) / 1e9

    width = max(len(k) for k in stages)
    for name, values in stages.items():
        shown = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items() if v is not None
        )
        print(f"{name:<{width}}  {shown}")
    print(f"training deterministic on this device: {report['training_is_deterministic']}")
    Path(args.out).write_text(json.dumps(report, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What evaluating and analysing one model costs, as a ratio to one plain forward pass over its images.

    python benchmarks/analysis_cost.py [--results results/fashion-mnist-compact] [--config config/config.yaml]

Needs a finished run of the config (its original and retrained models and one unlearned model). In one
process, on one thread (as the workflow's jobs run), it times:

* a plain forward pass over the training and test images (no hooks): the baseline; also the same pass
  with BatchNorm folded into the convolutions, which the evaluation does, to separate that gain;
* the workflow's one-pass evaluation of an unlearned model (logits, penultimate features, CKA Grams);
* its similarity against the stored reference Grams;
* its share of the forget class's analysis: accuracies, prediction matrices, MIA efficacy, attack curves
  and its layout anchored to the original's (UMAP warmed up first: numba's compilation is paid once per
  forget class, and reported separately).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

import numpy as np  # noqa: E402
import torch  # noqa: E402

from unlearning_comparator.checkpoints import load_weights  # noqa: E402
from unlearning_comparator.config import load_config  # noqa: E402
from unlearning_comparator.embedding import (  # noqa: E402
    UmapParams,
    aligned_layout,
    layout_neighbours,
    reference_layout,
)
from unlearning_comparator.evaluation import forward_pass, inference_copy, time_plain_forward  # noqa: E402
from unlearning_comparator.forget_sets import ForgetSet  # noqa: E402
from unlearning_comparator.jobs.common import evaluation_plan, load_data, new_model  # noqa: E402
from unlearning_comparator.metrics import accuracy as acc  # noqa: E402
from unlearning_comparator.metrics import mia, privacy  # noqa: E402
from unlearning_comparator.similarity import centered_blocks, load_grams, similarity_rows, stack_grams  # noqa: E402


def clock(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default=str(ROOT / "config" / "config.yaml"))
    parser.add_argument("--results")
    parser.add_argument("--repeat", type=int, default=3, help="take the fastest of this many timings")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = load_config(args.config, ROOT / "methods")
    results = Path(args.results or ROOT / "results" / config["name"])
    fc = config["forget_classes"][0]
    model_dir = sorted((results / "models" / f"fc{fc}").glob("ga/*/model.pt"))[0].parent
    device = torch.device("cpu")
    data = load_data(config, device)
    plan = evaluation_plan(config, data)
    model = load_weights(new_model(config, data, device), model_dir / "model.pt")
    batch = config["evaluation"]["batch_size"]

    def best(fn):
        times = []
        for _ in range(args.repeat):
            out, seconds = clock(fn)
            times.append(seconds)
        return out, min(times)

    _, plain = best(lambda: time_plain_forward(model, data, batch))
    folded_model = inference_copy(model)
    _, plain_folded = best(lambda: time_plain_forward(folded_model, data, batch))
    outputs, evaluate = best(lambda: forward_pass(model, data, plan, batch))
    grams = stack_grams(outputs.grams, outputs.layers)
    refs = {
        name: load_grams(results / "evaluation" / path / "grams.pt")
        for name, path in (("original", "original"), ("retrained", f"fc{fc}/retrained"))
    }

    masks = ForgetSet.of_classes(fc).split_masks(data.train.labels, data.test.labels)

    def similarity_job():  # what the evaluation job does: centre its own blocks once, each reference's once
        mine = centered_blocks(grams, plan.cka_pools, masks)
        return [
            similarity_rows("x", n, centered_blocks(r, plan.cka_pools, masks), rl, mine, outputs.layers)
            for n, (r, rl) in refs.items()
        ]

    _, similarity = best(similarity_job)

    train_logits, test_logits = outputs.logits["train"].numpy(), outputs.logits["test"].numpy()
    labels_train, labels_test = data.train.labels.numpy(), data.test.labels.numpy()
    sets = mia.salun_mia_sets(labels_train, labels_test, fc)
    forget = np.flatnonzero(labels_train == fc)
    retrain_values = {
        "entropy": privacy.entropy(train_logits[forget]),
        "confidence": privacy.confidence(train_logits[forget]),
    }

    def metrics():
        tr = acc.per_class_accuracy(train_logits.argmax(1), labels_train, 10)
        te = acc.per_class_accuracy(test_logits.argmax(1), labels_test, 10)
        acc.forget_metrics(tr, te, fc)
        acc.prediction_matrices(train_logits, labels_train, 10)
        acc.prediction_matrices(test_logits, labels_test, 10)
        mia.mia_efficacy(
            mia.true_class_confidence(train_logits[sets.members], labels_train[sets.members]),
            mia.true_class_confidence(test_logits[sets.nonmembers], labels_test[sets.nonmembers]),
            mia.true_class_confidence(train_logits[sets.target], labels_train[sets.target]),
        )
        for metric, fn in (("entropy", privacy.entropy), ("confidence", privacy.confidence)):
            privacy.threshold_sweep(fn(train_logits[forget]), retrain_values[metric], -2.5, 10)

    _, metric_seconds = best(metrics)
    umap_cfg = config["analysis"]["umap"]
    params = UmapParams(
        umap_cfg["n_neighbors"],
        umap_cfg["min_dist"],
        umap_cfg["n_epochs"],
        umap_cfg["aligned_epochs"],
        config["seed"],
        umap_cfg["anchor_stiffness"],
    )
    features = outputs.features.numpy()
    # the reference layout is the original model's; this model's layout is anchored to it
    original = forward_pass(
        load_weights(new_model(config, data, device), results / "models" / "original" / "model.pt"),
        data,
        plan,
        batch,
        with_grams=False,
    ).features.numpy()
    reference, first_umap = clock(lambda: reference_layout(original, params))  # includes numba's compilation
    _, reference_warm = best(lambda: reference_layout(original, params))
    neighbours = layout_neighbours(original, params)  # once per forget class, as in the analysis job
    _, aligned = best(lambda: aligned_layout(features, neighbours, reference, params))

    analysis = evaluate - plain + similarity + metric_seconds + aligned
    report = {
        "images": len(data.train) + len(data.test),
        "plain_forward_s": plain,
        "plain_forward_batchnorm_folded_s": plain_folded,
        "one_pass_evaluation_s": evaluate,
        "similarity_s": similarity,
        "metrics_mia_attack_s": metric_seconds,
        "anchored_layout_s": aligned,
        "reference_umap_s": reference_warm,
        "first_umap_call_in_process_s": first_umap,
        "evaluation_over_plain": evaluate / plain,
        "evaluation_and_analysis_over_plain": (evaluate + similarity + metric_seconds + aligned) / plain,
        "analysis_overhead_over_plain": analysis / plain,
        "evaluation_and_analysis_over_folded_plain": (evaluate + similarity + metric_seconds + aligned)
        / plain_folded,
    }
    for key, value in report.items():
        print(f"{key:38s} {value:.3f}" if isinstance(value, float) else f"{key:38s} {value}")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

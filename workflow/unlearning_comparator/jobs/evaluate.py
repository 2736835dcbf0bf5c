"""Job: evaluate one model with a single forward pass per split.

Writes the model's logits (every training and test image), the evaluation subset's penultimate
features and, for the reference models (original, retrained), the CKA Gram matrices that every other
model of the forget set (and replicate) is compared with; a compared model's similarity rows are
computed here, against the stored reference Grams, on the forget set's and the retain set's
sub-blocks. Metrics are derived from the logits by the forget set's analysis job. The forward pass runs
in the spec's ``evaluation.precision`` (float32 when absent), which the summary records.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from .. import atomic
from ..checkpoints import load_weights
from ..data import ImageDataset
from ..evaluation import forward_pass
from ..similarity import centered_blocks, load_grams, save_grams, similarity_rows, stack_grams
from ..tables import write_table
from ..tables.schema import SIMILARITY
from .common import JobContext, evaluation_plan, load_data, log, new_model, spec_forget_set, start


def logits_table(outputs, data) -> pa.Table:
    parts = []
    for split_name, split in (("train", data.train), ("test", data.test)):
        logits = outputs.logits[split_name].numpy()
        parts.append(
            pa.table(
                {
                    "split": pa.array([split_name] * len(split), pa.string()).dictionary_encode(),
                    "index": split.indices.cpu().numpy().astype(np.int32),
                    "label": split.labels.cpu().numpy().astype(np.int16),
                    "logits": pa.FixedSizeListArray.from_arrays(
                        pa.array(logits.ravel(), pa.float32()), logits.shape[1]
                    ),
                }
            )
        )
    return pa.concat_tables(parts)


def features_table(outputs, data, plan) -> pa.Table:
    feats = outputs.features.numpy()
    return pa.table(
        {
            "index": data.train.indices.cpu()[plan.subset_positions].numpy().astype(np.int32),
            "features": pa.FixedSizeListArray.from_arrays(
                pa.array(feats.ravel(), pa.float32()), feats.shape[1]
            ),
        }
    )


@dataclass(frozen=True)
class EvaluationOutputs:
    """Where one model's evaluation goes (``grams`` for the reference models only)."""

    logits: str
    features: str
    similarity: str
    summary: str
    grams: str | None = None


def run(
    spec: dict[str, Any],
    model_path: str,
    run_info: str,
    logits_out: str,
    features_out: str,
    similarity_out: str,
    summary_out: str,
    grams_out: str | None = None,
    reference_grams: dict[str, str] | None = None,
    threads: int = 1,
) -> None:
    """``grams_out`` for reference models; ``reference_grams`` ({'original': path, 'retrained': path})
    for the others."""
    ctx = start(spec, threads, trains=False)
    outputs = EvaluationOutputs(logits_out, features_out, similarity_out, summary_out, grams_out)
    status = json.load(open(run_info))["status"]
    data = load_data(spec, ctx.device) if status == "ok" else None
    evaluate_model(spec, ctx, data, model_path, status, outputs, reference_grams)


def evaluate_model(
    spec: dict[str, Any],
    ctx: JobContext,
    data: ImageDataset | None,
    model_path: str,
    status: str,
    out: EvaluationOutputs,
    reference_grams: dict[str, str] | None = None,
) -> None:
    """Evaluate the checkpoint ``model_path`` on ``data`` (already on the device) and write ``out``.

    The unlearning job calls this too, in its own process, right after saving the model: the
    interpreter start, imports and data loading are then paid once per run instead of twice."""
    run_id = spec["run_id"]
    precision = spec["evaluation"].get("precision", "float32")
    summary: dict[str, Any] = {
        "run_id": run_id,
        "status": status,
        "device": ctx.device_name,
        "precision": precision,
    }
    if status != "ok":
        log(f"{run_id} failed upstream; nothing to evaluate")
        empty = pa.table({"run_id": pa.array([], pa.string())})
        for path in (out.logits, out.features):
            write_table(empty, path)
        write_table(SIMILARITY.empty_table(), out.similarity, SIMILARITY)
        if out.grams:
            save_grams({}, [], out.grams)
        atomic.write_json(out.summary, summary)
        return

    assert data is not None
    plan = evaluation_plan(spec, data)
    model = load_weights(new_model(spec, data, ctx.device), model_path)
    start_time = time.perf_counter()
    outputs = forward_pass(model, data, plan, spec["evaluation"]["batch_size"], precision=precision)
    summary["forward_seconds"] = time.perf_counter() - start_time
    grams = stack_grams(outputs.grams, outputs.layers)
    write_table(logits_table(outputs, data), out.logits)
    write_table(features_table(outputs, data, plan), out.features)
    if out.grams:
        save_grams(grams, outputs.layers, out.grams)

    tables = []
    start_time = time.perf_counter()

    def on_device(g):  # the centring and products run where the model ran (on the GPU when there is one)
        return {split: [t.to(ctx.device) for t in batches] for split, batches in g.items()}

    if reference_grams:
        # the sub-blocks of the forget set (the spec's set; a spec from before sets names a class)
        forget_set = spec_forget_set(spec)
        if forget_set is None:
            raise ValueError(f"{run_id}: a model compared with reference models needs the spec's forget_set")
        masks = forget_set.split_masks(data.train.labels, data.test.labels)
        mine = centered_blocks(on_device(grams), plan.cka_pools, masks)
    for reference_name, path in (reference_grams or {}).items():
        reference, reference_layers = load_grams(path)
        reference = on_device(reference)
        rows = similarity_rows(
            run_id,
            reference_name,
            centered_blocks(reference, plan.cka_pools, masks),
            reference_layers,
            mine,
            outputs.layers,
        )
        tables.append(pa.table(rows))
    similarity = pa.concat_tables(tables) if tables else SIMILARITY.empty_table()
    write_table(similarity, out.similarity, SIMILARITY)
    summary["similarity_seconds"] = time.perf_counter() - start_time
    summary["layers"] = outputs.layers
    atomic.write_json(out.summary, summary)
    log(
        f"{run_id}: forward pass {summary['forward_seconds']:.1f} s, "
        f"similarity {summary['similarity_seconds']:.1f} s"
    )

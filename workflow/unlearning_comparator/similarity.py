"""Layer-wise similarity of a model to a reference model, for one forget set, from stored Gram matrices.

Both models' Gram matrices come from the same mixed CKA mini-batches (see :mod:`.data.subsets`); the
forget and retain subsets of a forget class are sub-blocks of each batch's Gram matrix, so nothing
is recomputed per forget class or per compared model.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import torch

from . import atomic
from .checkpoints import CheckpointError
from .data.subsets import CkaPool
from .metrics.cka import MinibatchCKA, centered_stack

Grams = dict[str, list[torch.Tensor]]  # split -> per batch a (layers, n, n) tensor


def stack_grams(per_batch: dict[str, list[dict[str, torch.Tensor]]], layers: list[str]) -> Grams:
    return {
        split: [torch.stack([b[name] for name in layers]) for b in batches]
        for split, batches in per_batch.items()
    }


def save_grams(grams: Grams, layers: list[str], path: str | os.PathLike) -> None:
    # float32 on disk: computed in float64 on CUDA, they would double the files for no measurable
    # change in CKA
    payload = {
        f"{split}/{k}": g.to(torch.float32) for split, batches in grams.items() for k, g in enumerate(batches)
    }
    with atomic.atomic_path(path) as tmp:
        torch.save({"tensors": payload, "layers": list(layers)}, tmp)


def load_grams(path: str | os.PathLike) -> tuple[Grams, list[str]]:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
        tensors, layers = obj["tensors"], list(obj["layers"])
    except Exception as exc:
        raise CheckpointError(
            f"Gram-matrix file {path} is truncated or corrupt ({type(exc).__name__}); delete it and rerun "
            f"the workflow so that the reference model's evaluation writes it again"
        ) from exc
    grams: Grams = {}
    for key, value in tensors.items():
        if "/" not in key:
            continue
        split, k = key.split("/")
        grams.setdefault(split, []).append((int(k), value))
    return {s: [v for _, v in sorted(items)] for s, items in grams.items()}, layers


Blocks = dict[
    tuple[str, str], list[torch.Tensor]
]  # (split, subset) -> per batch a (layers, n²) centred stack


def centered_blocks(grams: Grams, pools: dict[str, CkaPool], forget_masks: dict[str, torch.Tensor]) -> Blocks:
    """U-centre one model's forget and retain sub-blocks of every CKA batch, once.

    ``forget_masks[split]`` says which positions of the split belong to the forget set (its test
    counterpart for the test split: none for a random forget set, whose test "forget" blocks are then
    empty and skipped). Both models of a comparison must be centred on the same sub-blocks; computing
    them once per model and forget set lets one model be compared with several others at the cost of a
    dot product.
    """
    blocks: Blocks = {}
    for split, pool in pools.items():
        in_set = forget_masks[split].to(pool.positions.device)[pool.positions]
        for subset in ("forget", "retain"):
            stacks = []
            for k in range(pool.num_batches):
                member = in_set[pool.batch == k]
                keep = member if subset == "forget" else ~member
                idx = keep.nonzero().flatten()
                if len(idx) < 4:  # the unbiased HSIC estimator needs n >= 4
                    continue
                stacks.append(centered_stack(list(grams[split][k][:, idx][:, :, idx])))
            blocks[(split, subset)] = stacks
    return blocks


def cka_matrices(reference: Blocks, model: Blocks) -> Iterator[tuple[str, str, np.ndarray]]:
    """Yield (split, subset, CKA matrix [reference layer, model layer]) from two models' centred blocks."""
    for key, ref_stacks in reference.items():
        if not ref_stacks:
            continue
        acc = MinibatchCKA(ref_stacks[0].shape[0], model[key][0].shape[0])
        for ref_u, model_u in zip(ref_stacks, model[key]):
            acc.update_centered(ref_u, model_u)
        yield key[0], key[1], acc.result()


SIMILARITY_COLUMNS = ("run_id", "reference", "split", "subset", "reference_layer", "layer", "cka")


def append_matrix(
    rows: dict[str, list],
    run_id: str,
    reference: str,
    split: str,
    subset: str,
    reference_layers: list[str],
    layers: list[str],
    matrix,
) -> None:
    """Append one layer x layer CKA matrix to ``rows`` (the columns of similarity.arrow), one row per pair."""
    for i, ref_layer in enumerate(reference_layers):
        for j, layer in enumerate(layers):
            rows["run_id"].append(run_id)
            rows["reference"].append(reference)
            rows["split"].append(split)
            rows["subset"].append(subset)
            rows["reference_layer"].append(ref_layer)
            rows["layer"].append(layer)
            rows["cka"].append(float(matrix[i][j]))


def similarity_rows(
    run_id: str,
    reference_name: str,
    reference: Blocks,
    reference_layers: list[str],
    model: Blocks,
    model_layers: list[str],
) -> dict[str, list]:
    rows: dict[str, list] = {k: [] for k in SIMILARITY_COLUMNS}
    for split, subset, matrix in cka_matrices(reference, model):
        append_matrix(rows, run_id, reference_name, split, subset, reference_layers, model_layers, matrix)
    return rows

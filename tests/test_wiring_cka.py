"""The CKA similarity is wired the right way round: forget vs retain sub-blocks, reference vs model.

The CKA formula itself is tested in test_metrics_cka.py. Here the inputs are built so that a swap
changes the answer by far more than any rounding:

* a model whose activations on the retain-class images *equal* the reference's (CKA 1) and whose
  activations on the forget-class images are unrelated noise (CKA near 0) — swapping the forget and
  retain masks swaps the two;
* two layers that behave differently (the model's second layer is an orthogonal transform of the
  reference's *first* layer; the reference's second layer is independent of everything), so the
  [reference layer, model layer] matrix is [[1, 1], [~0, ~0]] on the retain images: transposing it
  (reference and model swapped) moves the 1 to the wrong row.

Expected values come from a plain NumPy minibatch CKA written below (per-batch unbiased HSIC of Song
et al. 2012, summed over batches, then normalised as in Nguyen, Raghu & Kornblith, ICLR 2021,
arXiv:2010.15327), on sub-blocks selected in the test from the labels.

The last test goes through ``jobs.evaluate.run`` itself (the reference model's evaluation writes its
Gram matrices, the compared model's evaluation reads them and writes similarity rows), on real
Fashion-MNIST images and two compact ResNets, against CKA computed here from activations hooked on
the plain models.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow.feather as feather
import pytest
import torch

from unlearning_comparator.data.subsets import CkaPool
from unlearning_comparator.similarity import centered_blocks, similarity_rows

from conftest import ROOT

# ------------------------------------------------------------------------------ independent CKA


def hsic_unbiased(K: np.ndarray, L: np.ndarray) -> float:
    """Song et al. (2012), eq. (5): the unbiased HSIC estimator, written out in float64."""
    n = K.shape[0]
    K = np.array(K, dtype=np.float64)
    L = np.array(L, dtype=np.float64)
    np.fill_diagonal(K, 0.0)
    np.fill_diagonal(L, 0.0)
    one = np.ones(n)
    return float(
        (
            np.trace(K @ L)
            + (one @ K @ one) * (one @ L @ one) / ((n - 1) * (n - 2))
            - 2.0 / (n - 2) * (one @ K @ L @ one)
        )
        / (n * (n - 3))
    )


def minibatch_cka(xs: list[np.ndarray], ys: list[np.ndarray]) -> float:
    """Linear minibatch CKA of two lists of per-batch activations (n_k, ...), clipped to [0, 1]."""
    xy = xx = yy = 0.0
    for x, y in zip(xs, ys):
        x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        K, L = x @ x.T, y @ y.T
        xy += hsic_unbiased(K, L)
        xx += hsic_unbiased(K, K)
        yy += hsic_unbiased(L, L)
    if xx <= 0 or yy <= 0:
        return 0.0
    return float(np.clip(xy / np.sqrt(xx * yy), 0.0, 1.0))


def table_lookup(rows: dict[str, list]) -> dict[tuple, float]:
    """similarity rows -> {(reference, split, subset, reference_layer, layer): cka}."""
    keys = zip(rows["reference"], rows["split"], rows["subset"], rows["reference_layer"], rows["layer"])
    out = {}
    for key, value in zip(keys, rows["cka"]):
        assert key not in out, f"duplicate similarity row {key}"
        out[key] = value
    return out


# ------------------------------------------------------------------------------ synthetic Grams

FORGET = 1
NUM_CLASSES = 3
PER_CLASS = 12  # images of each class in each mixed batch
NUM_BATCHES = 3
LAYERS = ["a", "b"]


def _synthetic(seed: int):
    """Pools, per-batch activations of a reference and a model, and which rows are forget images."""
    rng = np.random.default_rng(seed)
    pools, ref_acts, model_acts = {}, {}, {}
    for split in ("train", "test"):
        # batch k holds PER_CLASS images of every class, classes interleaved (not blocked), so that a
        # mask that ignored the labels could not pick the forget rows by position
        labels = np.tile(np.arange(NUM_CLASSES), PER_CLASS * NUM_BATCHES)
        batch = np.repeat(np.arange(NUM_BATCHES), NUM_CLASSES * PER_CLASS)
        positions = rng.permutation(10_000)[: len(labels)]
        pools[split] = CkaPool(torch.as_tensor(positions), torch.as_tensor(labels), torch.as_tensor(batch))
        ref_acts[split], model_acts[split] = [], []
        for k in range(NUM_BATCHES):
            lab = labels[batch == k]
            n = len(lab)
            x = rng.normal(size=(n, 8)) + rng.normal(size=(1, 8))  # reference layer a
            y = rng.normal(size=(n, 5))  # reference layer b: independent of a
            q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
            model_a, model_b = (
                x.copy(),
                3.0 * x @ q,
            )  # model layer b: a rotated, scaled copy of reference layer a
            forget = lab == FORGET
            model_a[forget] = rng.normal(size=(forget.sum(), 8))  # forget images: unrelated noise
            model_b[forget] = rng.normal(size=(forget.sum(), 8))
            ref_acts[split].append({"a": x, "b": y})
            model_acts[split].append({"a": model_a, "b": model_b})
    return pools, ref_acts, model_acts


def _forget_masks(pools) -> dict[str, torch.Tensor]:
    """The forget class's mask over each split's positions (as ForgetSet.split_masks gives it)."""
    masks = {}
    for split, pool in pools.items():
        mask = torch.zeros(10_000, dtype=torch.bool)
        mask[pool.positions[pool.labels == FORGET]] = True
        masks[split] = mask
    return masks


def _grams(acts) -> dict[str, list[torch.Tensor]]:
    """split -> per batch the (layers, n, n) stack of X Xᵀ, as jobs/evaluate.py stores them (float32 on
    the CPU)."""
    return {
        split: [
            torch.stack([torch.as_tensor(b[name] @ b[name].T, dtype=torch.float32) for name in LAYERS])
            for b in batches
        ]
        for split, batches in acts.items()
    }


def _expected(pools, ref_acts, model_acts) -> dict[tuple, float]:
    out = {}
    for split, pool in pools.items():
        labels, batch = pool.labels.numpy(), pool.batch.numpy()
        for subset in ("forget", "retain"):
            masks = [
                (labels[batch == k] == FORGET) if subset == "forget" else (labels[batch == k] != FORGET)
                for k in range(NUM_BATCHES)
            ]
            for ref_layer in LAYERS:
                for layer in LAYERS:
                    out[("original", split, subset, ref_layer, layer)] = minibatch_cka(
                        [b[ref_layer][m] for b, m in zip(ref_acts[split], masks)],
                        [b[layer][m] for b, m in zip(model_acts[split], masks)],
                    )
    return out


def test_synthetic_expectations_are_what_the_construction_says():
    """Guards the power of the next test: the construction gives the asymmetric pattern intended."""
    expected = _expected(*_synthetic(0))
    for split in ("train", "test"):
        retain = {
            (ref_layer, layer): expected[("original", split, "retain", ref_layer, layer)]
            for ref_layer in LAYERS
            for layer in LAYERS
        }
        forget = {
            (ref_layer, layer): expected[("original", split, "forget", ref_layer, layer)]
            for ref_layer in LAYERS
            for layer in LAYERS
        }
        assert retain[("a", "a")] == pytest.approx(1.0, abs=1e-9)
        assert retain[("a", "b")] == pytest.approx(1.0, abs=1e-9)
        assert retain[("b", "a")] < 0.3 and retain[("b", "b")] < 0.3
        assert max(forget.values()) < 0.5


def test_forget_and_retain_blocks_and_reference_rows_are_not_swapped():
    pools, ref_acts, model_acts = _synthetic(0)
    ref_blocks = centered_blocks(_grams(ref_acts), pools, _forget_masks(pools))
    model_blocks = centered_blocks(_grams(model_acts), pools, _forget_masks(pools))
    rows = similarity_rows("fc1-model", "original", ref_blocks, LAYERS, model_blocks, LAYERS)
    got = table_lookup(rows)
    expected = _expected(pools, ref_acts, model_acts)
    assert set(got) == set(expected)
    assert set(rows["run_id"]) == {"fc1-model"}
    # float32 Gram matrices (as stored) against float64 here: ~1e-7 relative, far below the O(1) swaps
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-5), (
            f"{key}: table {got[key]:.6f}, expected {value:.6f}"
        )
    for split in ("train", "test"):
        # the pattern in words: retain images are the reference's own activations, forget images noise
        assert got[("original", split, "retain", "a", "a")] > 0.999
        assert got[("original", split, "forget", "a", "a")] < 0.5
        # reference layer b (independent) vs model layer a: low; reference layer a vs model layer b: 1
        assert got[("original", split, "retain", "a", "b")] > 0.999
        assert got[("original", split, "retain", "b", "a")] < 0.3


def test_a_model_compared_with_itself_is_one_on_the_diagonal_only_where_layers_match():
    """Self-comparison through the same path: the diagonal is 1; the off-diagonal of the retain block
    (a vs b of the same model) is the CKA of a layer with an unrelated one, not 1."""
    pools, ref_acts, _ = _synthetic(1)
    blocks = centered_blocks(_grams(ref_acts), pools, _forget_masks(pools))
    got = table_lookup(similarity_rows("fc1-original", "original", blocks, LAYERS, blocks, LAYERS))
    expected = _expected(pools, ref_acts, ref_acts)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-5), key
    assert got[("original", "train", "retain", "a", "a")] == pytest.approx(1.0, abs=1e-6)
    assert got[("original", "train", "retain", "a", "b")] < 0.3


# ------------------------------------------------------------------------------ jobs/evaluate.py

EVAL_CKA = {"train_per_class": 16, "test_per_class": 12, "batch_per_class": 8}
DATA = {"train_per_class": 30, "test_per_class": 20}


def _spec(run_id: str, forget_class: int | None) -> dict:
    return {
        "name": "wiring",
        "dataset": "fashion_mnist",
        "model": "compact_resnet",
        "seed": 1,
        "device": "cpu",
        "data": {"root": str(ROOT / "resources" / "data"), "download": False, **DATA},
        "run_id": run_id,
        "forget_class": forget_class,
        "evaluation": {"batch_size": 256},
        "analysis": {"subset_per_class": 10, "cka": dict(EVAL_CKA)},
    }


def _models():
    """A random compact ResNet (the reference) and a copy whose residual branches are switched off
    (each block's second BatchNorm has weight and bias 0, so a block passes on its input, projected
    where it downsamples): the copy's deep layers stay close to its stem while the reference's do
    not, which makes the [reference layer, model layer] CKA matrix clearly asymmetric."""
    from unlearning_comparator.models import create_model

    torch.manual_seed(11)
    reference = create_model("compact_resnet", 10, 1).eval()
    model = create_model("compact_resnet", 10, 1)
    model.load_state_dict(reference.state_dict())
    with torch.no_grad():
        for block in (model.layer1, model.layer2, model.layer3, model.layer4):
            block.bn2.weight.zero_()
            block.bn2.bias.zero_()
    return reference, model.eval()


def _plain_activations(model, images, info) -> dict[str, np.ndarray]:
    """Outputs of the named layer groups of a plain eval-mode model, float64, via hooks on
    get_submodule(name)."""
    from unlearning_comparator.data import normalize

    names = [name for name, _ in model.layer_groups()]
    model = model.double().eval()
    acts = {}
    handles = [
        model.get_submodule(name).register_forward_hook(
            lambda mod, inp, out, name=name: acts.__setitem__(
                name, out.detach().reshape(len(out), -1).numpy().copy()
            )
        )
        for name in names
    ]
    try:
        with torch.no_grad():
            model(normalize(images, info).double())
    finally:
        for h in handles:
            h.remove()
        model.float()
    return acts


def test_evaluate_job_compares_with_the_reference_the_right_way_round(tmp_path, fmnist_small):
    from unlearning_comparator.data import load_dataset
    from unlearning_comparator.jobs import evaluate

    reference, model = _models()
    fc = 3
    paths = {}
    for name, net in (("reference", reference), ("model", model)):
        torch.save(net.state_dict(), tmp_path / f"{name}.pt")
        (tmp_path / f"{name}.json").write_text(json.dumps({"status": "ok"}))
        paths[name] = {
            k: str(tmp_path / f"{name}-{k}") for k in ("logits", "features", "similarity", "summary")
        }
    evaluate.run(
        _spec("fc3-retrained", fc),
        str(tmp_path / "reference.pt"),
        str(tmp_path / "reference.json"),
        paths["reference"]["logits"],
        paths["reference"]["features"],
        paths["reference"]["similarity"],
        paths["reference"]["summary"],
        grams_out=str(tmp_path / "grams.pt"),
    )
    evaluate.run(
        _spec("fc3-x", fc),
        str(tmp_path / "model.pt"),
        str(tmp_path / "model.json"),
        paths["model"]["logits"],
        paths["model"]["features"],
        paths["model"]["similarity"],
        paths["model"]["summary"],
        reference_grams={"retrained": str(tmp_path / "grams.pt")},
    )
    got = table_lookup(feather.read_table(paths["model"]["similarity"]).to_pydict())

    # expected: the CKA pool re-derived here (the first per_class images of each class of the loaded
    # split, batch k = images [k*b, (k+1)*b) of every class), activations of the plain models
    data = load_dataset("fashion_mnist", root=str(ROOT / "resources" / "data"), download=False, **DATA)
    names = [name for name, _ in model.layer_groups()]
    expected = {}
    for split_name, split in (("train", data.train), ("test", data.test)):
        per_class, b = EVAL_CKA[f"{split_name}_per_class"], EVAL_CKA["batch_per_class"]
        labels = split.labels.numpy()
        firsts = [np.flatnonzero(labels == c)[:per_class] for c in range(10)]
        batches = [
            np.concatenate([f[k * b : (k + 1) * b] for f in firsts]) for k in range(-(-per_class // b))
        ]
        ref_acts = [
            _plain_activations(reference, split.images[torch.as_tensor(p)], data.info) for p in batches
        ]
        model_acts = [_plain_activations(model, split.images[torch.as_tensor(p)], data.info) for p in batches]
        for subset in ("forget", "retain"):
            masks = [(labels[p] == fc) if subset == "forget" else (labels[p] != fc) for p in batches]
            for ref_layer in names:
                for layer in names:
                    expected[("retrained", split_name, subset, ref_layer, layer)] = minibatch_cka(
                        [a[ref_layer][m] for a, m in zip(ref_acts, masks)],
                        [a[layer][m] for a, m in zip(model_acts, masks)],
                    )
    assert set(got) == set(expected)
    # float32 with BatchNorm folded (the job) against float64 unfolded (here): the activations agree to
    # ~1e-6 relative and U-centring the float32 Grams loses a little more where a layer's mean
    # dominates; we measured at most 4e-7 and allow 2e-5, four orders of magnitude below the
    # differences a swap makes (checked just below)
    worst = max(abs(got[k] - v) for k, v in expected.items())
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=2e-5), (
            f"{key}: table {got[key]:.5f}, expected {value:.5f} (worst difference {worst:.2g})"
        )
    # the test's power: the expected matrix is far from its transpose, and forget differs from retain
    asym = max(
        abs(
            expected[("retrained", "train", "retain", i, j)]
            - expected[("retrained", "train", "retain", j, i)]
        )
        for i in names
        for j in names
    )
    gap = max(
        abs(
            expected[("retrained", "train", "retain", i, j)]
            - expected[("retrained", "train", "forget", i, j)]
        )
        for i in names
        for j in names
    )
    assert asym > 0.1 and gap > 0.05, (asym, gap)

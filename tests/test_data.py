"""Data sets in memory: Fashion-MNIST from its IDX files, CIFAR-10 from files in its own on-disk format,
augmentation, and the subsets every model shares."""

from __future__ import annotations

import gzip
import os
import pickle

import numpy as np
import pytest
import torch

from unlearning_comparator.data import DatasetMissingError, load_dataset, normalize, sources
from unlearning_comparator.data.augment import random_crop_flip
from unlearning_comparator.data.datasets import read_cifar_batch, read_idx
from unlearning_comparator.data.subsets import cka_pool, default_cka_per_class, evaluation_subset


def test_fashion_mnist_loads_as_uint8_tensors(fmnist_small):
    data = fmnist_small
    assert data.train.images.dtype == torch.uint8 and data.train.images.shape[1:] == (1, 28, 28)
    assert len(data.train) == 2000 and len(data.test) == 1000
    assert torch.bincount(data.train.labels).tolist() == [200] * 10
    # indices are positions in the published split: the first training image is an ankle boot (class 9)
    assert data.train.indices[0] == 0 and data.train.labels[0] == 9
    x = normalize(data.train.images[:8], data.info)
    assert x.dtype == torch.float32 and x.is_contiguous(memory_format=torch.channels_last)
    assert abs(float(normalize(data.train.images, data.info).mean())) < 0.2


def test_full_fashion_mnist_has_the_published_sizes():
    data = load_dataset("fashion_mnist", root="resources/data", download=False)
    assert len(data.train) == 60000 and len(data.test) == 10000
    assert torch.bincount(data.test.labels).tolist() == [1000] * 10


def _write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def test_read_idx_roundtrip_and_truncation(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "a.gz", array)
    assert np.array_equal(read_idx(tmp_path / "a.gz"), array)
    raw = gzip.decompress((tmp_path / "a.gz").read_bytes())
    (tmp_path / "b").write_bytes(raw[:-5])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "b")


def write_cifar(root, per_batch=20, seed=0):
    """Small files in CIFAR-10's own 'python version' format (dicts pickled with numpy arrays)."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = [int(i % 10) for i in range(per_batch)]
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        batches[name] = (data, labels)
        with open(folder / name, "wb") as handle:
            pickle.dump(
                {
                    b"batch_label": name.encode(),
                    b"labels": labels,
                    b"data": data,
                    b"filenames": [f"{i}.png".encode() for i in range(per_batch)],
                },
                handle,
            )
    with open(folder / "batches.meta", "wb") as handle:
        pickle.dump({b"label_names": [b"airplane"] * 10, b"num_vis": 3072}, handle)
    return batches


def test_cifar10_loads_from_its_on_disk_format(tmp_path):
    batches = write_cifar(tmp_path)
    data = load_dataset("cifar10", root=tmp_path, download=False)
    assert data.info.num_classes == 10 and data.info.channels == 3
    assert data.train.images.shape == (100, 3, 32, 32) and len(data.test) == 20
    first, labels = batches["data_batch_1"]
    # CIFAR stores each image as 1024 red, then 1024 green, then 1024 blue bytes, row-major
    assert torch.equal(data.train.images[0], torch.from_numpy(first[0].reshape(3, 32, 32)))
    assert data.train.labels[:20].tolist() == labels
    second, _ = batches["data_batch_2"]
    assert torch.equal(data.train.images[20], torch.from_numpy(second[0].reshape(3, 32, 32)))
    x = normalize(data.train.images[:4], data.info)
    assert x.shape == (4, 3, 32, 32)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/uc-cifar-pwned",))


def test_cifar_batches_that_carry_code_are_refused(tmp_path):
    path = tmp_path / "data_batch_1"
    with open(path, "wb") as handle:
        pickle.dump({b"data": np.zeros((1, 3072), np.uint8), b"labels": [0], b"x": _Evil()}, handle)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        read_cifar_batch(path)
    assert not os.path.exists("/tmp/uc-cifar-pwned")


def test_a_missing_data_set_explains_how_to_get_it(tmp_path, monkeypatch):
    with pytest.raises(DatasetMissingError) as info:
        load_dataset("cifar10", root=tmp_path, download=False)
    assert "download" in str(info.value)
    monkeypatch.setattr(sources, "DEBIAN_FASHION_MNIST", tmp_path / "none")
    with pytest.raises(DatasetMissingError) as info:
        load_dataset("fashion_mnist", root=tmp_path, download=False)
    assert "apt-get install dataset-fashion-mnist" in str(info.value) and "download" in str(info.value)


def test_augmentation_is_seeded_and_keeps_images_whole(fmnist_small):
    images = fmnist_small.train.images[:64]
    a = random_crop_flip(images, 4, True, torch.Generator().manual_seed(3))
    b = random_crop_flip(images, 4, True, torch.Generator().manual_seed(3))
    c = random_crop_flip(images, 4, True, torch.Generator().manual_seed(4))
    assert a.shape == images.shape and a.dtype == torch.uint8
    assert torch.equal(a, b) and not torch.equal(a, c)
    # a crop is a shifted copy: with no padding and no flip the batch is unchanged
    assert torch.equal(random_crop_flip(images, 0, False, torch.Generator()), images)
    # every output pixel comes from the (zero-)padded input
    padded = torch.nn.functional.pad(images[:1], (4, 4, 4, 4))
    crops = {
        tuple(padded[0, 0, dy : dy + 28, dx : dx + 28].flatten().tolist())
        for dy in range(9)
        for dx in range(9)
    }
    crops |= {
        tuple(torch.flip(padded[0, 0, dy : dy + 28, dx : dx + 28], [-1]).flatten().tolist())
        for dy in range(9)
        for dx in range(9)
    }
    assert tuple(a[0, 0].flatten().tolist()) in crops


def test_evaluation_subset_is_deterministic_and_class_ordered(fmnist_small):
    labels = fmnist_small.train.labels
    a = evaluation_subset(labels, 20, seed=7)
    assert torch.equal(a, evaluation_subset(labels, 20, seed=7))
    assert not torch.equal(a, evaluation_subset(labels, 20, seed=8))
    assert labels[a].tolist() == [c for c in range(10) for _ in range(20)]
    assert len(set(a.tolist())) == 200


def test_cka_pool_mixes_classes_in_every_batch(fmnist_small):
    labels = fmnist_small.train.labels
    per_class = default_cka_per_class(labels, "train")
    assert per_class == 20  # a tenth of each class, as the original Comparator
    pool = cka_pool(labels, per_class, 5)
    assert pool.num_batches == 4
    for k in range(4):
        assert torch.bincount(pool.labels[pool.batch == k], minlength=10).tolist() == [5] * 10
    # the first images of each class, in index order
    first_of_3 = (labels == 3).nonzero().flatten()[:20]
    assert set(pool.positions[pool.labels == 3].tolist()) == set(first_of_3.tolist())


def test_a_short_last_cka_batch_joins_the_one_before(fmnist_small):
    """The unbiased HSIC estimator needs 4 images per block: a last batch of 2 per class would leave a forget
    block that the CKA must drop while the retain block (18 images) is kept."""
    labels = fmnist_small.train.labels
    pool = cka_pool(labels, 22, 5)  # 4 batches of 5 and 2 left over per class
    assert pool.num_batches == 4
    sizes = [torch.bincount(pool.labels[pool.batch == k], minlength=10).tolist() for k in range(4)]
    assert sizes == [[5] * 10, [5] * 10, [5] * 10, [7] * 10]
    pool = cka_pool(labels, 24, 5)  # 4 left over per class: a batch of its own
    assert pool.num_batches == 5
    assert torch.bincount(pool.labels[pool.batch == 4], minlength=10).tolist() == [4] * 10
    assert len(pool.positions) == len(set(pool.positions.tolist())) == 240

"""Aligned embeddings: an unchanged model reproduces the reference layout, changed neighbourhoods move.

The properties users read off the embedding panels, checked on real features (compact ResNets trained
here on 2,000 Fashion-MNIST images, one of them without a class) and on toy clusters whose answer is
known by construction.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from unlearning_comparator.data import normalize
from unlearning_comparator.embedding import (
    UmapParams,
    aligned_layout,
    euclidean_distances,
    layout_neighbours,
    nearest_neighbours,
    neighbourhood_shift,
    procrustes,
    reference_layout,
)
from unlearning_comparator.models import create_model

FORGET = 4  # Coat: it shares its neighbourhood with Pullover and Shirt
PARAMS = UmapParams(n_neighbors=9, min_dist=0.45, n_epochs=200, aligned_epochs=200, seed=0)


def width(layout: np.ndarray) -> float:
    return float(np.ptp(layout, axis=0).max())


def moved(layout: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Each point's displacement as a share of the reference layout's width."""
    return np.linalg.norm(layout - reference, axis=1) / width(reference)


# ------------------------------------------------------------------------------------------- small parts


def test_procrustes_undoes_rotation_scale_and_shift():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(50, 2))
    angle = 1.1
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    source = 3.5 * target @ rotation + np.array([10.0, -4.0])
    assert np.allclose(procrustes(source, target), target, atol=1e-9)
    mirrored = source * np.array([1.0, -1.0])
    assert np.allclose(procrustes(mirrored, target), target, atol=1e-9)


def test_distances_match_a_direct_computation():
    x = np.random.default_rng(1).normal(size=(30, 5))
    direct = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    assert np.allclose(euclidean_distances(x), direct, atol=1e-9)


def test_nearest_neighbours_hand_example():
    # points on a line at 0, 1, 3, 3 (a duplicate) and 10
    x = np.array([[0.0], [1.0], [3.0], [3.0], [10.0]])
    index, dist = nearest_neighbours(x, 3)
    assert index[0].tolist() == [0, 1, 2]  # itself, then by distance, ties by index
    assert index[2].tolist() == [2, 3, 1]  # itself first even beside its exact duplicate
    assert index[3].tolist() == [3, 2, 1]
    assert index[4].tolist() == [4, 2, 3]
    assert np.allclose(dist[4], [0.0, 7.0, 7.0]) and np.allclose(dist[1], [0.0, 1.0, 2.0])


def test_neighbourhood_shift_hand_example():
    # reference layout: four points on the x axis at 0, 1, 2 and 10
    reference = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [10.0, 0.0]])
    old = np.array([[1], [0], [1], [2]])  # each point's one nearest neighbour under the original
    new = np.array([[1], [0], [3], [2]])  # under the model, point 2's neighbour is now point 3
    shift, size = neighbourhood_shift(new, old, reference)
    assert np.array_equal(shift[[0, 1, 3]], np.zeros((3, 2)))  # unchanged neighbourhoods: exactly 0
    assert np.allclose(shift[2], [9.0, 0.0])  # its neighbour's position moved from x=1 to x=10
    # the radius is the median distance to the old neighbour: distances 1, 1, 1, 8 -> 1
    assert size[2] == pytest.approx(9.0) and np.array_equal(size[[0, 1, 3]], [0.0, 0.0, 0.0])


# --------------------------------------------------------------------------------------------- real data


def train(data, seed: int, without: int | None = None, epochs: int = 4):
    """A compact ResNet trained on the small Fashion-MNIST split (optionally without one class)."""
    torch.manual_seed(seed)
    keep = torch.ones(len(data.train), dtype=torch.bool) if without is None else data.train.labels != without
    images, labels = data.train.images[keep], data.train.labels[keep]
    model = create_model("compact_resnet", data.info.num_classes, data.info.channels)
    batch = 64
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=0.1, total_steps=epochs * -(-len(labels) // batch)
    )
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(labels), generator=generator)
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            loss = F.cross_entropy(model(normalize(images[idx], data.info)), labels[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    return model.eval()


def penultimate(model, images, info) -> np.ndarray:
    captured = []
    handle = model.feature_module().register_forward_hook(
        lambda m, i, o: captured.append(torch.flatten(o, 1))
    )
    with torch.inference_mode():
        model(normalize(images, info))
    handle.remove()
    return captured[0].double().numpy()


@pytest.fixture(scope="module")
def real(fmnist_small):
    """Penultimate features of 60 training images per class under an original model, a model retrained
    without class FORGET, and the original fine-tuned a little further (a small, honest change)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        data = fmnist_small
        labels = data.train.labels
        subset = torch.cat([(labels == c).nonzero().flatten()[:60] for c in range(10)])
        images = data.train.images[subset]
        original = train(data, seed=0)
        retrained = train(data, seed=0, without=FORGET)
        features = {
            "original": penultimate(original, images, data.info),
            "retrained": penultimate(retrained, images, data.info),
        }
    finally:
        torch.set_num_threads(threads)
    reference = reference_layout(features["original"], PARAMS)
    return features, labels[subset].numpy(), reference


def test_an_unchanged_model_reproduces_the_reference_layout(real):
    features, _, reference = real
    old = layout_neighbours(features["original"], PARAMS)
    layout = aligned_layout(features["original"], old, reference, PARAMS)
    assert moved(layout, reference).max() < 0.005  # the bound: under 0.5 % of the width
    assert np.array_equal(layout, reference)  # in fact exactly: every neighbourhood is the same


def test_the_retrained_models_forget_class_moves_further_than_the_rest(real):
    features, labels, reference = real
    old = layout_neighbours(features["original"], PARAMS)
    layout = aligned_layout(features["retrained"], old, reference, PARAMS)
    shift = moved(layout, reference)
    forget, retain = np.median(shift[labels == FORGET]), np.median(shift[labels != FORGET])
    assert forget > 2.5 * retain, (forget, retain)  # measured here: 5.2 % against 1.3 % of the width

    # ... towards its new neighbours: the forgotten class's images have fewer of their own class around
    # them than in the reference layout (0.81 -> 0.49), as in the retrained model's own features (0.54)
    def own_class_share(points):
        neighbours, _ = nearest_neighbours(points, 10)
        return (labels[neighbours[labels == FORGET, 1:]] == FORGET).mean()

    assert own_class_share(layout) < own_class_share(reference) - 0.05
    assert own_class_share(features["retrained"]) < own_class_share(reference)


def test_a_barely_changed_model_barely_moves(real):
    features, _, reference = real
    old = layout_neighbours(features["original"], PARAMS)
    noise = np.random.default_rng(5).normal(size=features["original"].shape)
    nudged = features["original"] + 0.01 * features["original"].std() * noise
    shift = moved(aligned_layout(nudged, old, reference, PARAMS), reference)
    assert np.median(shift) < 0.005 and np.percentile(shift, 90) < 0.02


def test_the_layout_is_deterministic_and_finite_for_a_collapsed_model(real):
    features, _, reference = real
    old = layout_neighbours(features["original"], PARAMS)
    first = aligned_layout(features["retrained"], old, reference, PARAMS)
    assert np.array_equal(first, aligned_layout(features["retrained"], old, reference, PARAMS))
    collapsed = np.ones_like(features["original"])  # a diverged model that maps every image to one point
    layout = aligned_layout(collapsed, old, reference, PARAMS)
    assert np.isfinite(layout).all()


# ---------------------------------------------------------------------------------------------- toy data


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(6, 32)) * 4
    labels = np.repeat(np.arange(6), 60)
    features = centers[labels] + rng.normal(size=(len(labels), 32))
    return features, labels, centers, rng


def test_an_absorbed_class_lands_on_its_new_neighbours_and_the_rest_stays(blobs):
    features, labels, centers, rng = blobs
    reference = reference_layout(features, PARAMS)
    # a model whose features spread class 0's images over classes 2, 3 and 4 (as a forgotten class is
    # absorbed by its look-alikes): class 0 must move, each image into its new cluster; the rest stays
    target = np.repeat([2, 3, 4], 20)
    changed = features.copy()
    changed[labels == 0] = centers[target] + rng.normal(size=(60, 32))
    layout = aligned_layout(changed, layout_neighbours(features, PARAMS), reference, PARAMS)
    shift = moved(layout, reference)
    assert np.median(shift[labels == 0]) > 0.3
    assert np.median(shift[labels != 0]) < 0.03
    centre = {c: reference[labels == c].mean(0) for c in range(6)}
    to_new = np.array([np.linalg.norm(p - centre[t]) for p, t in zip(layout[labels == 0], target)])
    to_old = np.linalg.norm(layout[labels == 0] - centre[0], axis=1)
    assert (to_new < to_old).all()
    assert np.median(to_new) < 0.1 * width(reference)


def test_the_reference_layout_is_deterministic(blobs):
    features, *_ = blobs
    params = UmapParams(n_epochs=50, seed=3)
    assert np.array_equal(reference_layout(features, params), reference_layout(features, params))

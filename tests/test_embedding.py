"""Aligned embeddings: Procrustes on a toy case, and anchored UMAP keeping agreeing points in place."""

from __future__ import annotations

import numpy as np
import pytest

from unlearning_comparator.embedding import UmapParams, aligned_layout, euclidean_distances, procrustes, reference_layout


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


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(6, 32)) * 4
    labels = np.repeat(np.arange(6), 60)
    features = centers[labels] + rng.normal(size=(len(labels), 32))
    return features, labels, centers, rng


def test_alignment_keeps_a_lightly_changed_model_in_place_and_moves_changed_points(blobs):
    features, labels, centers, rng = blobs
    params = UmapParams(n_neighbors=9, min_dist=0.45, n_epochs=200, aligned_epochs=100, seed=0, aligned_learning_rate=0.1)
    reference = reference_layout(features, params)
    assert reference.shape == (len(features), 2) and np.isfinite(reference).all()
    scale = np.ptp(reference, axis=0).max()

    # a lightly perturbed model stays near the reference layout (within its own cluster: inside a blob
    # of pure noise the arrangement is arbitrary)
    perturbed = features + 0.05 * rng.normal(size=features.shape)
    light_shift = np.linalg.norm(aligned_layout(perturbed, reference, params) - reference, axis=1)
    assert np.median(light_shift) < 0.1 * scale

    # a model with the same neighbourhoods but another feature geometry (its principal directions
    # differ): aligned, its cluster centres stay put; fitted independently (even after Procrustes) they move
    def centres(layout):
        return np.array([layout[labels == c].mean(0) for c in range(6)])

    geometry = features * np.random.default_rng(10).uniform(0.2, 3, size=features.shape[1])
    aligned_move = np.linalg.norm(centres(aligned_layout(geometry, reference, params)) - centres(reference), axis=1).mean()
    independent = procrustes(reference_layout(geometry, params), reference)
    independent_move = np.linalg.norm(centres(independent) - centres(reference), axis=1).mean()
    assert aligned_move < 0.5 * independent_move

    # a model that maps class 0 onto class 3's features: class 0's points move, the others stay
    changed = features.copy()
    changed[labels == 0] = centers[3] + rng.normal(size=((labels == 0).sum(), 32))
    moved = aligned_layout(changed, reference, params)
    shift = np.linalg.norm(moved - reference, axis=1)
    assert np.median(shift[labels == 0]) > 4 * np.median(shift[labels != 0])
    # and they end up next to class 3's points
    to_3 = np.linalg.norm(moved[labels == 0].mean(0) - moved[labels == 3].mean(0))
    assert to_3 < 0.2 * scale


def test_embedding_is_deterministic(blobs):
    features, *_ = blobs
    params = UmapParams(n_epochs=50, aligned_epochs=20, seed=3)
    assert np.array_equal(reference_layout(features, params), reference_layout(features, params))

"""Aligned 2-D embeddings of the evaluation subset's penultimate features, one per model of a forget class.

The original Comparator fits an independent UMAP per model, so the same image lands in unrelated
places in the A and B panels. Here every layout of a forget class shares one frame:

1. the *reference layout* is a seeded UMAP of the original model's features (McInnes, Healy & Melville,
   "UMAP: Uniform Manifold Approximation and Projection for Dimension Reduction", arXiv:1802.03426);
2. every other model's layout is *anchored* to it. For each image we ask where its neighbours are:
   the centre of its k nearest neighbours in the model's feature space, looked up in the reference
   layout, against the same centre for its neighbours in the original's feature space. If the two
   centres coincide (the neighbourhood did not change, or changed only within the same place), the
   image keeps its reference position; the further its new neighbours sit from its old ones, measured
   in neighbourhood radii, the weaker the spring that holds it there. The layout is then optimised with
   UMAP's own objective on the *model's* neighbourhood graph (its fuzzy simplicial set, attraction
   along edges, repulsion from random samples) plus those springs, starting from the reference
   positions shifted by each image's neighbourhood displacement.

So an unchanged model reproduces the reference layout exactly (every neighbourhood is the same, every
spring is rigid), images whose neighbours did not move stay put, and images whose neighbourhood moved
(a forgotten class whose images now sit among other classes) travel to their new neighbours. No
Procrustes fit is needed: the springs fix the frame.

Why not the earlier designs: re-optimising a whole UMAP from the reference layout (even at a lower
learning rate) moves every point by a few per cent of the layout's width whatever the model, as much
as the change it should show; AlignedUMAP (umap-learn) regularises a *chain* of embeddings towards each
other, so the reference layout itself would move with every model it is paired with.
``benchmarks/embedding_alignment.py`` measures all of this on a finished run.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class UmapParams:
    n_neighbors: int = 9  # as the original Comparator
    min_dist: float = 0.45
    n_epochs: int = 500  # the reference layout's UMAP
    aligned_epochs: int = 200  # full-batch epochs of every anchored layout
    seed: int = 0
    anchor_stiffness: float = (
        3.0  # spring constant for a neighbourhood that moved by one radius (see aligned_layout)
    )


def procrustes(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``source`` mapped onto ``target`` by the best rotation/reflection, uniform scale and translation.

    Not used by the anchored layouts; benchmarks compare them with independent fits mapped this way.
    """
    mu_s, mu_t = source.mean(0), target.mean(0)
    s, t = source - mu_s, target - mu_t
    u, sigma, vt = np.linalg.svd(s.T @ t)
    rotation = u @ vt
    norm = (s**2).sum()
    scale = sigma.sum() / norm if norm > 0 else 1.0
    return (s @ rotation) * scale + mu_t


def euclidean_distances(features: np.ndarray) -> np.ndarray:
    """Dense pairwise Euclidean distances (float64).

    UMAP computes these itself for small inputs, but through a Python-level callback per pair
    (~10 s for 2,000 points); one matrix product takes milliseconds.
    """
    x = features.astype(np.float64)
    sq = (x * x).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (x @ x.T), 0.0)
    np.fill_diagonal(d2, 0.0)
    return np.sqrt(d2)


def nearest_neighbours(features: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and distances of each point's ``k`` nearest points, itself first (UMAP's convention).

    Exact (from all pairwise distances); neighbours are ordered by distance, then by index, so equal
    inputs give equal neighbourhoods.
    """
    distances = euclidean_distances(features)
    np.fill_diagonal(distances, -1.0)  # the point itself first, even among exact duplicates
    k = min(k, len(features))
    candidates = np.argpartition(distances, k - 1, axis=1)[:, :k]
    candidate_distances = np.take_along_axis(distances, candidates, axis=1)
    order = np.lexsort((candidates, candidate_distances), axis=1)
    index = np.take_along_axis(candidates, order, axis=1)
    return index, np.maximum(np.take_along_axis(candidate_distances, order, axis=1), 0.0)


def pca_init(features: np.ndarray) -> np.ndarray:
    """The first two principal components (the original's ``init='pca'``), deterministic in sign."""
    x = features.astype(np.float64) - features.mean(0)
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    signs = np.sign(vt[:2, np.argmax(np.abs(vt[:2]), axis=1)].diagonal())
    signs[signs == 0] = 1.0
    return (u[:, :2] * s[:2]) * signs


def _import_umap():
    """Import umap with numba's on-disk cache switched on for its compiled functions.

    Most of umap-learn's numba functions are not declared ``cache=True``, so every new process compiles
    them again (~15 s here). ``Dispatcher.enable_caching`` (public numba API) makes later processes load
    them from disk instead: the first UMAP call of a job drops from ~26 s to ~12 s.
    """
    os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "numba"))
    import umap
    import umap.layouts
    import umap.spectral
    import umap.umap_
    import umap.utils

    try:
        from numba.core.registry import CPUDispatcher

        for module in (umap.umap_, umap.utils, umap.layouts, umap.spectral):
            for obj in vars(module).values():
                if isinstance(obj, CPUDispatcher) and type(obj._cache).__name__ == "NullCache":
                    obj.enable_caching()
    except Exception:  # a numba or umap version without these internals: compile as usual
        pass
    return umap


def reference_layout(features: np.ndarray, params: UmapParams) -> np.ndarray:
    """A seeded UMAP of ``features`` (the original model's), started from their principal components."""
    umap = _import_umap()  # imported here: only the jobs that embed pay for it

    reducer = umap.UMAP(
        n_components=2,
        n_neighbors=params.n_neighbors,
        min_dist=params.min_dist,
        init=pca_init(features).astype(np.float32),
        n_epochs=params.n_epochs,
        random_state=params.seed,
        metric="precomputed",
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*n_jobs value.*")  # seeding makes UMAP single-threaded
        warnings.filterwarnings("ignore", message=".*precomputed.*")
        return np.asarray(reducer.fit_transform(euclidean_distances(features)), dtype=np.float64)


# ------------------------------------------------------------------------------------ anchored layouts


def neighbourhood_shift(
    new_neighbours: np.ndarray, old_neighbours: np.ndarray, reference: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """How far each image's neighbourhood moved in the reference layout, as a vector and in radii.

    ``new_neighbours`` and ``old_neighbours`` (n, k) index each image's nearest neighbours (itself
    excluded) under the model's and under the original's features. For image i the shift is the mean
    reference position of its new neighbours minus that of its old ones; its size is the shift's length
    divided by the layout's neighbourhood radius (the median over images of the mean distance from an
    image to its old neighbours). Identical neighbourhoods give exactly 0.
    """
    shift = reference[new_neighbours].mean(1) - reference[old_neighbours].mean(1)
    shift[(np.sort(new_neighbours, 1) == np.sort(old_neighbours, 1)).all(1)] = 0.0  # no rounding residue
    radius = np.median(np.linalg.norm(reference[old_neighbours] - reference[:, None, :], axis=2).mean(1))
    return shift, np.linalg.norm(shift, axis=1) / (radius if radius > 0 else 1.0)


def fuzzy_graph(
    index: np.ndarray, distances: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """UMAP's fuzzy simplicial set of a k-nearest-neighbour graph (self first) as directed edges
    (heads, tails, weights in (0, 1])."""
    umap = _import_umap()
    n, k = index.shape
    graph, _, _ = umap.umap_.fuzzy_simplicial_set(
        np.zeros((n, 1)),
        k,
        np.random.RandomState(seed),
        "precomputed",
        knn_indices=index.astype(np.int64),
        knn_dists=distances.astype(np.float32),
    )
    graph = graph.tocoo()
    return graph.row.astype(np.int64), graph.col.astype(np.int64), graph.data.astype(np.float64)


def _curve(min_dist: float) -> tuple[float, float]:
    """UMAP's (a, b) of the low-dimensional similarity 1 / (1 + a d^(2b)) for ``min_dist`` (spread 1)."""
    umap = _import_umap()
    a, b = umap.umap_.find_ab_params(1.0, min_dist)
    return float(a), float(b)


def _scatter(index: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Sum the rows of ``values`` (m, 2) into (n, 2) by ``index``."""
    return np.stack([np.bincount(index, values[:, c], n) for c in range(values.shape[1])], axis=1)


def layout_neighbours(features: np.ndarray, params: UmapParams) -> np.ndarray:
    """Each image's ``n_neighbors`` nearest images (itself excluded), (n, k): computed once for the
    original model and handed to :func:`aligned_layout` for every other model of the forget class."""
    return nearest_neighbours(features, params.n_neighbors + 1)[0][:, 1:]


def aligned_layout(
    features: np.ndarray,
    original_neighbours: np.ndarray,
    reference: np.ndarray,
    params: UmapParams,
    negative_samples: int = 5,
) -> np.ndarray:
    """The layout of a model's ``features`` anchored to the original's ``reference`` layout (module doc);
    ``original_neighbours`` is :func:`layout_neighbours` of the original's features.

    Every image i is held at its reference position by a spring of stiffness
    ``anchor_stiffness / s_i²``, s_i being its neighbourhood shift in radii (:func:`neighbourhood_shift`):
    rigid where s_i = 0, about as strong as UMAP's own forces where the neighbourhood moved by one radius,
    negligible where it moved by several. The rest is UMAP's optimisation on the model's fuzzy graph
    (attraction along edges weighted by membership, ``negative_samples`` repulsions per attraction, UMAP's
    gradients clipped at 4), run full-batch for ``aligned_epochs`` with a learning rate falling linearly
    from 1 to 0, the springs applied as a proximal step (stable for any stiffness). Deterministic for
    a given seed.
    """
    n, k = len(features), params.n_neighbors
    new, new_distances = nearest_neighbours(features, k + 1)
    shift, size = neighbourhood_shift(new[:, 1:], original_neighbours, reference)
    pinned = size == 0.0
    if pinned.all():
        return reference.copy()
    with np.errstate(divide="ignore"):
        stiffness = np.where(pinned, 0.0, params.anchor_stiffness / np.maximum(size, 1e-12) ** 2)[:, None]
    heads, tails, weights = fuzzy_graph(new[:, :k], new_distances[:, :k], params.seed)
    weights = weights / weights.max()  # UMAP samples its strongest edge once per epoch
    repulsion_rate = (negative_samples * np.bincount(heads, weights, n))[:, None]
    a, b = _curve(params.min_dist)
    rng = np.random.default_rng(params.seed)

    layout = reference + shift  # start where the new neighbours are
    layout[pinned] = reference[pinned]
    for epoch in range(params.aligned_epochs):
        rate = 1.0 - epoch / params.aligned_epochs
        # attraction along the model's edges, both ends moving (UMAP's move_other)
        diff = layout[heads] - layout[tails]
        d2 = (diff * diff).sum(1)
        with np.errstate(divide="ignore", invalid="ignore"):
            pull = np.where(d2 > 0, -2 * a * b * d2 ** (b - 1) / (1 + a * d2**b), 0.0)
        step = np.clip(pull[:, None] * diff, -4, 4) * weights[:, None]
        force = _scatter(heads, step, n) - _scatter(tails, step, n)
        # repulsion from random images, at UMAP's rate of negative samples per sampled edge
        others = rng.integers(0, n, size=(n, negative_samples))
        diff = layout[:, None, :] - layout[others]
        d2 = (diff * diff).sum(2)
        push = np.where(d2 > 0, 2 * b / ((0.001 + d2) * (1 + a * d2**b)), 0.0)
        force += np.clip(push[..., None] * diff, -4, 4).mean(1) * repulsion_rate
        # gradient step, then the springs' proximal step towards the reference positions
        layout = (layout + rate * force + rate * stiffness * reference) / (1 + rate * stiffness)
        layout[pinned] = reference[pinned]
    return layout


def umap_version() -> str:
    from importlib.metadata import version

    return version("umap-learn")

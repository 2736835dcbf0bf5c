"""Aligned 2-D embeddings of the evaluation subset's penultimate features, one per model of a forget class.

The original Comparator fits an independent UMAP per model, so the same image lands in unrelated
places in the A and B panels. Here every layout of a forget class shares one frame:

1. the *reference layout* is a seeded UMAP of the original model's features;
2. every other model's UMAP starts from the reference layout (``init=``) and optimises its own
   neighbourhood graph for ``aligned_epochs`` at a lower learning rate (``aligned_learning_rate``, 0.1
   instead of UMAP's 1.0): an image whose neighbours are unchanged stays where it was, an image whose
   neighbours changed (a forgotten class) still moves all the way to its new neighbours. On toy data
   this keeps cluster centres within ~5 % of the layout's width of the reference, against ~25-35 % for
   independent fits, while a relabelled cluster still lands on its new neighbours;
3. an orthogonal Procrustes fit (rotation/reflection, uniform scale, translation) on all points maps
   the result onto the reference frame, undoing UMAP's rescaling of the initial layout.

AlignedUMAP would regularise a *chain* of embeddings; our comparisons form a star around the
original (every model is compared with it and with each other), which anchoring fits directly and
at the cost of one shorter UMAP fit per model.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class UmapParams:
    n_neighbors: int = 9
    min_dist: float = 0.45
    n_epochs: int = 500
    aligned_epochs: int = 100
    seed: int = 0
    aligned_learning_rate: float = 0.1


def procrustes(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``source`` mapped onto ``target`` by the best rotation/reflection, uniform scale and translation."""
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


def _umap(features: np.ndarray, params: UmapParams, init: np.ndarray, n_epochs: int, learning_rate: float = 1.0) -> np.ndarray:
    umap = _import_umap()  # imported here: only the jobs that embed pay for it

    reducer = umap.UMAP(
        n_components=2, n_neighbors=params.n_neighbors, min_dist=params.min_dist, init=init.astype(np.float32),
        n_epochs=n_epochs, random_state=params.seed, metric="precomputed", learning_rate=learning_rate,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*n_jobs value.*")  # seeding makes UMAP single-threaded
        warnings.filterwarnings("ignore", message=".*initial embedding.*")
        warnings.filterwarnings("ignore", message=".*precomputed.*")
        return np.asarray(reducer.fit_transform(euclidean_distances(features)), dtype=np.float64)


def reference_layout(features: np.ndarray, params: UmapParams) -> np.ndarray:
    return _umap(features, params, init=pca_init(features), n_epochs=params.n_epochs)


def aligned_layout(features: np.ndarray, reference: np.ndarray, params: UmapParams) -> np.ndarray:
    layout = _umap(features, params, init=reference, n_epochs=params.aligned_epochs, learning_rate=params.aligned_learning_rate)
    return procrustes(layout, reference)


def umap_version() -> str:
    from importlib.metadata import version

    return version("umap-learn")

"""Linear minibatch CKA with the unbiased HSIC estimator.

HSIC is estimated per mini-batch with the unbiased estimator of Song et al. (2012), written via
Székely & Rizzo's U-centring: HSIC₁(K, L) = Σᵢⱼ Ũ_K ∘ Ũ_L / (n(n − 3)). Following Nguyen, Raghu &
Kornblith (2021), the per-batch estimates are averaged over mini-batches before forming
CKA = HSIC(K, L) / √(HSIC(K, K) · HSIC(L, L)). Being unbiased, the estimate does not drift upwards
with feature dimension as the biased one does, and it converges as batches are added.

Sources: L. Song, A. Smola, A. Gretton, J. Bedo and K. Borgwardt, "Feature Selection via Dependence
Maximization", JMLR 13, 2012 (the unbiased HSIC); G. J. Székely and M. L. Rizzo, "Partial distance
correlation with methods for dissimilarities", Annals of Statistics 42(6), 2014 (U-centring);
S. Kornblith, M. Norouzi, H. Lee and G. Hinton, "Similarity of Neural Network Representations
Revisited", ICML 2019 (arXiv:1905.00414) (linear CKA); T. Nguyen, M. Raghu and S. Kornblith, "Do Wide
and Deep Networks Learn the Same Things? Uncovering How Neural Network Representations Vary with Width
and Depth", ICLR 2021 (arXiv:2010.15327) (minibatch CKA). The original Comparator computes CKA with the
``pytorch-cka`` package instead, over other images and mini-batches (docs/the-original-comparator.md §5;
docs/differences-from-the-original.md §4.7, §5.2).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def _work_dtype(device: torch.device) -> torch.dtype:
    """float64 on CUDA: its float32 matmuls may run in TF32 (10-bit mantissa) whenever someone set
    ``torch.backends.cuda.matmul.allow_tf32`` or ``set_float32_matmul_precision``, which would spoil
    Gram matrices; float64 is exact and fast enough there. On the CPU float32 matmul is true IEEE
    single precision and about twice as fast as float64; its rounding (≈1e-7 relative) is far below
    what CKA resolves. (MPS has no float64 either.)"""
    return torch.float64 if device.type == "cuda" else torch.float32


def gram(activations: torch.Tensor) -> torch.Tensor:
    """Linear-kernel Gram matrix X Xᵀ, (n, n), of one batch of activations (n, ...), flattened per sample.

    Stays on the activations' device; float64 on CUDA, float32 elsewhere (see :func:`_work_dtype`).
    """
    if not isinstance(activations, torch.Tensor):
        activations = torch.as_tensor(np.asarray(activations))
    if activations.ndim < 1:
        raise ValueError("activations need a leading batch dimension")
    x = activations.detach().reshape(activations.shape[0], -1).to(_work_dtype(activations.device))
    return x @ x.T


def u_center(K: torch.Tensor) -> torch.Tensor:
    """U-centred version of a square (n, n) kernel matrix, float64, zero diagonal; needs n ≥ 4.

    With K̃ = K with its diagonal zeroed and r, c its row and column sums, s its total:
    Ũᵢⱼ = K̃ᵢⱼ − rᵢ/(n−2) − cⱼ/(n−2) + s/((n−1)(n−2)) off the diagonal, 0 on it. Then the inner
    product of two U-centred matrices divided by n(n−3) is the unbiased HSIC estimator.
    """
    if not isinstance(K, torch.Tensor):
        K = torch.as_tensor(np.asarray(K))
    if K.ndim != 2 or K.shape[0] != K.shape[1]:
        raise ValueError(f"K must be square, got shape {tuple(K.shape)}")
    n = K.shape[0]
    if n < 4:
        raise ValueError(f"the unbiased HSIC estimator needs n >= 4 samples, got {n}")
    if K.device.type == "mps":
        K = K.cpu()
    K = K.detach().to(torch.float64, copy=True)
    K.fill_diagonal_(0.0)
    rows = K.sum(dim=1, keepdim=True)
    cols = K.sum(dim=0, keepdim=True)
    total = rows.sum()
    U = K - rows / (n - 2) - cols / (n - 2) + total / ((n - 1) * (n - 2))
    U.fill_diagonal_(0.0)
    return U


def hsic_unbiased(K: torch.Tensor, L: torch.Tensor) -> float:
    """Unbiased HSIC estimate of one batch from its two (n, n) kernel matrices."""
    if K.shape != L.shape:
        raise ValueError(f"K {tuple(K.shape)} and L {tuple(L.shape)} differ")
    n = K.shape[0]
    UK, UL = u_center(K), u_center(L)
    return float((UK * UL.to(UK.device)).sum() / (n * (n - 3)))


def centered_stack(grams: Sequence[torch.Tensor]) -> torch.Tensor:
    """U-centre each (n, n) Gram matrix and stack them flattened: (len(grams), n²) float64.

    Useful to centre a reference model's Grams once and reuse them via
    :meth:`MinibatchCKA.update_centered`.
    """
    if len(grams) == 0:
        raise ValueError("need at least one Gram matrix")
    n = grams[0].shape[0]
    for g in grams:
        if tuple(g.shape) != (n, n):
            raise ValueError(f"all Gram matrices of a batch must be ({n}, {n}), got {tuple(g.shape)}")
    return torch.stack([u_center(g).reshape(-1) for g in grams])


class MinibatchCKA:
    """Accumulates the reference-layer × model-layer CKA matrix over mini-batches.

    Each :meth:`update` takes the Gram matrices of one mini-batch (every layer of both models, all
    on the same n samples; n may change between batches). Per batch the Grams are U-centred once
    and one matrix product gives every cross HSIC; the per-batch estimates are summed (equivalent
    to Nguyen et al.'s mean: the ratio is unaffected), in float64 on the CPU.
    """

    def __init__(self, num_ref_layers: int, num_model_layers: int):
        if num_ref_layers < 1 or num_model_layers < 1:
            raise ValueError("need at least one layer on each side")
        self.num_ref_layers = num_ref_layers
        self.num_model_layers = num_model_layers
        self.cross = np.zeros((num_ref_layers, num_model_layers), dtype=np.float64)
        self.self_ref = np.zeros(num_ref_layers, dtype=np.float64)
        self.self_model = np.zeros(num_model_layers, dtype=np.float64)
        self.batches = 0

    def update(self, ref_grams: Sequence[torch.Tensor], model_grams: Sequence[torch.Tensor]) -> None:
        """Add one mini-batch, given the Gram matrix of every reference layer and every model layer."""
        if len(ref_grams) != self.num_ref_layers or len(model_grams) != self.num_model_layers:
            raise ValueError(
                f"expected {self.num_ref_layers} reference and {self.num_model_layers} model Gram matrices, "
                f"got {len(ref_grams)} and {len(model_grams)}"
            )
        self.update_centered(centered_stack(ref_grams), centered_stack(model_grams))

    def update_centered(self, ref_u: torch.Tensor, model_u: torch.Tensor) -> None:
        """Add one mini-batch given already U-centred, flattened Grams from :func:`centered_stack`."""
        if ref_u.ndim != 2 or model_u.ndim != 2 or ref_u.shape[1] != model_u.shape[1]:
            raise ValueError(
                f"centred stacks must be (layers, n²) with equal n², got {tuple(ref_u.shape)} and "
                f"{tuple(model_u.shape)}"
            )
        if ref_u.shape[0] != self.num_ref_layers or model_u.shape[0] != self.num_model_layers:
            raise ValueError("centred stacks do not match the number of layers")
        n = int(round(ref_u.shape[1] ** 0.5))
        if n * n != ref_u.shape[1] or n < 4:
            raise ValueError(f"a centred stack row must hold n² values with n >= 4, got {ref_u.shape[1]}")
        ref_u = ref_u.to(torch.float64)
        model_u = model_u.to(device=ref_u.device, dtype=torch.float64)
        scale = 1.0 / (n * (n - 3))
        self.cross += (ref_u @ model_u.T).cpu().numpy() * scale
        self.self_ref += (ref_u * ref_u).sum(dim=1).cpu().numpy() * scale
        self.self_model += (model_u * model_u).sum(dim=1).cpu().numpy() * scale
        self.batches += 1

    def result(self) -> np.ndarray:
        """CKA matrix (num_ref_layers, num_model_layers), float64, clamped to [0, 1].

        A layer whose HSIC with itself is 0 (constant activations) gives 0, not NaN. Non-finite
        activations (a diverged model) give NaN, which stays visible.
        """
        if self.batches == 0:
            raise RuntimeError("MinibatchCKA.result() called before any update()")
        denominator = np.sqrt(np.outer(self.self_ref, self.self_model))
        with np.errstate(invalid="ignore", divide="ignore"):
            cka = np.where(denominator > 0, self.cross / np.where(denominator > 0, denominator, 1.0), 0.0)
        nan = np.isnan(denominator) | np.isnan(self.cross)
        cka = np.clip(cka, 0.0, 1.0)
        cka[nan] = np.nan
        return cka

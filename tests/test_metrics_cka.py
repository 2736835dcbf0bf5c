"""Linear minibatch CKA with the unbiased HSIC estimator, checked against an independent formula."""

import numpy as np
import pytest
import torch

from unlearning_comparator.metrics.cka import MinibatchCKA, centered_stack, gram, hsic_unbiased, u_center


def reference_hsic(K: np.ndarray, L: np.ndarray) -> float:
    """Song et al. (2012), eq. (5), written out directly in float64 (independent of u_center)."""
    n = K.shape[0]
    K = K.astype(np.float64).copy()
    L = L.astype(np.float64).copy()
    np.fill_diagonal(K, 0.0)
    np.fill_diagonal(L, 0.0)
    ones = np.ones(n)
    return (
        np.trace(K @ L)
        + (ones @ K @ ones) * (ones @ L @ ones) / ((n - 1) * (n - 2))
        - 2.0 / (n - 2) * (ones @ K @ L @ ones)
    ) / (n * (n - 3))


def reference_cka(xs_batches, ys_batches) -> float:
    """Minibatch CKA: per-batch unbiased HSIC summed over batches, then normalised."""
    xy = xx = yy = 0.0
    for x, y in zip(xs_batches, ys_batches):
        x = x.reshape(len(x), -1).astype(np.float64)
        y = y.reshape(len(y), -1).astype(np.float64)
        K, L = x @ x.T, y @ y.T
        xy += reference_hsic(K, L)
        xx += reference_hsic(K, K)
        yy += reference_hsic(L, L)
    return xy / np.sqrt(xx * yy)


def cka_of(xs_batches, ys_batches) -> float:
    acc = MinibatchCKA(1, 1)
    for x, y in zip(xs_batches, ys_batches):
        acc.update([gram(torch.as_tensor(x))], [gram(torch.as_tensor(y))])
    return float(acc.result()[0, 0])


def test_gram_flattens_and_uses_float32_on_cpu():
    x = torch.arange(2 * 3 * 2 * 2, dtype=torch.float64).reshape(2, 3, 2, 2)
    K = gram(x)
    assert K.shape == (2, 2) and K.dtype == torch.float32
    flat = x.reshape(2, -1)
    np.testing.assert_allclose(K.numpy(), (flat @ flat.T).numpy(), rtol=1e-6)


def test_u_center_properties():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 5))
    U = u_center(torch.tensor(x @ x.T))
    assert U.dtype == torch.float64
    np.testing.assert_array_equal(np.diag(U.numpy()), 0.0)
    # rows and columns of a U-centred matrix sum to zero
    np.testing.assert_allclose(U.sum(0).numpy(), 0.0, atol=1e-10)
    np.testing.assert_allclose(U.sum(1).numpy(), 0.0, atol=1e-10)
    with pytest.raises(ValueError, match="n >= 4"):
        u_center(torch.eye(3))


def test_hsic_matches_explicit_formula():
    rng = np.random.default_rng(1)
    for n in (4, 5, 12, 40):
        x, y = rng.normal(size=(n, 6)), rng.normal(size=(n, 3)) + 0.5 * rng.normal(size=(n, 1))
        K, L = x @ x.T, y @ y.T
        expected = reference_hsic(K, L)
        assert hsic_unbiased(torch.tensor(K), torch.tensor(L)) == pytest.approx(
            expected, rel=1e-10, abs=1e-12
        )


def test_single_batch_matches_reference():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 8))
    y = np.tanh(x @ rng.normal(size=(8, 5))) + 0.3 * rng.normal(size=(30, 5))
    assert cka_of([x], [y]) == pytest.approx(reference_cka([x], [y]), abs=1e-6)


def test_several_batches_of_different_sizes_match_reference():
    rng = np.random.default_rng(3)
    sizes = (20, 33, 8)
    xs = [rng.normal(size=(n, 10)) for n in sizes]
    ys = [np.maximum(x @ rng.normal(size=(10, 6)), 0) + 0.2 * rng.normal(size=(len(x), 6)) for x in xs]
    assert cka_of(xs, ys) == pytest.approx(reference_cka(xs, ys), abs=1e-6)


def test_full_layer_matrix_matches_reference():
    rng = np.random.default_rng(4)
    ref_layers = [lambda x: x, lambda x: np.maximum(x, 0), lambda x: x[:, :3] ** 2]
    model_layers = [lambda x: -2 * x, lambda x: np.sin(x)]
    batches = [rng.normal(size=(n, 6)) for n in (16, 25)]
    acc = MinibatchCKA(3, 2)
    for b in batches:
        acc.update(
            [gram(torch.tensor(f(b))) for f in ref_layers], [gram(torch.tensor(g(b))) for g in model_layers]
        )
    result = acc.result()
    assert result.shape == (3, 2) and result.dtype == np.float64
    for i, f in enumerate(ref_layers):
        for j, g in enumerate(model_layers):
            expected = np.clip(reference_cka([f(b) for b in batches], [g(b) for b in batches]), 0, 1)
            assert result[i, j] == pytest.approx(expected, abs=1e-6)
    assert result[0, 0] == pytest.approx(1.0, abs=1e-6)  # CKA(X, −2X) = 1


def test_invariances_and_symmetry():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(50, 12))
    y = np.tanh(x @ rng.normal(size=(12, 7)))
    q, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    assert cka_of([x], [x @ q]) == pytest.approx(1.0, abs=1e-6)  # orthogonal transform
    assert cka_of([x], [3.5 * x]) == pytest.approx(1.0, abs=1e-6)  # isotropic scaling
    assert cka_of([x], [y]) == pytest.approx(cka_of([y], [x]), abs=1e-7)  # symmetry
    # the value itself, against the independent formula (a range check would pass most wrong values)
    expected = reference_cka([x], [y])
    assert 0.1 < expected < 0.99  # a case where CKA is neither trivial 0 nor 1
    assert cka_of([x], [y]) == pytest.approx(expected, abs=1e-6)
    assert cka_of([y], [x]) == pytest.approx(reference_cka([y], [x]), abs=1e-6)


def test_independent_features_give_near_zero():
    rng = np.random.default_rng(6)
    xs = [rng.normal(size=(200, 64)) for _ in range(3)]
    ys = [rng.normal(size=(200, 64)) for _ in range(3)]
    assert cka_of(xs, ys) < 0.03


def test_convolution_shaped_activations():
    rng = np.random.default_rng(7)
    conv = rng.normal(size=(24, 4, 5, 5)).astype(np.float32)
    permuted = conv.transpose(0, 2, 3, 1).copy()  # the same features in another order
    assert cka_of([conv], [permuted]) == pytest.approx(1.0, abs=1e-6)
    logits = rng.normal(size=(24, 10)).astype(np.float32)
    assert cka_of([conv], [logits]) == pytest.approx(reference_cka([conv], [logits]), abs=1e-5)


def test_constant_layer_gives_zero_not_nan():
    rng = np.random.default_rng(8)
    acc = MinibatchCKA(1, 2)
    x = torch.tensor(rng.normal(size=(10, 4)))
    acc.update([gram(x)], [gram(torch.ones(10, 4)), gram(torch.zeros(10, 3))])
    np.testing.assert_array_equal(acc.result(), [[0.0, 0.0]])


def test_update_centered_reuses_reference_stack():
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=(12, 5)), rng.normal(size=(12, 5))
    ref = centered_stack([gram(torch.tensor(x))])
    assert ref.shape == (1, 144) and ref.dtype == torch.float64
    a, b = MinibatchCKA(1, 1), MinibatchCKA(1, 1)
    a.update([gram(torch.tensor(x))], [gram(torch.tensor(y))])
    b.update_centered(ref, centered_stack([gram(torch.tensor(y))]))
    np.testing.assert_array_equal(a.result(), b.result())
    # both paths share u_center: check the value against the independent formula too
    assert b.result()[0, 0] == pytest.approx(np.clip(reference_cka([x], [y]), 0, 1), abs=1e-6)


def test_errors():
    acc = MinibatchCKA(2, 1)
    with pytest.raises(RuntimeError):
        acc.result()
    g = gram(torch.ones(5, 2))
    with pytest.raises(ValueError):
        acc.update([g], [g])
    with pytest.raises(ValueError):
        acc.update([g, gram(torch.ones(6, 2))], [g])

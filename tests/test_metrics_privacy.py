"""Privacy-score pieces against hand-computed values (reference §5.3, literature §E.4/E.5)."""

import math

import numpy as np
import pytest
import torch

from unlearning_comparator.metrics.privacy import (
    CONFIDENCE_RANGE,
    CONFIDENCE_TEMPERATURE,
    ENTROPY_RANGE,
    ENTROPY_TEMPERATURE,
    attack_score,
    confidence,
    entropy,
    privacy_score,
    threshold_sweep,
)


def test_constants():
    assert ENTROPY_TEMPERATURE == 2.0 and CONFIDENCE_TEMPERATURE == 1.0
    assert ENTROPY_RANGE == (0.0, 2.5) and CONFIDENCE_RANGE == (-2.5, 10.0)


# --- entropy -----------------------------------------------------------------------------------


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0, 7.0])
@pytest.mark.parametrize("num_classes", [2, 3, 10])
def test_entropy_of_uniform_logits_is_log_c(temperature, num_classes):
    logits = np.full((4, num_classes), 3.7)
    np.testing.assert_allclose(entropy(logits, temperature), math.log(num_classes), rtol=1e-14)


def test_entropy_hand_value_at_t2():
    # logits 2·log p give softmax(z/2) = p = (0.25, 0.75): H = −(0.25 ln 0.25 + 0.75 ln 0.75) = 0.5623351446
    logits = torch.tensor([[2 * math.log(0.25), 2 * math.log(0.75)]], dtype=torch.float64)
    h = entropy(logits)
    assert h.dtype == np.float64 and h.shape == (1,)
    assert h[0] == pytest.approx(0.5623351446188083, abs=1e-12)


def test_entropy_is_stable_for_extreme_logits():
    h = entropy(np.array([[1000.0, 0.0, 0.0], [0.0, -np.inf, 0.0], [1e30, -1e30, 0.0]]))
    assert np.isfinite(h).all()
    assert h[0] == pytest.approx(0.0, abs=1e-100)
    assert h[1] == pytest.approx(math.log(2), abs=1e-14)  # a −inf logit contributes 0, not NaN
    assert h[2] == 0.0


def test_entropy_matches_direct_formula():
    rng = np.random.default_rng(1)
    z = rng.normal(scale=4, size=(50, 10))
    p = np.exp(z / 2 - np.log(np.exp(z / 2).sum(1, keepdims=True)))
    np.testing.assert_allclose(entropy(torch.tensor(z, dtype=torch.float64)), -(p * np.log(p)).sum(1), rtol=1e-12)


# --- confidence --------------------------------------------------------------------------------


def test_confidence_of_very_confident_logits_keeps_precision():
    # p_max = e^50 / (e^50 + 2): log-odds = 50 − ln 2 = 49.30685281944005, not inf
    c = confidence(torch.tensor([[50.0, 0.0, 0.0]]))
    assert c.dtype == np.float64
    assert c[0] == pytest.approx(49.30685281944005, abs=1e-12)
    assert confidence(np.array([[800.0, 0.0, 0.0]]))[0] == pytest.approx(800 - math.log(2), abs=1e-10)


def test_confidence_hand_values():
    # p = (0.8, 0.1, 0.1): log(0.8 / 0.2) = ln 4 = 1.3862943611
    # uniform over 4: log(0.25 / 0.75) = −ln 3
    # tie [1, 1, 0]: p_max = e / (2e + 1), log-odds = 1 − ln(e + 1) = −0.3132616875
    c = confidence(np.array([np.log([0.8, 0.1, 0.1]), [0.0, 0.0, 0.0], [1.0, 1.0, 0.0]]))
    np.testing.assert_allclose(c, [1.3862943611198906, -math.log(2), -0.3132616875182228], atol=1e-12)
    assert confidence(np.zeros((1, 4)))[0] == pytest.approx(-math.log(3), abs=1e-14)


def test_confidence_matches_original_formula_for_moderate_logits():
    rng = np.random.default_rng(2)
    z = rng.normal(scale=3, size=(200, 10))
    p = np.exp(z - z.max(1, keepdims=True))
    p_max = (p / p.sum(1, keepdims=True)).max(1)
    original = np.log(p_max + 1e-45) - np.log(1 - p_max + 1e-45)
    np.testing.assert_allclose(confidence(z), original, rtol=1e-9, atol=1e-9)


# --- attack score ------------------------------------------------------------------------------


def test_attack_score_worked_check_from_reference():
    # ε = min(ln(0.87999/0.17), ln(0.82999/0.12)) = min(1.644, 1.934); fq = 2^−1.644 = 0.320
    assert attack_score(0.12, 0.17) == pytest.approx(0.6800567591607902, abs=1e-12)
    assert round(float(attack_score(0.12, 0.17)), 3) == 0.680


def test_attack_score_edge_cases():
    assert attack_score(0.0, 0.0) == 1.0  # perfect separation: fq = 0
    assert attack_score(1.0, 0.0) == 0.0  # FPR ≥ 1 − δ: fq = 1
    assert attack_score(0.0, 1.0) == 0.0
    assert attack_score(1 - 1e-5, 0.3) == 0.0
    assert attack_score(0.5, 0.5) == 0.0  # ε clipped at 0 (chance level)
    assert attack_score(0.6, 0.6) == 0.0  # worse than chance (TPR 0.4 < FPR 0.6)
    # TPR 0.4 > FPR 0.3 is better than chance: ε = min(ln(0.69999/0.6), ln(0.39999/0.3)) = 0.154136
    assert attack_score(0.3, 0.6) == pytest.approx(0.10132983869252965, abs=1e-9)
    # one rate 0, the other not: clipped to 1e-10; ε = min(ln(0.99999/0.5), ln(0.49999/1e-10)) = 0.693137
    assert attack_score(0.0, 0.5) == pytest.approx(0.38149257498219646, abs=1e-12)


def test_attack_score_is_vectorised_and_symmetric():
    fpr = np.array([0.12, 0.17, 0.0, 1.0, 0.25])
    fnr = np.array([0.17, 0.12, 0.0, 0.0, 0.25])
    s = attack_score(fpr, fnr)
    assert s.shape == (5,) and s.dtype == np.float64
    np.testing.assert_allclose(s, [0.6800567591607902, 0.6800567591607902, 1.0, 0.0, 0.5330302359082291], atol=1e-12)
    np.testing.assert_allclose(attack_score(fpr[:, None], fnr[None, :]).shape, (5, 5))


# --- threshold sweep ---------------------------------------------------------------------------


def test_threshold_sweep_hand_example():
    model = np.array([0.2, 1.2, 1.8, 2.6])  # 2.6 is clipped to 2.0
    retrain = np.array([-1.0, 0.5, 0.8, 1.5])  # −1.0 is clipped to 0.0
    curves = threshold_sweep(model, retrain, low=0.0, high=2.0, n=3)
    assert set(curves) == {"above_unlearn", "above_retrain"}
    up = curves["above_unlearn"]  # positives = model values
    np.testing.assert_array_equal(up["threshold"], [0.0, 1.0, 2.0])
    # t=0: TPR 1, FPR 1.  t=1: model ≥ 1: 1.2, 1.8, 2.0 → TPR 3/4; retrain ≥ 1: 1.5 → FPR 1/4.
    # t=2: only the clipped 2.0 ≥ 2 → TPR 1/4; FPR 0.
    np.testing.assert_allclose(up["fpr"], [1.0, 0.25, 0.0])
    np.testing.assert_allclose(up["fnr"], [0.0, 0.25, 0.75])
    # t=1: ε = ln((1 − δ − 0.25)/0.25) = 1.0985990, score = 1 − 2^−ε = 0.5330302
    # t=2: ε = min(ln((1 − δ − 1e-10)/0.75), ln((0.25 − δ)/1e-10)) = 0.2876721, score = 0.1807771
    np.testing.assert_allclose(up["attack_score"], [0.0, 0.5330302359082291, 0.18077711217019132], atol=1e-12)

    down = curves["above_retrain"]  # positives = retrain values
    np.testing.assert_allclose(down["fpr"], [1.0, 0.75, 0.25])
    np.testing.assert_allclose(down["fnr"], [0.0, 0.75, 1.0])
    np.testing.assert_allclose(down["attack_score"], [0.0, 0.0, 0.0], atol=0)

    ps = privacy_score(c["attack_score"] for c in curves.values())
    assert ps == pytest.approx(1 - 0.5330302359082291, abs=1e-12)


def test_threshold_sweep_matches_loop_over_thresholds():
    rng = np.random.default_rng(3)
    model = rng.normal(1.0, 1.0, 300)
    retrain = torch.tensor(rng.normal(0.5, 1.5, 200))
    low, high = CONFIDENCE_RANGE
    curves = threshold_sweep(model, retrain, low, high)
    m, r = np.clip(model, low, high), np.clip(retrain.numpy(), low, high)
    for i, t in enumerate(np.linspace(low, high, 51)):
        assert curves["above_unlearn"]["fpr"][i] == np.mean(r >= t)
        assert curves["above_unlearn"]["fnr"][i] == 1 - np.mean(m >= t)
        assert curves["above_retrain"]["fpr"][i] == np.mean(m >= t)
        assert curves["above_retrain"]["fnr"][i] == 1 - np.mean(r >= t)
    assert all(len(c[k]) == 51 for c in curves.values() for k in c)


def test_identical_distributions_give_privacy_score_1():
    values = np.random.default_rng(4).uniform(-1, 3, 500)
    for low, high in (ENTROPY_RANGE, CONFIDENCE_RANGE):
        curves = threshold_sweep(values, values.copy(), low, high)
        assert privacy_score(c["attack_score"] for c in curves.values()) == 1.0


def test_separated_distributions_give_privacy_score_0():
    curves = threshold_sweep(np.full(50, 0.1), np.full(60, 2.0), *ENTROPY_RANGE)
    # retrain above the threshold, model below: FPR = FNR = 0 at some threshold
    assert privacy_score(c["attack_score"] for c in curves.values()) == 0.0


def test_threshold_sweep_rejects_bad_input():
    with pytest.raises(ValueError):
        threshold_sweep(np.array([]), np.array([1.0]), 0, 1)
    with pytest.raises(ValueError, match="NaN"):
        threshold_sweep(np.array([np.nan]), np.array([1.0]), 0, 1)
    with pytest.raises(ValueError):
        threshold_sweep(np.array([1.0]), np.array([1.0]), 1, 0)


def test_privacy_score_over_several_curves():
    assert privacy_score([np.array([0.1, 0.3]), np.array([0.2]), np.array([])]) == pytest.approx(0.7)
    with pytest.raises(ValueError):
        privacy_score([])

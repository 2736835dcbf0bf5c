"""Privacy-score pieces against hand-computed values: the Comparator's ε rule (minimum of the two terms,
gnueaj/Machine-Unlearning-Comparator backend/app/utils/attack.py) and the NeurIPS 2023 challenge's
(maximum of the two terms, google-deepmind/unlearning_evaluation metric.py)."""

import math

import numpy as np
import pytest
import torch

from unlearning_comparator.metrics.privacy import (
    CONFIDENCE_RANGE,
    CONFIDENCE_TEMPERATURE,
    ENTROPY_RANGE,
    ENTROPY_TEMPERATURE,
    challenge_attack_score,
    challenge_privacy_score,
    comparator_attack_score,
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
    np.testing.assert_allclose(
        entropy(torch.tensor(z, dtype=torch.float64)), -(p * np.log(p)).sum(1), rtol=1e-12
    )


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


# --- attack scores: the Comparator's rule and the challenge's ---------------------------------


def test_worked_example_min_rule_vs_max_rule():
    # the two terms: ln(0.87999/0.17) = 1.644, ln(0.82999/0.12) = 1.934 (δ = 1e-5)
    # Comparator (minimum): fq = 2^−1.644 = 0.320, score 0.680;
    # challenge (maximum): 2^−1.934 = 0.262, score 0.738
    assert comparator_attack_score(0.12, 0.17) == pytest.approx(0.6800567591607902, abs=1e-12)
    assert challenge_attack_score(0.12, 0.17) == pytest.approx(0.7382832636754317, abs=1e-12)
    assert round(float(comparator_attack_score(0.12, 0.17)), 3) == 0.680
    assert round(float(challenge_attack_score(0.12, 0.17)), 3) == 0.738


def test_perfect_separation_scores_1_under_both_rules():
    assert comparator_attack_score(0.0, 0.0) == 1.0  # fq = 0
    assert challenge_attack_score(0.0, 0.0) == 1.0  # ε = ∞


def test_one_sided_threshold_is_scored_by_the_comparator_and_discarded_by_the_challenge():
    # Comparator: FPR clipped to 1e-10; ε = min(ln(0.99999/0.5), ln(0.49999/1e-10)) = 0.693137
    assert comparator_attack_score(0.0, 0.5) == pytest.approx(0.38149257498219646, abs=1e-12)
    assert np.isnan(challenge_attack_score(0.0, 0.5))
    assert np.isnan(challenge_attack_score(0.5, 0.0))
    assert np.isnan(challenge_attack_score(1.0, 0.0))  # one rate 0: discarded, whatever the other


def test_a_rate_at_or_above_1_minus_delta():
    # Comparator: fq = 1. Challenge: ln(1 − δ − FPR) is NaN (FPR = 1) or −inf (FPR = 1 − δ), so the
    # other term decides: ln(0.69999) − ln(FPR) < 0, clipped to ε = 0
    for fpr in (1.0, 1 - 1e-5):
        assert comparator_attack_score(fpr, 0.3) == 0.0
        assert challenge_attack_score(fpr, 0.3) == 0.0
        assert challenge_attack_score(0.3, fpr) == 0.0
    assert comparator_attack_score(0.0, 1.0) == 0.0
    # both terms NaN: nothing to take the maximum of, the challenge discards the threshold
    assert comparator_attack_score(1.0, 1.0) == 0.0
    assert np.isnan(challenge_attack_score(1.0, 1.0))


def test_chance_level_and_better_than_chance():
    for score in (comparator_attack_score, challenge_attack_score):
        assert score(0.5, 0.5) == 0.0  # ε clipped at 0
        assert score(0.6, 0.6) == 0.0  # worse than chance (TPR 0.4 < FPR 0.6)
    # TPR 0.4 > FPR 0.3: terms ln(0.69999/0.6) = 0.154136 and ln(0.39999/0.3) = 0.287657
    assert comparator_attack_score(0.3, 0.6) == pytest.approx(1 - 2**-0.15413639401, abs=1e-10)
    assert challenge_attack_score(0.3, 0.6) == pytest.approx(1 - 2**-0.28765707214, abs=1e-10)


def test_attack_scores_are_vectorised_and_symmetric():
    fpr = np.array([0.12, 0.17, 0.0, 1.0, 0.25, 0.0])
    fnr = np.array([0.17, 0.12, 0.0, 0.0, 0.25, 0.5])
    comparator = comparator_attack_score(fpr, fnr)
    challenge = challenge_attack_score(fpr, fnr)
    assert comparator.shape == challenge.shape == (6,) and comparator.dtype == challenge.dtype == np.float64
    np.testing.assert_allclose(
        comparator,
        [0.6800567591607902, 0.6800567591607902, 1.0, 0.0, 0.5330302359082291, 0.38149257498219646],
        atol=1e-12,
    )
    np.testing.assert_allclose(
        challenge,
        [0.7382832636754317, 0.7382832636754317, 1.0, np.nan, 0.5330302359082291, np.nan],
        atol=1e-12,
    )
    assert comparator_attack_score(fpr[:, None], fnr[None, :]).shape == (6, 6)
    grid = challenge_attack_score(fpr[:, None], fnr[None, :])
    assert grid.shape == (6, 6)
    np.testing.assert_array_equal(
        np.diagonal(grid), challenge
    )  # the (fpr[i], fnr[i]) pairs; NaN where discarded


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
    # the challenge's rule discards t=0 (FNR 0) and t=2 (FPR 0); t=1 is symmetric, so both rules agree there
    np.testing.assert_allclose(up["attack_score_challenge"], [np.nan, 0.5330302359082291, np.nan], atol=1e-12)

    down = curves["above_retrain"]  # positives = retrain values
    np.testing.assert_allclose(down["fpr"], [1.0, 0.75, 0.25])
    np.testing.assert_allclose(down["fnr"], [0.0, 0.75, 1.0])
    np.testing.assert_allclose(down["attack_score"], [0.0, 0.0, 0.0], atol=0)
    # t=2: FNR = 1 makes ln(1 − δ − FNR) NaN; the other term ln(0.74999/1) < 0 gives ε = 0
    np.testing.assert_allclose(down["attack_score_challenge"], [np.nan, 0.0, 0.0], atol=0)

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


def test_challenge_privacy_score_hand_example():
    # above_unlearn at t = 5: model values ≥ 5: 3 of 5 → FNR 0.4; retrained values ≥ 5: 1 of 5 → FPR 0.2.
    # Terms: ln(0.79999/0.4) = 0.693135, ln(0.59999/0.2) = 1.098596. above_retrain at t = 5: FPR 0.6,
    # FNR 0.8, ε = 0 under both rules. t = 0 (everyone) and t = 10 (no one) are one-sided: the
    # challenge discards them, the Comparator scores them 0.
    model = np.array([1.0, 1.0, 6.0, 6.0, 6.0])
    retrain = np.array([1.0, 1.0, 1.0, 1.0, 6.0])
    curves = threshold_sweep(model, retrain, low=0.0, high=10.0, n=3)
    np.testing.assert_allclose(curves["above_unlearn"]["fpr"], [1.0, 0.2, 0.0])
    np.testing.assert_allclose(curves["above_unlearn"]["fnr"], [0.0, 0.4, 1.0])
    ps = privacy_score(c["attack_score"] for c in curves.values())
    ps_challenge = challenge_privacy_score(c["attack_score_challenge"] for c in curves.values())
    assert ps == pytest.approx(2**-0.69313468048, abs=1e-10)  # 0.6185: PS = fq of the min rule
    assert ps_challenge == pytest.approx(2**-1.09859562186, abs=1e-10)  # 0.4670
    assert ps_challenge < ps


def test_challenge_privacy_score_skips_discarded_thresholds():
    assert challenge_privacy_score([np.array([np.nan, 0.2]), np.array([0.5, np.nan]), np.array([])]) == 0.5
    # every threshold discarded: no threshold tells the models apart
    assert challenge_privacy_score([np.array([np.nan, np.nan]), np.array([np.nan])]) == 1.0
    # both models give every image the same value: each threshold calls all or none of both
    curves = threshold_sweep(np.full(5, 1.0), np.full(7, 1.0), *ENTROPY_RANGE)
    assert all(np.isnan(c["attack_score_challenge"]).all() for c in curves.values())
    assert challenge_privacy_score(c["attack_score_challenge"] for c in curves.values()) == 1.0


def test_perfect_separation_gives_challenge_privacy_score_0():
    curves = threshold_sweep(np.full(50, 0.1), np.full(60, 2.0), *ENTROPY_RANGE)
    assert challenge_privacy_score(c["attack_score_challenge"] for c in curves.values()) == 0.0

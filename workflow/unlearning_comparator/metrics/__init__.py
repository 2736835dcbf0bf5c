"""Metric functions: small, pure (no I/O), vectorised; tensors in, NumPy / float out.

* :mod:`.accuracy` — per-class accuracy, UA/RA/TUA/TRA and the literature's TA for each kind of forget
  set, prediction matrices;
* :mod:`.privacy` — entropy / confidence statistics, threshold sweep, the Comparator's and the NeurIPS
  2023 challenge's ε attack scores and privacy scores;
* :mod:`.mia` — SalUn-convention MIA efficacy;
* :mod:`.cka` — linear minibatch CKA with the unbiased HSIC estimator.
"""

from .accuracy import (
    accuracy_outside_class,
    accuracy_outside_classes,
    class_set_metrics,
    forget_metrics,
    per_class_accuracy,
    prediction_matrices,
    random_set_metrics,
    share_correct,
)
from .cka import MinibatchCKA, centered_stack, gram, hsic_unbiased, u_center
from .mia import (
    MIASets,
    mia_efficacy,
    mia_predictions,
    mia_sets_of_masks,
    salun_mia_sets,
    true_class_confidence,
)
from .privacy import (
    CONFIDENCE_RANGE,
    CONFIDENCE_TEMPERATURE,
    DELTA,
    DIRECTIONS,
    ENTROPY_RANGE,
    ENTROPY_TEMPERATURE,
    N_THRESHOLDS,
    challenge_attack_score,
    challenge_privacy_score,
    comparator_attack_score,
    confidence,
    entropy,
    privacy_score,
    threshold_sweep,
)

__all__ = [
    "CONFIDENCE_RANGE",
    "CONFIDENCE_TEMPERATURE",
    "DELTA",
    "DIRECTIONS",
    "ENTROPY_RANGE",
    "ENTROPY_TEMPERATURE",
    "MIASets",
    "MinibatchCKA",
    "N_THRESHOLDS",
    "accuracy_outside_class",
    "accuracy_outside_classes",
    "centered_stack",
    "class_set_metrics",
    "challenge_attack_score",
    "challenge_privacy_score",
    "comparator_attack_score",
    "confidence",
    "entropy",
    "forget_metrics",
    "gram",
    "hsic_unbiased",
    "mia_efficacy",
    "mia_predictions",
    "mia_sets_of_masks",
    "per_class_accuracy",
    "prediction_matrices",
    "privacy_score",
    "random_set_metrics",
    "salun_mia_sets",
    "share_correct",
    "threshold_sweep",
    "true_class_confidence",
    "u_center",
]

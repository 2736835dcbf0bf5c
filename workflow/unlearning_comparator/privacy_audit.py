"""The per-example privacy audit of one forget set: every model judged against shadow models of other
replicates.

An experiment with R replicate seeds has, per setting (a method's grid point, or the original model), R
models made the same way from R different originals, and R retrained models. Each replicate's model is
audited in turn, with the next K replicates (in seed order, wrapping round) as its shadow models — the
leave-one-out use of replicates that makes every model both audited and shadow:

* **U-LiRA** (Hayes et al., arXiv:2403.01218): per forget image, Gaussians over the K shadows' unlearned
  and K shadows' retrained logit-scaled confidences; the positives are the audited model's likelihood
  ratios, the negatives those of the retrained model of the *same* replicate, judged by the same shadows.
  Their ROC gives AUC and TPR at 1 % and 0.1 % FPR: 0.5 and the FPR itself are retraining's.
* **Offline RMIA** (Zarifzadeh et al., ICML 2024): the same positives and negatives, scored against the K
  shadows' retrained models alone (reference models that never saw the forget set), with the test split as
  the population. It needs no unlearned shadows: the cheaper tier.
* **The NeurIPS 2023 challenge's forget quality** (``metrics.challenge_score``): per setting, each image's ε
  over the R unlearned against the R retrained models, and F × the utility ratios.

The retrained model is audited as a *calibration*: replicate i's retrained model (positives) against
replicate i + 1's (negatives), with the other replicates' retrained models split into two halves playing
"unlearned" and "retrained" shadows. Nothing tells the two apart, so its AUC must come out near 0.5; the
original model, which trained on the forget set, must come out far above.

Unlike Hayes et al., whose shadow models forget different random draws, every replicate here forgets the
same forget set (as the challenge's models did): the attacker knows the set, and the shadows differ in
their training's randomness.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .metrics.challenge_score import final_score, forget_quality, logit_scaled_confidence
from .metrics.mia import true_class_confidence
from .metrics.shadow_attacks import auc, rmia_scores, roc, tpr_at_fpr, ulira_scores
from .tables.schema import AUDIT_ROC_FPR

MIN_SHADOWS = 2  # a Gaussian (or an RMIA reference mean worth the name) needs two models
ROC_FPR = np.asarray(AUDIT_ROC_FPR)


@dataclass(frozen=True)
class ModelOutputs:
    """What the audit needs of one model, from its logits: on the forget set's training images, the
    true class's logit-scaled confidence and probability; on the test split (RMIA's population), the true
    class's probability; the accuracies of the challenge's utility ratios."""

    forget_confidence: np.ndarray
    forget_probability: np.ndarray
    population_probability: np.ndarray
    retain_accuracy: float
    test_accuracy: float

    @classmethod
    def of_logits(
        cls,
        train_logits: np.ndarray,
        train_labels: np.ndarray,
        test_logits: np.ndarray,
        test_labels: np.ndarray,
        forget: np.ndarray,
    ) -> ModelOutputs:
        """From a model's logits on the training and test splits; ``forget``: the forget set's positions
        in the training split."""
        train_logits = np.asarray(train_logits, np.float64)
        test_logits = np.asarray(test_logits, np.float64)
        retain = np.ones(len(train_labels), bool)
        retain[forget] = False
        return cls(
            forget_confidence=logit_scaled_confidence(train_logits[forget], train_labels[forget]),
            forget_probability=true_class_confidence(train_logits[forget], train_labels[forget]),
            population_probability=true_class_confidence(test_logits, test_labels),
            retain_accuracy=float((train_logits[retain].argmax(1) == train_labels[retain]).mean()),
            test_accuracy=float((test_logits.argmax(1) == test_labels).mean()),
        )


@dataclass(frozen=True)
class AttackFigures:
    auc: float
    tpr_1pct: float
    tpr_01pct: float
    roc_tpr: np.ndarray  # at ROC_FPR
    scores: np.ndarray  # the audited model's per-image scores (the positives)
    negatives: np.ndarray  # the same replicate's retrained model's, judged by the same shadows


@dataclass
class AuditRow:
    """One audited model's row of audit.arrow, and its per-image scores (audit_instances.arrow)."""

    run_id: str
    setting_id: str
    seed: int
    shadow_models: int | None = None
    ulira: AttackFigures | None = None
    rmia: AttackFigures | None = None
    # the setting's figures: every audited replicate's positives and negatives pooled
    ulira_setting: AttackFigures | None = None
    rmia_setting: AttackFigures | None = None
    epsilon_models: int | None = None
    forget_quality: float | None = None
    challenge_score: float | None = None
    epsilons: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)


def attack_figures(positives: np.ndarray, negatives: np.ndarray) -> AttackFigures:
    fpr, tpr = roc(positives, negatives)
    # the best TPR among thresholds with FPR at most each grid point (the curve is monotone in both)
    at_grid = tpr[np.searchsorted(fpr, ROC_FPR, side="right") - 1]
    return AttackFigures(
        auc=auc(fpr, tpr),
        tpr_1pct=tpr_at_fpr(fpr, tpr, 0.01),
        tpr_01pct=tpr_at_fpr(fpr, tpr, 0.001),
        roc_tpr=at_grid.astype(np.float32),
        scores=np.asarray(positives),
        negatives=np.asarray(negatives),
    )


def shadow_seeds(seeds: list[int], audited: int, k: int) -> list[int]:
    """The next ``k`` seeds after ``audited`` in ``seeds``' order, wrapping round."""
    at = seeds.index(audited)
    return [seeds[(at + step) % len(seeds)] for step in range(1, min(k, len(seeds) - 1) + 1)]


def _attacks(
    audited: ModelOutputs,
    negative: ModelOutputs,
    unlearned_shadows: list[ModelOutputs],
    retrained_shadows: list[ModelOutputs],
    rmia_a: float,
) -> tuple[AttackFigures, AttackFigures]:
    """U-LiRA and RMIA, positives ``audited``, negatives ``negative``, judged by the same shadows."""
    conf_u = np.stack([m.forget_confidence for m in unlearned_shadows])
    conf_r = np.stack([m.forget_confidence for m in retrained_shadows])
    ulira = [ulira_scores(m.forget_confidence, conf_u, conf_r) for m in (audited, negative)]
    ref_x = np.stack([m.forget_probability for m in retrained_shadows])
    ref_z = np.stack([m.population_probability for m in retrained_shadows])
    rmia = [
        rmia_scores(m.forget_probability, ref_x, m.population_probability, ref_z, a=rmia_a)
        for m in (audited, negative)
    ]
    return attack_figures(*ulira), attack_figures(*rmia)


def audit_setting(
    setting: dict[int, tuple[str, ModelOutputs | None]],
    retrained: dict[int, ModelOutputs],
    seeds: list[int],
    setting_id: str,
    k: int,
    rmia_a: float,
) -> list[AuditRow]:
    """The rows of one setting (an unlearning grid point or the original): ``setting`` maps each replicate
    seed to (run id, outputs; None for a failed run); ``retrained`` each seed to its retrained model."""
    usable = [s for s in seeds if s in setting and setting[s][1] is not None and s in retrained]
    rows = []
    for seed in seeds:
        if seed not in setting:
            continue
        run_id, outputs = setting[seed]
        row = AuditRow(run_id, setting_id, seed)
        rows.append(row)
        if outputs is None:
            row.notes.append("the run failed")
            continue
        shadows = shadow_seeds(usable, seed, k)
        if len(shadows) < MIN_SHADOWS:
            row.notes.append(f"{len(shadows)} usable shadow replicates, fewer than {MIN_SHADOWS}")
            continue
        row.shadow_models = len(shadows)
        row.ulira, row.rmia = _attacks(
            outputs,
            retrained[seed],
            [setting[s][1] for s in shadows],
            [retrained[s] for s in shadows],
            rmia_a,
        )
    ran = [row for row in rows if setting[row.seed][1] is not None]
    _pool(ran)
    _challenge(ran, [setting[s][1] for s in usable], [retrained[s] for s in usable])
    return rows


def audit_retrained(
    retrained: dict[int, tuple[str, ModelOutputs]], seeds: list[int], setting_id: str, k: int, rmia_a: float
) -> list[AuditRow]:
    """The retrained model's calibration rows: replicate i's retrained model against replicate i + 1's,
    the other replicates' split into "unlearned" and "retrained" shadows (at most ``k`` each); the
    challenge's F of the first half of the replicates' retrained models against the second half."""
    usable = [s for s in seeds if s in retrained]
    rows = []
    for seed in usable:
        run_id, outputs = retrained[seed]
        row = AuditRow(run_id, setting_id, seed)
        rows.append(row)
        order = shadow_seeds(usable, seed, len(usable))  # every other replicate, from the next one
        if len(order) < 1 + 2 * MIN_SHADOWS:
            row.notes.append(
                f"the calibration needs {2 + 2 * MIN_SHADOWS} replicates (the audited pair and two halves "
                f"of shadows), not {len(usable)}"
            )
            continue
        negative, others = order[0], order[1:]
        half = min(k, len(others) // 2)
        as_unlearned, as_retrained = others[:half], others[half : 2 * half]
        row.shadow_models = half
        row.ulira, row.rmia = _attacks(
            outputs,
            retrained[negative][1],
            [retrained[s][1] for s in as_unlearned],
            [retrained[s][1] for s in as_retrained],
            rmia_a,
        )
    _pool(rows)
    half = len(usable) // 2
    models = [retrained[s][1] for s in usable]
    _challenge(rows, models[:half], models[half : 2 * half])
    return rows


def _pool(rows: list[AuditRow]) -> None:
    """The setting's pooled figures on each of its rows: one pair of models is one draw of the models'
    randomness (on a whole class, a model's confidences shift together), many pairs average it out."""
    audited = [row for row in rows if row.ulira is not None]
    if not audited:
        return
    for name in ("ulira", "rmia"):
        figures = [getattr(row, name) for row in audited]
        pooled = attack_figures(
            np.concatenate([f.scores for f in figures]), np.concatenate([f.negatives for f in figures])
        )
        for row in audited:
            setattr(row, f"{name}_setting", pooled)


def _challenge(rows: list[AuditRow], unlearned: list[ModelOutputs], retrained: list[ModelOutputs]) -> None:
    """The challenge's F and final score of a setting, on each of its rows (the same for every replicate)."""
    n = min(len(unlearned), len(retrained))
    if n < MIN_SHADOWS + 1:  # ⌈ln(N − 1)⌉ leaves no bucket below N = 3
        for row in rows:
            row.notes.append(f"the challenge's score needs 3 models of each kind, not {n}")
        return
    unlearned, retrained = unlearned[:n], retrained[:n]
    quality, epsilons = forget_quality(
        np.stack([m.forget_confidence for m in unlearned]), np.stack([m.forget_confidence for m in retrained])
    )
    score = final_score(
        quality,
        float(np.mean([m.retain_accuracy for m in unlearned])),
        float(np.mean([m.retain_accuracy for m in retrained])),
        float(np.mean([m.test_accuracy for m in unlearned])),
        float(np.mean([m.test_accuracy for m in retrained])),
    )
    for row in rows:
        row.epsilon_models, row.forget_quality, row.challenge_score = n, quality, score
        row.epsilons = epsilons

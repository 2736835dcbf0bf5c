"""Schemas of the consolidated tables in ``results/<exp>/tables/``.

The metrics are defined per kind of forget set (one class, several classes, a random sample of training
images): class-wise sets follow the Unlearning Comparator (arXiv:2508.12730) generalised to several
classes, random sets SalUn's (arXiv:2310.12508) and l1-sparse's (arXiv:2304.04934) random-data forgetting.

Each column carries its documentation in the field metadata (``doc``); ``docs/tables.md`` is
generated from here. ``runs.arrow``'s schema metadata holds the experiment description
(``experiment``: JSON with name, dataset, model, class names, layer groups, versions, parameters),
so the site can be built from the tables alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pyarrow as pa


def _f(name: str, type_: pa.DataType, doc: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable, metadata={"doc": doc})


# The test images a reported metric uses: the validation split's are kept for choosing settings.
_OUTSIDE_VALIDATION = "the test images outside the validation split"
# How class-wise (class / classes) and random forget sets differ, stated once for the column docs.
_CLASS_WISE = "class-wise sets (one or several whole classes)"
_RANDOM = "random sets (a seeded random share of the training split)"
_VALIDATION_SPLIT = (
    "The validation split is config selection.validation_fraction of each class's test images, drawn with "
    "the experiment's seed from outside the CKA test pool; no other column uses its images"
)


def runs_schema(num_classes: int) -> pa.Schema:
    acc = pa.list_(pa.float64(), num_classes)
    return pa.schema(
        [
            _f(
                "run_id",
                pa.string(),
                "Unique id of the model within the experiment, forget set and replicate; keys every other "
                "table. With several seeds it ends in -seed<s>",
                False,
            ),
            _f(
                "forget_set",
                pa.string(),
                "Id of the forget set this row's metrics treat as forgotten (fc4: class 4; fc2_4: classes "
                "2 and 4; rnd10s1: a random 10 % of the training split drawn with seed 1); see "
                "forget_sets.arrow",
                False,
            ),
            _f(
                "setting_id",
                pa.string(),
                "The run id without its -seed<s> suffix: the rows of one forget set, method and grid point "
                "(or reference model) across replicates share it; keys summary.arrow",
                False,
            ),
            _f(
                "forget_class",
                pa.int16(),
                "The forget set's class when it is exactly one whole class; null for other forget sets "
                "(kept for tables made before forget sets)",
            ),
            _f("type", pa.string(), "original, retrained, unlearned or external", False),
            _f(
                "method",
                pa.string(),
                "Method id (its module name in methods/); null for original and retrained",
            ),
            _f("method_name", pa.string(), "The method's display name (e.g. 'Gradient Ascent')"),
            _f(
                "base",
                pa.string(),
                "run_id of the model the method started from; null for original and retrained",
            ),
            _f(
                "seed",
                pa.int64(),
                "The replicate's seed: the seed its original model was trained with (config seeds). The "
                "method's own unlearning seed is hyperparameters.seed (the same unless the config gives "
                "methods.<id>.seeds)",
            ),
            _f(
                "epochs", pa.int32(), "Epochs (unlearning epochs; training epochs for original and retrained)"
            ),
            _f("lr", pa.float64(), "Learning rate"),
            _f("batch_size", pa.int32(), "Batch size"),
            _f("hyperparameters", pa.string(), "All hyperparameters of the run, as a JSON object"),
            _f(
                "UA",
                pa.float64(),
                "Unlearning accuracy (lower is better; the retrained model is the target). For "
                f"{_CLASS_WISE}: the unweighted mean training accuracy over the set's classes (the "
                f"Comparator's UA for one class); for {_RANDOM}: the share of the forget set's images "
                "classified correctly (SalUn, l1-sparse)",
            ),
            _f(
                "RA",
                pa.float64(),
                f"Retain accuracy. For {_CLASS_WISE}: the unweighted mean training accuracy over the other "
                "classes (the Comparator's RA; equals the literature's accuracy on the retain training set "
                "when every retain class has as many training images, as in every data set the workflow "
                f"supports); for {_RANDOM}: the share of the retain set's images classified correctly",
            ),
            _f(
                "TUA",
                pa.float64(),
                f"Test unlearning accuracy: for {_CLASS_WISE}, the unweighted mean accuracy over the set's "
                f"classes on their test images ({_OUTSIDE_VALIDATION}, as for every test metric here); null "
                "for random sets, which have no test counterpart",
            ),
            _f(
                "TRA",
                pa.float64(),
                "Test retain accuracy: unweighted mean test accuracy over the other classes for "
                f"{_CLASS_WISE}, over all classes for random sets ({_OUTSIDE_VALIDATION})",
            ),
            _f(
                "TA",
                pa.float64(),
                "Testing accuracy of the SalUn / l1-sparse literature, weighted by image (unlike TRA): for "
                f"{_CLASS_WISE}, the share of the test images outside the set's classes classified "
                f"correctly; for random sets, the share of all test images ({_OUTSIDE_VALIDATION})",
            ),
            _f(
                "RTE",
                pa.float64(),
                "Seconds of the unlearning loop alone (retraining time for retrained; null for original)",
            ),
            _f("device", pa.string(), "Device the RTE was measured on"),
            _f(
                "PS",
                pa.float64(),
                "The Comparator's privacy score: 1 - the largest attack_score (the Comparator's epsilon "
                "rule, minimum of the two terms) over the 4 forget_set curves in attack.arrow (1 is best): "
                "the attack tells this model from the retrained model of the same forget set and replicate "
                "on the forget set's training images",
            ),
            _f(
                "PS_challenge",
                pa.float64(),
                "Privacy score by the NeurIPS 2023 unlearning challenge's epsilon rule (maximum of the two "
                "terms): 1 - the largest non-NaN attack_score_challenge over the 4 forget_set curves; "
                "1.0 if every threshold is discarded; null without forget_set curves (converted upstream "
                "files)",
            ),
            _f(
                "MIA_efficacy",
                pa.float64(),
                "SalUn-convention MIA efficacy (arXiv:2310.12508): share of the forget set an RBF SVC on "
                "true-class confidence calls non-member (non-members: the test images outside the validation "
                "split and outside the forget set's classes (every one of them for random sets); members: as "
                "many retain training images, the first by index)",
            ),
            _f(
                "avg_gap",
                pa.float64(),
                "Avg. Gap of the SalUn / l1-sparse literature: mean absolute difference from the retrained "
                "model of the same forget set and replicate over UA, RA, TA and MIA_efficacy (null if one "
                "is missing)",
            ),
            _f(
                "val_UA",
                pa.float64(),
                "Validation unlearning accuracy: share of the validation split's images of the forget set's "
                "classes classified correctly; null for random sets (no test counterpart). "
                f"{_VALIDATION_SPLIT}",
            ),
            _f(
                "val_RA",
                pa.float64(),
                "Validation retain accuracy: share of the validation split's other images (not of the forget "
                "set's classes; all of them for random sets) classified correctly",
            ),
            _f(
                "val_gap",
                pa.float64(),
                "Validation gap, what `chosen` minimises: mean absolute difference from the retrained "
                "model of the same forget set and replicate over val_UA and val_RA (val_RA's alone where "
                "val_UA is null); 0 for the retrained model; null for a failed run. val_UA, val_RA and "
                "val_gap are null in tables converted from upstream files",
            ),
            _f(
                "chosen",
                pa.bool_(),
                "Whether this run is its method's chosen setting for this forget set and replicate: among "
                "the method's runs of that replicate with status ok, the one with the smallest val_gap "
                "(ties: the smaller RTE, then the smaller run_id). False for its other grid points and "
                "failed runs, and for the original, retrained and external models (no grid to choose "
                "from); null in tables converted from upstream files (no validation split there). "
                "summary.arrow's chosen chooses across replicates",
            ),
            _f("train_acc", acc, "Per-class training accuracy, in class order"),
            _f("test_acc", acc, f"Per-class test accuracy ({_OUTSIDE_VALIDATION}), in class order"),
            _f("status", pa.string(), "ok or failed", False),
            _f("error", pa.string(), "Why a failed run failed (null when ok)"),
        ]
    )


def instances_schema(num_classes: int) -> pa.Schema:
    return pa.schema(
        [
            _f("run_id", pa.string(), "The model (see runs.arrow)", False),
            _f("index", pa.int32(), "Index of the image in the training split", False),
            _f("label", pa.int16(), "True class", False),
            _f("pred", pa.int16(), "Predicted class (argmax of the logits)", False),
            _f(
                "is_forget",
                pa.bool_(),
                "Whether the image belongs to the forget set of this row's run (see forget_sets.arrow)",
                False,
            ),
            _f("probs", pa.list_(pa.float32(), num_classes), "Softmax probabilities at T = 1", False),
            _f("entropy", pa.float32(), "Shannon entropy (nats) of the softmax at T = 2", False),
            _f(
                "confidence",
                pa.float64(),
                "log p_max - log(1 - p_max) of the softmax at T = 1, from float64 logits",
                False,
            ),
            _f(
                "x",
                pa.float32(),
                "Embedding x (UMAP of penultimate features; one frame per forget set: the first replicate's "
                "original's layout, every other model aligned to its own replicate's original, itself "
                "aligned to the first)",
                False,
            ),
            _f("y", pa.float32(), "Embedding y", False),
        ]
    )


PREDICTIONS = pa.schema(
    [
        _f("run_id", pa.string(), "The model", False),
        _f(
            "split",
            pa.string(),
            f"train (the whole training split) or test ({_OUTSIDE_VALIDATION})",
            False,
        ),
        _f("true", pa.int16(), "True class", False),
        _f("pred", pa.int16(), "Predicted class", False),
        _f(
            "proportion",
            pa.float64(),
            "Share of the true class's images predicted as `pred` (rows sum to 1)",
            False,
        ),
        _f(
            "mean_confidence",
            pa.float64(),
            "Mean softmax (T = 1) probability given to `pred` over the true class's images",
            False,
        ),
    ]
)

SIMILARITY = pa.schema(
    [
        _f("run_id", pa.string(), "The model", False),
        _f("reference", pa.string(), "original or retrained: the model it is compared with", False),
        _f(
            "split",
            pa.string(),
            "train or test: the split's CKA pool (the test pool holds no image of the validation split)",
            False,
        ),
        _f("subset", pa.string(), "forget or retain", False),
        _f("reference_layer", pa.string(), "Layer group of the reference model", False),
        _f("layer", pa.string(), "Layer group of this model", False),
        _f("cka", pa.float64(), "Linear minibatch CKA (unbiased HSIC), clamped to [0, 1]", False),
    ]
)

ATTACK = pa.schema(
    [
        _f("run_id", pa.string(), "The model", False),
        _f(
            "scope",
            pa.string(),
            "forget_set (every training image of the forget set; gives PS and PS_challenge) or subset "
            "(the evaluation subset's forget-set images, as in the site; none when it holds no image of the "
            "set); the curves compare the model with the retrained model of its own replicate",
            False,
        ),
        _f("metric", pa.string(), "entropy (T = 2) or confidence (T = 1)", False),
        _f(
            "direction",
            pa.string(),
            "above_unlearn: values >= threshold are called 'this model'; above_retrain: called 'retrained'",
            False,
        ),
        _f("threshold", pa.float64(), "Threshold", False),
        _f("fpr", pa.float64(), "False-positive rate at the threshold", False),
        _f("fnr", pa.float64(), "False-negative rate at the threshold", False),
        _f(
            "attack_score",
            pa.float64(),
            "1 - 2^-epsilon by the Comparator's epsilon rule (minimum of the two terms, rates clipped; "
            "delta = 1e-5); gives PS",
            False,
        ),
        _f(
            "attack_score_challenge",
            pa.float64(),
            "1 - 2^-epsilon by the NeurIPS 2023 challenge's epsilon rule (maximum of the two terms, "
            "delta = 1e-5); NaN where that rule discards the threshold (exactly one of fpr, fnr is 0); "
            "gives PS_challenge",
            False,
        ),
    ]
)

SUBSET = pa.schema(
    [
        _f("index", pa.int32(), "Index of the image in the training split", False),
        _f("label", pa.int16(), "True class", False),
        _f("sprite", pa.int32(), "Position of its thumbnail in thumbnails.png (row-major)", False),
    ]
)


FORGET_SETS = pa.schema(
    [
        _f("forget_set", pa.string(), "The forget set's id (runs.arrow's forget_set)", False),
        _f(
            "kind",
            pa.string(),
            "class (one whole class), classes (several whole classes at once) or random (a seeded, uniform "
            "random share of the training split across all classes, as SalUn's and l1-sparse's random-data "
            "forgetting)",
            False,
        ),
        _f("name", pa.string(), "Display name ('Coat', 'Coat + Bag', 'random 10 % · seed 1')", False),
        _f("classes", pa.list_(pa.int16()), "The set's classes, ascending; empty for random sets", False),
        _f(
            "fraction",
            pa.float64(),
            "The set's share of the training split: the drawn fraction for random sets, the actual share "
            "for class-wise sets; null where unknown (converted upstream files)",
        ),
        _f("draw_seed", pa.int64(), "Seed of a random set's draw; null for class-wise sets"),
        _f("size", pa.int32(), "Training images in the set; null where unknown (converted upstream files)"),
        _f(
            "members",
            pa.list_(pa.int32()),
            "Data-set indices (instances.arrow's index) of the set's training images, ascending; null "
            "where unknown (converted upstream files hold no labels)",
        ),
    ]
)

# The FPR grid of the audit's ROC curves (audit.arrow's *_roc_tpr): log-spaced from 1e-4 to 1, so that a
# log-log plot shows the low-FPR regime the privacy literature reports.
AUDIT_ROC_FPR: tuple[float, ...] = tuple(float(10 ** (-4 + i / 10)) for i in range(41))

_AUDIT_RATES = (
    "the audited model's scores on the forget set's training images (positives) against those of the "
    "retrained model of the same replicate (negatives), each judged by shadow models of other replicates"
)

AUDIT = pa.schema(
    [
        _f("run_id", pa.string(), "The audited model (see runs.arrow)", False),
        _f("forget_set", pa.string(), "The forget set", False),
        _f("setting_id", pa.string(), "The setting (runs.arrow's setting_id)", False),
        _f("seed", pa.int64(), "The audited model's replicate seed", False),
        _f(
            "shadow_models",
            pa.int32(),
            "Shadow models per side this row's U-LiRA and RMIA used (models of other replicates: K "
            "unlearned and K retrained for U-LiRA, K retrained for RMIA); the retrained model's "
            "calibration row splits the other replicates' retrained models into two halves",
        ),
        _f("ulira_auc", pa.float64(), f"U-LiRA's ROC AUC: {_AUDIT_RATES}; 0.5 is retraining's"),
        _f("ulira_tpr_1pct", pa.float64(), "U-LiRA's TPR at 1 % FPR (0.01 is chance)"),
        _f("ulira_tpr_01pct", pa.float64(), "U-LiRA's TPR at 0.1 % FPR (0.001 is chance)"),
        _f(
            "ulira_roc_tpr",
            pa.list_(pa.float32()),
            "U-LiRA's ROC: the TPR at each FPR of the table's roc_fpr metadata (41 points log-spaced from "
            "1e-4 to 1; the TPR of the best threshold whose FPR is at most that)",
        ),
        _f("rmia_auc", pa.float64(), "Offline RMIA's ROC AUC, as ulira_auc (retrained references only)"),
        _f("rmia_tpr_1pct", pa.float64(), "Offline RMIA's TPR at 1 % FPR"),
        _f("rmia_tpr_01pct", pa.float64(), "Offline RMIA's TPR at 0.1 % FPR"),
        _f("rmia_roc_tpr", pa.list_(pa.float32()), "Offline RMIA's ROC at the roc_fpr grid"),
        _f(
            "ulira_auc_setting",
            pa.float64(),
            "U-LiRA's ROC AUC of the setting: the positives and negatives of every audited replicate "
            "pooled (the literature's protocol of many target models); the same on each of its rows. One "
            "pair of models is one draw of the training randomness, which on a whole class moves all of "
            "a model's forget confidences together; pooling averages it out",
        ),
        _f("ulira_tpr_1pct_setting", pa.float64(), "U-LiRA's TPR at 1 % FPR, pooled as ulira_auc_setting"),
        _f("rmia_auc_setting", pa.float64(), "Offline RMIA's ROC AUC, pooled as ulira_auc_setting"),
        _f("rmia_tpr_1pct_setting", pa.float64(), "Offline RMIA's TPR at 1 % FPR, pooled"),
        _f(
            "epsilon_models",
            pa.int32(),
            "N, the models of each kind behind forget_quality: the setting's replicates (half of them "
            "for the retrained model's calibration row)",
        ),
        _f(
            "forget_quality",
            pa.float64(),
            "The NeurIPS 2023 unlearning challenge's forget quality F of the setting (1 is "
            "indistinguishable from retraining): the mean over the forget images of the points of their "
            "per-example epsilon over the N unlearned and N retrained models; the same on every replicate "
            "of the setting",
        ),
        _f(
            "challenge_score",
            pa.float64(),
            "The challenge's final score: F x (retain accuracy / the retrained models') x (test accuracy / "
            "the retrained models'), accuracies as means over the N models",
        ),
        _f("note", pa.string(), "Why a figure is null (too few shadow models, failed runs); null otherwise"),
    ],
    metadata={"roc_fpr": json.dumps(AUDIT_ROC_FPR)},
)

AUDIT_INSTANCES = pa.schema(
    [
        _f("run_id", pa.string(), "The audited model", False),
        _f("index", pa.int32(), "Index of the forget image in the training split", False),
        _f(
            "ulira",
            pa.float32(),
            "U-LiRA's log likelihood ratio for the image: above 0 where the model looks unlearned (trained "
            "on it, then made to forget it) rather than retrained without it; the per-example "
            "vulnerability the site colours by",
        ),
        _f(
            "rmia",
            pa.float32(),
            "Offline RMIA's score: the share of test images z the image's likelihood ratio beats",
        ),
        _f(
            "epsilon",
            pa.float32(),
            "The image's challenge epsilon over the setting's N unlearned and N retrained models (inf: "
            "separated perfectly; capped at 50); the same on every replicate of the setting",
        ),
    ]
)

# The runs metrics the summary reduces over replicates.
SUMMARY_METRICS = (
    "UA",
    "RA",
    "TUA",
    "TRA",
    "TA",
    "RTE",
    "PS",
    "PS_challenge",
    "MIA_efficacy",
    "avg_gap",
    "val_UA",
    "val_RA",
    "val_gap",
)


def summary_schema(num_classes: int) -> pa.Schema:
    acc = pa.list_(pa.float64(), num_classes)
    metric_fields = []
    for metric in SUMMARY_METRICS:
        metric_fields += [
            _f(
                f"{metric}_mean", pa.float64(), f"Mean of runs.arrow's {metric} over the setting's replicates"
            ),
            _f(f"{metric}_std", pa.float64(), f"Sample standard deviation (ddof = 1) of {metric}"),
            _f(f"{metric}_n", pa.int32(), f"Replicates with a finite {metric}", False),
        ]
    return pa.schema(
        [
            _f("forget_set", pa.string(), "The forget set's id", False),
            _f("setting_id", pa.string(), "The setting (runs.arrow's setting_id)", False),
            _f("type", pa.string(), "original, retrained, unlearned or external", False),
            _f("method", pa.string(), "Method id; null for original and retrained"),
            _f("method_name", pa.string(), "The method's display name"),
            _f(
                "hyperparameters",
                pa.string(),
                "The setting's hyperparameters as a JSON object, without seed (it differs between "
                "replicates)",
            ),
            _f("n", pa.int32(), "Rows of runs.arrow with this setting: its replicates", False),
            _f("n_ok", pa.int32(), "Of them, with status ok", False),
            *metric_fields,
            _f("train_acc_mean", acc, "Per-class training accuracy, mean over the ok replicates"),
            _f("train_acc_std", acc, "Its sample standard deviation per class; null with fewer than 2"),
            _f("test_acc_mean", acc, "Per-class test accuracy, mean over the ok replicates"),
            _f("test_acc_std", acc, "Its sample standard deviation per class; null with fewer than 2"),
            _f(
                "chosen",
                pa.bool_(),
                "Whether this setting is its method's chosen one for this forget set across replicates: "
                "among the method's settings with an ok run, the smallest val_gap_mean (ties: the smaller "
                "RTE_mean, then setting_id). False for original, retrained and external models; null in "
                "tables converted from upstream files",
            ),
        ]
    )


def _fixed(schema: pa.Schema) -> Callable[[int], pa.Schema]:
    return lambda num_classes: schema


# The consolidated tables (results/<exp>/tables/<name>.arrow, the contract) by file stem, in their order:
# the workflow, the tests and the benchmarks take the list from TABLES.
_CONSOLIDATED: dict[str, Callable[[int], pa.Schema]] = {
    "runs": runs_schema,
    "instances": instances_schema,
    "predictions": _fixed(PREDICTIONS),
    "similarity": _fixed(SIMILARITY),
    "attack": _fixed(ATTACK),
    "forget_sets": _fixed(FORGET_SETS),
    "summary": summary_schema,
}
TABLES: tuple[str, ...] = tuple(_CONSOLIDATED)
# The privacy audit's tables (config audit.shadow_models), written only by experiments that ask for it.
_AUDIT: dict[str, Callable[[int], pa.Schema]] = {
    "audit": _fixed(AUDIT),
    "audit_instances": _fixed(AUDIT_INSTANCES),
}
AUDIT_TABLES: tuple[str, ...] = tuple(_AUDIT)


def schemas(num_classes: int) -> dict[str, pa.Schema]:
    """All table schemas of an experiment with ``num_classes`` classes, by file stem: the consolidated
    tables, the privacy audit's, then the evaluation subset's (written for the site by the ``subsets``
    rule)."""
    consolidated = {**_CONSOLIDATED, **_AUDIT}
    return {**{name: build(num_classes) for name, build in consolidated.items()}, "subset": SUBSET}


def experiment_metadata(schema: pa.Schema) -> dict[str, Any]:
    raw = (schema.metadata or {}).get(b"experiment")
    return json.loads(raw) if raw else {}


def column_docs(num_classes: int = 10) -> str:
    """Markdown documentation of every table and column."""
    lines = []
    for name, schema in schemas(num_classes).items():
        lines += [f"### `{name}.arrow`", "", "| column | type | meaning |", "|---|---|---|"]
        for field in schema:
            doc = (field.metadata or {}).get(b"doc", b"").decode()
            lines.append(f"| `{field.name}` | `{field.type}` | {doc} |")
        lines.append("")
    return "\n".join(lines)


def write_column_docs(path: str) -> None:
    """Rewrite the generated part of docs/tables.md: everything from the first table heading on.

    The prose before it is written by hand and kept as it is.
    """
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    start = text.find("### `")
    intro = text if start < 0 else text[:start]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(intro + column_docs())

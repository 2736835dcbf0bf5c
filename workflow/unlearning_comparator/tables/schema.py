"""Schemas of the consolidated tables in ``results/<exp>/tables/``.

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
                "Unique id of the model within the experiment and forget class; keys every other table",
                False,
            ),
            _f("forget_class", pa.int16(), "The class this row's metrics treat as forgotten", False),
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
                "Seed of the run (training seed for original/retrained, unlearning seed otherwise)",
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
                "Unlearning accuracy: training accuracy on the forget class "
                "(lower is better; retrained is the target)",
            ),
            _f(
                "RA",
                pa.float64(),
                "Retain accuracy: unweighted mean training accuracy over the other classes "
                "(the Comparator's RA; equals the literature's accuracy on the retain training set "
                "when every retain class has as many training images, as in every data set the workflow "
                "supports)",
            ),
            _f(
                "TUA",
                pa.float64(),
                f"Test unlearning accuracy: accuracy on the forget class's test images ({_OUTSIDE_VALIDATION}"
                ", as for every test metric here)",
            ),
            _f(
                "TRA",
                pa.float64(),
                "Test retain accuracy: unweighted mean test accuracy over the other classes "
                f"({_OUTSIDE_VALIDATION})",
            ),
            _f(
                "TA",
                pa.float64(),
                "Testing accuracy of the SalUn / l1-sparse literature: share of the test images outside "
                "the forget class that are classified correctly (weighted by image, unlike TRA; "
                f"{_OUTSIDE_VALIDATION})",
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
                "rule, minimum of the two terms) over the 4 forget_set curves in attack.arrow (1 is best)",
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
                "SalUn-convention MIA efficacy: share of the forget set an RBF SVC on true-class confidence "
                "calls non-member (non-members: the test images outside the forget class and the validation "
                "split; members: as many retain training images, the first by index)",
            ),
            _f(
                "avg_gap",
                pa.float64(),
                "Avg. Gap of the SalUn / l1-sparse literature: mean absolute difference from the retrained "
                "model of the same forget class over UA, RA, TA and MIA_efficacy (null if one is missing)",
            ),
            _f(
                "val_UA",
                pa.float64(),
                "Validation unlearning accuracy: share of the validation split's images of the forget class "
                "classified correctly; null for a forget set with no test counterpart (e.g. a random sample "
                f"of training images). {_VALIDATION_SPLIT}",
            ),
            _f(
                "val_RA",
                pa.float64(),
                "Validation retain accuracy: share of the validation split's other images (not of the forget "
                "class) classified correctly",
            ),
            _f(
                "val_gap",
                pa.float64(),
                "Validation gap, what `chosen` minimises: mean absolute difference from the retrained "
                "model of the same forget class over val_UA and val_RA (val_RA's alone where val_UA is "
                "null); 0 for the retrained model; null for a failed run. val_UA, val_RA and val_gap are "
                "null in tables converted from upstream files",
            ),
            _f(
                "chosen",
                pa.bool_(),
                "Whether this run is its method's chosen setting for this forget class: among the method's "
                "runs with status ok, the one with the smallest val_gap (ties: the smaller RTE, then the "
                "smaller run_id). False for its other grid points and failed runs, and for the original, "
                "retrained and external models (no grid to choose from); null in tables converted from "
                "upstream files (no validation split there)",
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
            _f("is_forget", pa.bool_(), "Whether the image belongs to the forget class", False),
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
                "Embedding x (UMAP of penultimate features, aligned across the forget class's models)",
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
            "forget_set (every forget-class training image; gives PS and PS_challenge) or subset "
            "(the evaluation subset's forget images, as in the site)",
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
}
TABLES: tuple[str, ...] = tuple(_CONSOLIDATED)


def schemas(num_classes: int) -> dict[str, pa.Schema]:
    """All table schemas of an experiment with ``num_classes`` classes, by file stem: the consolidated
    tables, then the evaluation subset's (written for the site by the ``subsets`` rule)."""
    return {**{name: build(num_classes) for name, build in _CONSOLIDATED.items()}, "subset": SUBSET}


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

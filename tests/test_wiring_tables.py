"""Every number of the tiny run's tables, recomputed from what the models actually output.

The metric formulas are tested on their own elsewhere; here we check their *wiring*: that each
column of runs.arrow, attack.arrow, instances.arrow and similarity.arrow is the formula applied to
the right model's outputs on the right images. For every run that finished, the expected values
are computed in this file, with plain NumPy / scikit-learn / PyTorch, from

* the model's stored logits (results/tiny/evaluation/<folder>/logits.arrow: split, index, label,
  logits), for the accuracies, the SalUn MIA, the attack curves, PS and the instances;
* the model's stored weights (results/tiny/models/<folder>/model.pt) run through a plain
  ``create_model`` network with forward hooks written here, for the CKA similarity rows.

Nothing of the metrics, similarity or evaluation modules is called to make an expected value.

The test split is cut in two (docs/tables.md): the validation split, re-drawn here from its documented
rule (``validation_indices``), on which only val_UA, val_RA and val_gap are computed, and the rest, which
every other test metric uses.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow.feather as feather
import pytest
import torch
from sklearn.svm import SVC

from conftest import ROOT, TINY_CONFIG

pytestmark = pytest.mark.slow

NUM_CLASSES = 10
DELTA = 1e-5
ATTACK_RANGES = {"entropy": (0.0, 2.5), "confidence": (-2.5, 10.0)}
N_THRESHOLDS = 51
VALIDATION_FRACTION = 0.2  # the schema's default: the tiny config has no selection section


# --------------------------------------------------------------------------- the run's files


class Run:
    """The tiny run's tables and, per run_id, its evaluation folder's logits."""

    def __init__(self, workdir: Path, tables: dict):
        self.results = Path(workdir) / "results" / "tiny"
        self.tables = tables
        self.runs = tables["runs"].to_pylist()
        self.ok = [r for r in self.runs if r["status"] == "ok"]
        self.folders = self._folders()
        self._logits: dict[str, dict] = {}

    def _folders(self) -> dict[str, str]:
        """run_id -> folder under evaluation/ and models/, from the evaluation summaries (as common.smk's
        models_of lays them out: the original's one evaluation serves every forget class)."""
        folders = {}
        for summary in (self.results / "evaluation").rglob("summary.json"):
            folder = summary.parent.relative_to(self.results / "evaluation").as_posix()
            run_id = json.loads(summary.read_text())["run_id"]
            if folder == "original":
                for fc in TINY_CONFIG["forget_classes"]:
                    folders[f"fc{fc}-original"] = folder
            else:
                folders[run_id] = folder
        return folders

    def logits(self, run_id: str) -> dict[str, dict[str, np.ndarray]]:
        """{'train'|'test': {'index', 'label', 'logits' (float64, rows in index order)}}."""
        if run_id not in self._logits:
            table = feather.read_table(self.results / "evaluation" / self.folders[run_id] / "logits.arrow")
            split = np.array(table.column("split").to_pylist())
            index = table.column("index").to_numpy()
            label = table.column("label").to_numpy().astype(np.int64)
            logits = table.column("logits").combine_chunks().flatten().to_numpy().reshape(len(table), -1)
            out = {}
            for name in ("train", "test"):
                rows = np.flatnonzero(split == name)
                rows = rows[np.argsort(index[rows], kind="stable")]
                out[name] = {
                    "index": index[rows],
                    "label": label[rows],
                    "logits": logits[rows].astype(np.float64),
                }
            self._logits[run_id] = out
        return self._logits[run_id]

    def validation_indices(self) -> np.ndarray:
        """The published indices of the validation split, drawn again by its documented rule: per class
        (in class order, one generator seeded with the experiment's seed), round-half-up(fraction × class
        size) of the class's test images outside the CKA test pool (its first ``cka.test_per_class``),
        the first of a random permutation of those, taken in the split's order (the logits table's)."""
        if not hasattr(self, "_validation"):
            run_id = self.ok[0]["run_id"]
            table = feather.read_table(self.results / "evaluation" / self.folders[run_id] / "logits.arrow")
            test = np.array(table.column("split").to_pylist()) == "test"
            index = table.column("index").to_numpy()[test]
            label = table.column("label").to_numpy()[test].astype(np.int64)
            pool = TINY_CONFIG["analysis"]["cka"]["test_per_class"]
            generator = torch.Generator().manual_seed(TINY_CONFIG["seed"])
            chosen = []
            for c in range(NUM_CLASSES):
                members = np.flatnonzero(label == c)
                free = members[pool:]
                need = max(1, int(math.floor(VALIDATION_FRACTION * len(members) + 0.5)))
                chosen.append(index[free[torch.randperm(len(free), generator=generator)[:need].numpy()]])
            self._validation = np.sort(np.concatenate(chosen))
        return self._validation

    def test_parts(self, run_id: str) -> dict[str, dict[str, np.ndarray]]:
        """The model's test rows split in two: 'validation' and 'reported' (the rest), index order."""
        test = self.logits(run_id)["test"]
        in_validation = np.isin(test["index"], self.validation_indices())
        return {
            name: {k: v[mask] for k, v in test.items()}
            for name, mask in (("validation", in_validation), ("reported", ~in_validation))
        }

    def of_class(self, fc: int) -> list[dict]:
        return [r for r in self.ok if r["forget_class"] == fc]

    def retrained(self, fc: int) -> dict:
        (row,) = [r for r in self.runs if r["forget_class"] == fc and r["type"] == "retrained"]
        return row


@pytest.fixture(scope="module")
def run(tiny_run):
    workdir, tables = tiny_run
    run = Run(workdir, tables)
    assert {r["run_id"] for r in run.ok} <= set(run.folders), "an ok run has no evaluation folder"
    # the label and index columns agree between models: the rows are the same images everywhere
    first = run.logits(run.ok[0]["run_id"])
    for r in run.ok:
        for split in ("train", "test"):
            assert np.array_equal(run.logits(r["run_id"])[split]["index"], first[split]["index"])
            assert np.array_equal(run.logits(r["run_id"])[split]["label"], first[split]["label"])
    return run


def _ids(run_rows):
    return [r["run_id"] for r in run_rows]


# --------------------------------------------------------------------------- plain NumPy formulas


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


def entropy_t2(logits: np.ndarray) -> np.ndarray:
    """Shannon entropy (nats) of softmax(z / 2)."""
    logp = log_softmax(logits / 2.0)
    return -(np.exp(logp) * logp).sum(1)


def top_log_odds(logits: np.ndarray) -> np.ndarray:
    """log p_max − log(1 − p_max) at T = 1: log p_max = z_max − lse(z),
    log(1 − p_max) = lse(others) − lse(z)."""
    top = logits.argmax(1)
    z_max = logits[np.arange(len(logits)), top]
    others = logits.copy()
    others[np.arange(len(logits)), top] = -np.inf
    m = others.max(1)
    return z_max - (m + np.log(np.exp(others - m[:, None]).sum(1)))


def comparator_attack_score(fpr: float, fnr: float) -> float:
    """The Comparator's ε rule (its attack.py, calculate_scores), one (FPR, FNR) point at a time."""
    if fpr == 0 and fnr == 0:
        return 1.0  # perfect separation: forgetting quality 0
    if fpr >= 1 - DELTA or fnr >= 1 - DELTA:
        return 0.0  # a rule that calls everyone or no one: forgetting quality 1
    a = min(max(fpr, 1e-10), 1 - DELTA - 1e-10)
    b = min(max(fnr, 1e-10), 1 - DELTA - 1e-10)
    eps = max(0.0, min(math.log(1 - DELTA - a) - math.log(b), math.log(1 - DELTA - b) - math.log(a)))
    return 1.0 - 2.0**-eps


def challenge_attack_score(fpr: float, fnr: float) -> float:
    """The NeurIPS 2023 challenge's ε rule as docs/tables.md states it: the maximum of the two terms,
    rates not clipped; a threshold with exactly one zero rate is discarded (NaN); both zero: ε = ∞."""
    if fpr == 0 and fnr == 0:
        return 1.0
    if (fpr == 0) != (fnr == 0):
        return float("nan")
    terms = []
    for num, den in ((1 - DELTA - fpr, fnr), (1 - DELTA - fnr, fpr)):
        if num > 0:
            terms.append(math.log(num) - math.log(den))
    if not terms:
        return float("nan")
    return 1.0 - 2.0 ** -max(0.0, max(terms))


def sweep(
    model_values: np.ndarray, retrain_values: np.ndarray, metric: str
) -> dict[str, dict[str, np.ndarray]]:
    low, high = ATTACK_RANGES[metric]
    thresholds = np.linspace(low, high, N_THRESHOLDS)
    p_model = np.clip(model_values, low, high)
    p_retrain = np.clip(retrain_values, low, high)
    rate_model = np.array([np.mean(p_model >= t) for t in thresholds])
    rate_retrain = np.array([np.mean(p_retrain >= t) for t in thresholds])
    out = {}
    for direction, (positive, negative) in {
        "above_unlearn": (rate_model, rate_retrain),
        "above_retrain": (rate_retrain, rate_model),
    }.items():
        fpr, fnr = negative, 1.0 - positive
        out[direction] = {
            "threshold": thresholds,
            "fpr": fpr,
            "fnr": fnr,
            "attack_score": np.array([comparator_attack_score(a, b) for a, b in zip(fpr, fnr)]),
            "attack_score_challenge": np.array([challenge_attack_score(a, b) for a, b in zip(fpr, fnr)]),
        }
    return out


def salun_mia_efficacy(train, test, fc: int) -> float:
    """SalUn's MIA on the model's own true-class softmax probabilities, with a plain SVC (no rounding);
    ``test``: the test images the reported metrics use."""

    def true_prob(part, rows):
        logp = log_softmax(part["logits"][rows])
        return np.exp(logp[np.arange(len(rows)), part["label"][rows]])

    nonmembers = np.flatnonzero(test["label"] != fc)  # rows are in index order
    members = np.flatnonzero(train["label"] != fc)[: len(nonmembers)]
    target = np.flatnonzero(train["label"] == fc)
    x = np.r_[true_prob(train, members), true_prob(test, nonmembers)][:, None]
    y = np.r_[np.ones(len(members)), np.zeros(len(nonmembers))]
    svc = SVC(C=3.0, gamma="auto", kernel="rbf").fit(x, y)
    return float(np.mean(svc.predict(true_prob(train, target)[:, None]) == 0))


# --------------------------------------------------------------------------- runs.arrow


def test_the_validation_split_is_stratified_and_outside_the_cka_test_pool(run):
    validation = run.validation_indices()
    test = run.logits(run.ok[0]["run_id"])["test"]
    label = test["label"][np.isin(test["index"], validation)]
    per_class = len(test["label"]) // NUM_CLASSES
    assert np.bincount(label, minlength=NUM_CLASSES).tolist() == [round(0.2 * per_class)] * NUM_CLASSES
    pool = np.concatenate([b for b in _cka_batches(run)["test"]])
    assert not np.isin(validation, pool).any()
    meta = json.loads(run.tables["runs"].schema.metadata[b"experiment"])["selection"]
    assert meta["validation_fraction"] == VALIDATION_FRACTION
    assert meta["validation_per_class"] == np.bincount(label, minlength=NUM_CLASSES).tolist()
    assert meta["reported_test_images"] == len(test["label"]) - len(validation)


def test_forget_set_columns_and_tables_of_one_replicate(run):
    """One replicate of one-class forget sets: forget_set fc<class>, setting_id = run_id, seed = the
    experiment's seed; forget_sets.arrow lists each class's training images; the summary has n = 1."""
    for r in run.runs:
        assert r["forget_set"] == f"fc{r['forget_class']}" and r["setting_id"] == r["run_id"], r["run_id"]
        assert r["seed"] == TINY_CONFIG["seed"], r["run_id"]
    sets = {s["forget_set"]: s for s in run.tables["forget_sets"].to_pylist()}
    assert list(sets) == [f"fc{fc}" for fc in TINY_CONFIG["forget_classes"]]
    train = run.logits(run.ok[0]["run_id"])["train"]
    for fc in TINY_CONFIG["forget_classes"]:
        members = np.sort(train["index"][train["label"] == fc]).tolist()
        s = sets[f"fc{fc}"]
        assert (s["kind"], s["classes"], s["members"], s["size"]) == ("class", [fc], members, len(members))
    summary = run.tables["summary"].to_pylist()
    assert sorted(r["setting_id"] for r in summary) == sorted(r["run_id"] for r in run.runs)
    assert all(r["n"] == 1 and r["UA_std"] is None for r in summary)


def test_accuracies_from_the_logits(run):
    differs = 0  # runs whose test metrics on the whole test split would differ: the check has power
    for r in run.ok:
        fc, parts = r["forget_class"], {**run.logits(r["run_id"]), **run.test_parts(r["run_id"])}
        acc = {}
        for split in ("train", "reported", "validation", "test"):
            pred = parts[split]["logits"].argmax(1)
            label = parts[split]["label"]
            per_class = np.array([np.mean(pred[label == c] == c) for c in range(NUM_CLASSES)])
            acc[split] = per_class
            acc[f"{split}_outside"] = np.mean(pred[label != fc] == label[label != fc])
        retain = [c for c in range(NUM_CLASSES) if c != fc]
        validation = parts["validation"]
        val_pred, val_label = validation["logits"].argmax(1), validation["label"]
        expected = {
            "UA": acc["train"][fc],
            "RA": acc["train"][retain].mean(),
            "TUA": acc["reported"][fc],
            "TRA": acc["reported"][retain].mean(),
            "TA": acc["reported_outside"],
            "val_UA": np.mean(val_pred[val_label == fc] == fc),
            "val_RA": np.mean(val_pred[val_label != fc] == val_label[val_label != fc]),
        }
        for key, value in expected.items():
            assert r[key] == pytest.approx(value, abs=1e-12), f"{r['run_id']}: {key} {r[key]} != {value}"
        np.testing.assert_allclose(r["train_acc"], acc["train"], atol=1e-12, err_msg=r["run_id"])
        np.testing.assert_allclose(r["test_acc"], acc["reported"], atol=1e-12, err_msg=r["run_id"])
        differs += not np.allclose(acc["reported"], acc["test"], atol=1e-12)
    assert differs, "no run's per-class test accuracy changes without the validation images: no power"


# The production code rounds the confidences to evaluation.mia_decimals = 4 decimals and merges
# duplicate (value, label) pairs before fitting; merging is exact, rounding moves each feature by at
# most 5e-5 and can flip the verdict on a forget image lying that close to the SVC's boundary. With
# 100 forget images per class in the tiny run, one flip is 0.01; we allow two (0.02). Swapping members
# and non-members flips the SVC's labels and turns an efficacy e into about 1 − e, so the check has
# power wherever |1 − 2e| > 0.02, which the last assertion requires of at least one run per class.
MIA_TOLERANCE = 0.02


def test_mia_efficacy_from_the_logits(run):
    for fc in TINY_CONFIG["forget_classes"]:
        far_from_half = False
        for r in run.of_class(fc):
            parts = run.logits(r["run_id"])
            expected = salun_mia_efficacy(parts["train"], run.test_parts(r["run_id"])["reported"], fc)
            assert abs(r["MIA_efficacy"] - expected) <= MIA_TOLERANCE, (
                f"{r['run_id']}: MIA_efficacy {r['MIA_efficacy']:.3f}, recomputed {expected:.3f}"
            )
            far_from_half |= abs(1 - 2 * expected) > 4 * MIA_TOLERANCE
        assert far_from_half, f"forget class {fc}: every efficacy is near 0.5; the check above has no power"


def test_avg_gap_from_the_table_and_the_retrained_row(run):
    for r in run.ok:
        retrained = run.retrained(r["forget_class"])
        expected = np.mean([abs(r[k] - retrained[k]) for k in ("UA", "RA", "TA", "MIA_efficacy")])
        assert r["avg_gap"] == pytest.approx(expected, abs=1e-12), r["run_id"]


def test_validation_gap_and_the_chosen_run_of_each_method(run):
    """val_gap: mean |Δ| to the retrained row over val_UA and val_RA; chosen: per forget class and method,
    the ok run with the smallest val_gap (ties: RTE, then run_id), never an original, retrained or
    external model or a failed run."""
    for r in run.ok:
        retrained = run.retrained(r["forget_class"])
        expected = np.mean([abs(r[k] - retrained[k]) for k in ("val_UA", "val_RA")])
        assert r["val_gap"] == pytest.approx(expected, abs=1e-12), r["run_id"]
    groups: dict[tuple, list[dict]] = {}
    for r in run.runs:
        if r["type"] == "unlearned":
            groups.setdefault((r["forget_class"], r["method"]), []).append(r)
    for (fc, method), rows in groups.items():
        ok = [r for r in rows if r["status"] == "ok"]
        want = min(ok, key=lambda r: (r["val_gap"], r["RTE"], r["run_id"]))["run_id"] if ok else None
        assert [r["run_id"] for r in rows if r["chosen"]] == ([want] if want else []), (fc, method)
    assert all(r["chosen"] is False for r in run.runs if r["type"] != "unlearned" or r["status"] != "ok")
    assert sum(r["chosen"] for r in run.runs) >= len(TINY_CONFIG["methods"]) * len(
        TINY_CONFIG["forget_classes"]
    )


def test_prediction_matrices_from_the_logits(run):
    """predictions.arrow: share of each true class predicted as each class, and the mean softmax (test:
    the images outside the validation split)."""
    cols = run.tables["predictions"].to_pydict()
    got = {
        (r, s, t, p): (a, b)
        for r, s, t, p, a, b in zip(
            cols["run_id"],
            cols["split"],
            cols["true"],
            cols["pred"],
            cols["proportion"],
            cols["mean_confidence"],
        )
    }
    for r in run.ok:
        for split in ("train", "test"):
            part = (
                run.logits(r["run_id"])[split]
                if split == "train"
                else run.test_parts(r["run_id"])["reported"]
            )
            probs = np.exp(log_softmax(part["logits"]))
            pred = part["logits"].argmax(1)
            for t in range(NUM_CLASSES):
                mine = part["label"] == t
                for p in range(NUM_CLASSES):
                    proportion, mean_confidence = got[(r["run_id"], split, t, p)]
                    assert proportion == pytest.approx(np.mean(pred[mine] == p), abs=1e-12), (
                        r["run_id"],
                        split,
                        t,
                        p,
                    )
                    assert mean_confidence == pytest.approx(probs[mine, p].mean(), abs=1e-6), (
                        r["run_id"],
                        split,
                        t,
                        p,
                    )
    assert len(cols["run_id"]) == len(run.ok) * 2 * NUM_CLASSES * NUM_CLASSES


# --------------------------------------------------------------------------- attack.arrow and PS


def _attack_rows(run) -> dict[tuple, dict[str, np.ndarray]]:
    table = run.tables["attack"]
    cols = table.to_pydict()
    out: dict[tuple, dict[str, list]] = {}
    for i in range(len(table)):
        key = (cols["run_id"][i], cols["scope"][i], cols["metric"][i], cols["direction"][i])
        curve = out.setdefault(
            key, {k: [] for k in ("threshold", "fpr", "fnr", "attack_score", "attack_score_challenge")}
        )
        for k in curve:
            curve[k].append(cols[k][i] if k in cols else float("nan"))
    result = {}
    for key, curve in out.items():
        order = np.argsort(curve["threshold"], kind="stable")
        result[key] = {k: np.asarray(v, dtype=np.float64)[order] for k, v in curve.items()}
    return result


def _expected_curves(run, r) -> dict[tuple, dict[str, np.ndarray]]:
    fc = r["forget_class"]
    mine = run.logits(r["run_id"])["train"]
    retrained = run.logits(run.retrained(fc)["run_id"])["train"]
    subset = feather.read_table(run.results / "tables" / "subset.arrow")
    subset_forget = np.array(
        [i for i, c in zip(subset.column("index").to_pylist(), subset.column("label").to_pylist()) if c == fc]
    )
    rows_by_index = {int(i): k for k, i in enumerate(mine["index"])}
    scopes = {
        "forget_set": np.flatnonzero(mine["label"] == fc),  # every forget-class training image
        "subset": np.array([rows_by_index[int(i)] for i in subset_forget]),  # the subset's forget images
    }
    assert len(scopes["subset"]) < len(scopes["forget_set"])
    out = {}
    for scope, rows in scopes.items():
        for metric, stat in (("entropy", entropy_t2), ("confidence", top_log_odds)):
            for direction, curve in sweep(
                stat(mine["logits"][rows]), stat(retrained["logits"][rows]), metric
            ).items():
                out[(r["run_id"], scope, metric, direction)] = curve
    return out


def test_attack_curves_and_ps_from_the_logits(run):
    table = _attack_rows(run)
    for r in run.ok:
        expected = _expected_curves(run, r)
        for key, curve in expected.items():
            assert key in table, f"attack.arrow lacks {key}"
            got = table[key]
            for k in ("threshold", "fpr", "fnr", "attack_score"):
                np.testing.assert_allclose(got[k], curve[k], rtol=0, atol=1e-12, err_msg=f"{key} {k}")
        worst = max(
            expected[(r["run_id"], "forget_set", m, d)]["attack_score"].max()
            for m in ATTACK_RANGES
            for d in ("above_unlearn", "above_retrain")
        )
        assert r["PS"] == pytest.approx(1.0 - worst, abs=1e-12), (
            f"{r['run_id']}: PS {r['PS']}, recomputed {1 - worst}"
        )
    assert {k[0] for k in table} == set(_ids(run.ok))
    assert len(table) == len(run.ok) * 2 * 2 * 2


def test_challenge_attack_scores_and_ps_challenge_from_the_logits(run):
    table = _attack_rows(run)
    assert "attack_score_challenge" in run.tables["attack"].column_names
    for r in run.ok:
        expected = _expected_curves(run, r)
        for key, curve in expected.items():
            np.testing.assert_allclose(
                table[key]["attack_score_challenge"],
                curve["attack_score_challenge"],
                rtol=0,
                atol=1e-12,
                equal_nan=True,
                err_msg=f"{key} attack_score_challenge",
            )
        scores = np.concatenate(
            [
                expected[(r["run_id"], "forget_set", m, d)]["attack_score_challenge"]
                for m in ATTACK_RANGES
                for d in ("above_unlearn", "above_retrain")
            ]
        )
        kept = scores[~np.isnan(scores)]
        worst = kept.max() if kept.size else 0.0
        assert r["PS_challenge"] == pytest.approx(1.0 - worst, abs=1e-12), r["run_id"]


# --------------------------------------------------------------------------- instances.arrow


def test_instances_from_the_logits_at_the_subset(run):
    subset = feather.read_table(run.results / "tables" / "subset.arrow")
    subset_index = np.array(subset.column("index").to_pylist())
    inst = run.tables["instances"]
    cols = inst.to_pydict()
    run_ids = np.array(cols["run_id"])
    probs_all = inst.column("probs").combine_chunks().flatten().to_numpy().reshape(len(inst), NUM_CLASSES)
    for r in run.ok:
        fc = r["forget_class"]
        rows = np.flatnonzero(run_ids == r["run_id"])
        # one row per subset image, in the subset's order (the sprite sheet's order)
        assert np.array_equal(np.array(cols["index"])[rows], subset_index), r["run_id"]
        train = run.logits(r["run_id"])["train"]
        rows_by_index = {int(i): k for k, i in enumerate(train["index"])}
        z = train["logits"][[rows_by_index[int(i)] for i in subset_index]]
        label = train["label"][[rows_by_index[int(i)] for i in subset_index]]
        logp = log_softmax(z)
        assert np.array_equal(np.array(cols["label"])[rows], label)
        assert np.array_equal(np.array(cols["is_forget"])[rows], label == fc)
        assert np.array_equal(np.array(cols["pred"])[rows], z.argmax(1)), r["run_id"]
        np.testing.assert_allclose(
            probs_all[rows], np.exp(logp), atol=1e-6, err_msg=r["run_id"]
        )  # float32 column
        np.testing.assert_allclose(
            np.array(cols["entropy"])[rows], entropy_t2(z), rtol=1e-5, atol=1e-6, err_msg=r["run_id"]
        )  # float32 column
        np.testing.assert_allclose(
            np.array(cols["confidence"])[rows], top_log_odds(z), rtol=1e-9, atol=1e-9, err_msg=r["run_id"]
        )


# --------------------------------------------------------------------------- features (the embedding's input)


def _load_model(run, run_id: str):
    from unlearning_comparator.models import create_model

    model = create_model("compact_resnet", NUM_CLASSES, 1)
    state = torch.load(
        run.results / "models" / run.folders[run_id] / "model.pt", map_location="cpu", weights_only=True
    )
    model.load_state_dict(state)
    return model.double().eval()


@pytest.fixture(scope="module")
def fashion_mnist():
    """All of Fashion-MNIST, indexed by the published indices the tables' ``index`` columns hold."""
    from unlearning_comparator.data import load_dataset

    return load_dataset("fashion_mnist", root=str(ROOT / "resources" / "data"), download=False)


def test_features_are_the_head_input_from_the_weights(run, fashion_mnist):
    """features.arrow (what the embedding is computed from): the input of the final Linear layer on
    the subset's images, in subset order, from a plain float64 model (1e-5 relative: float32 with
    BatchNorm folded in the workflow; measured ~1e-6)."""
    from unlearning_comparator.data import normalize

    data = fashion_mnist
    subset = feather.read_table(run.results / "tables" / "subset.arrow").column("index").to_numpy()
    images = normalize(data.train.images[torch.as_tensor(subset.astype(np.int64))], data.info).double()
    for r in run.ok:
        table = feather.read_table(run.results / "evaluation" / run.folders[r["run_id"]] / "features.arrow")
        assert np.array_equal(table.column("index").to_numpy(), subset), r["run_id"]
        got = table.column("features").combine_chunks().flatten().to_numpy().reshape(len(table), -1)
        model = _load_model(run, r["run_id"])
        seen = {}
        handle = model.fc.register_forward_pre_hook(
            lambda mod, inp, seen=seen: seen.__setitem__("x", inp[0].detach().clone())
        )
        try:
            with torch.no_grad():
                model(images)
        finally:
            handle.remove()
        expected = seen["x"].numpy()
        assert got.shape == expected.shape, (
            f"{r['run_id']}: features {got.shape}, head input {expected.shape}"
        )
        err = np.abs(got - expected).max() / np.abs(expected).max()
        assert err <= 1e-5, f"{r['run_id']}: features differ from the head input by {err:.2g} (relative)"


# --------------------------------------------------------------------------- similarity.arrow


def _cka_batches(run) -> dict[str, list[np.ndarray]]:
    """The CKA pools re-derived from the config: per split, the published indices of each mixed batch
    (the first per_class images of every class, batch k = images [k*b, (k+1)*b) of each class)."""
    cka = TINY_CONFIG["analysis"]["cka"]
    b = cka["batch_per_class"]
    parts = run.logits(run.ok[0]["run_id"])
    out = {}
    for split in ("train", "test"):
        per_class = cka[f"{split}_per_class"]
        index, label = parts[split]["index"], parts[split]["label"]  # index order
        firsts = [index[label == c][:per_class] for c in range(NUM_CLASSES)]
        assert all(len(f) == per_class for f in firsts)
        out[split] = [
            np.concatenate([f[k * b : (k + 1) * b] for f in firsts]) for k in range(-(-per_class // b))
        ]
    return out


def _grams_of(run, run_id: str, images: dict[str, list[torch.Tensor]], info) -> dict:
    """{split: [ {layer: zero-diagonal float64 Gram (n, n)} per batch ]} of one model, from its weights."""
    from unlearning_comparator.data import normalize

    model = _load_model(run, run_id)
    names = [name for name, _ in model.layer_groups()]
    acts: dict[str, torch.Tensor] = {}
    handles = [
        model.get_submodule(name).register_forward_hook(
            lambda mod, inp, out, name=name: acts.__setitem__(
                name, out.detach().reshape(len(out), -1).clone()
            )
        )
        for name in names
    ]
    out = {}
    try:
        with torch.no_grad():
            for split, batches in images.items():
                out[split] = []
                for x in batches:
                    acts.clear()
                    model(normalize(x, info).double())
                    out[split].append({name: (acts[name] @ acts[name].T).numpy() for name in names})
    finally:
        for h in handles:
            h.remove()
    return out, names


def _hsic_terms(grams: np.ndarray):
    """Per layer: the zero-diagonal Gram, its row sums and total, for the unbiased HSIC (Song et al. 2012)."""
    K = grams.copy()
    idx = np.arange(K.shape[-1])
    K[:, idx, idx] = 0.0
    rows = K.sum(-1)
    return K, rows, rows.sum(-1)


def _hsic_matrix(A, B) -> np.ndarray:
    """HSIC₁ of every layer of A with every layer of B:
    (tr(KL) + 1ᵀK1·1ᵀL1/((n−1)(n−2)) − 2/(n−2)·1ᵀKL1)/(n(n−3))."""
    K, rk, sk = A
    L, rl, sl = B
    n = K.shape[-1]
    trace = np.einsum("iab,jab->ij", K, L)  # tr(K L) for symmetric K, L
    return (trace + np.outer(sk, sl) / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * (rk @ rl.T)) / (n * (n - 3))


def _expected_similarity(reference, model, labels_by_split, fc, names) -> dict[tuple, float]:
    out = {}
    for split, batches in reference.items():
        for subset in ("forget", "retain"):
            cross = np.zeros((len(names), len(names)))
            self_ref = np.zeros(len(names))
            self_model = np.zeros(len(names))
            for k, ref_batch in enumerate(batches):
                keep = (
                    (labels_by_split[split][k] == fc)
                    if subset == "forget"
                    else (labels_by_split[split][k] != fc)
                )
                a = _hsic_terms(np.stack([ref_batch[n][np.ix_(keep, keep)] for n in names]))
                b = _hsic_terms(np.stack([model[split][k][n][np.ix_(keep, keep)] for n in names]))
                cross += _hsic_matrix(a, b)
                self_ref += np.diag(_hsic_matrix(a, a))
                self_model += np.diag(_hsic_matrix(b, b))
            cka = np.clip(cross / np.sqrt(np.outer(self_ref, self_model)), 0.0, 1.0)
            for i, ref_layer in enumerate(names):
                for j, layer in enumerate(names):
                    out[(split, subset, ref_layer, layer)] = float(cka[i, j])
    return out


# Tolerance: the workflow runs float32 with every BatchNorm folded into its convolution and stores
# float32 Gram matrices; here the plain model runs in float64. The activations then differ by ~1e-6
# relative, and U-centring the float32 Grams costs a little more where a layer's mean dominates its
# variation: we measured at most 2e-6 on the tiny run. 1e-4 on a CKA value is well above that and far
# below what a swapped mask, a transposed matrix or a wrong hook changes (test_similarity_checks_have_power).
CKA_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def similarity_expected(run, fashion_mnist):
    data = fashion_mnist
    batches = _cka_batches(run)
    images = {
        "train": [data.train.images[torch.as_tensor(b)] for b in batches["train"]],
        "test": [data.test.images[torch.as_tensor(b)] for b in batches["test"]],
    }
    labels = {
        "train": [data.train.labels[torch.as_tensor(b)].numpy() for b in batches["train"]],
        "test": [data.test.labels[torch.as_tensor(b)].numpy() for b in batches["test"]],
    }
    # the published labels agree with the run's label column
    parts = run.logits(run.ok[0]["run_id"])
    for split in ("train", "test"):
        assert np.array_equal(
            getattr(data, split).labels.numpy()[parts[split]["index"]], parts[split]["label"]
        )
    grams, names = {}, None
    for r in run.ok:
        grams[r["run_id"]], names = _grams_of(run, r["run_id"], images, data.info)
    expected = {}
    for r in run.ok:
        fc = r["forget_class"]
        for reference in ("original", "retrained"):
            ref_id = f"fc{fc}-{reference}"
            for key, value in _expected_similarity(
                grams[ref_id], grams[r["run_id"]], labels, fc, names
            ).items():
                expected[(r["run_id"], reference, *key)] = value
    return expected, names


def _similarity_table(run) -> dict[tuple, float]:
    cols = run.tables["similarity"].to_pydict()
    keys = zip(
        cols["run_id"],
        cols["reference"],
        cols["split"],
        cols["subset"],
        cols["reference_layer"],
        cols["layer"],
    )
    out = {}
    for key, value in zip(keys, cols["cka"]):
        assert key not in out, f"duplicate similarity row {key}"
        out[key] = value
    return out


def test_similarity_rows_from_the_weights(run, similarity_expected):
    expected, _ = similarity_expected
    got = _similarity_table(run)
    assert set(got) == set(expected), sorted(set(got) ^ set(expected))[:5]
    worst = max(abs(got[k] - v) for k, v in expected.items())
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=CKA_TOLERANCE), (
            f"{key}: similarity.arrow {got[key]:.5f}, recomputed {value:.5f} (worst difference {worst:.2g})"
        )


def test_similarity_checks_have_power(run, similarity_expected):
    """For every forget class, some unlearned model's matrix is far from its transpose and its forget
    block far from its retain block, so a transposition or a mask swap cannot pass the test above."""
    expected, names = similarity_expected
    for fc in TINY_CONFIG["forget_classes"]:
        asym = gap = 0.0
        for r in run.of_class(fc):
            if r["type"] != "unlearned":
                continue
            for reference in ("original", "retrained"):
                e = {k[2:]: v for k, v in expected.items() if k[:2] == (r["run_id"], reference)}
                for split in ("train", "test"):
                    for i in names:
                        for j in names:
                            asym = max(asym, abs(e[(split, "retain", i, j)] - e[(split, "retain", j, i)]))
                            gap = max(gap, abs(e[(split, "retain", i, j)] - e[(split, "forget", i, j)]))
        assert asym > 20 * CKA_TOLERANCE and gap > 20 * CKA_TOLERANCE, (fc, asym, gap)

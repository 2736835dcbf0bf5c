"""The analysis job with several replicates and the new kinds of forget set, on synthetic evaluation outputs.

``test_wiring_tables.py`` checks every number of a real (one-replicate, one-class) run. Here the analysis
job (``jobs.analyze.run``) is fed hand-made evaluation outputs of two replicates (seeds 0 and 1) whose
retrained models differ a lot, so that a model measured against the other replicate's retrained model
gives visibly different numbers, and of a random forget set. Expected values are computed here with plain
NumPy / scikit-learn from the synthetic logits; the attack curves with the plain sweep of
``test_wiring_tables``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pytest
import torch
from sklearn.svm import SVC
from test_wiring_tables import entropy_t2, log_softmax, sweep

from unlearning_comparator.forget_sets import ForgetSet
from unlearning_comparator.jobs.common import evaluation_plan, load_data, validation_positions
from unlearning_comparator.similarity import save_grams
from unlearning_comparator.tables import TABLES
from unlearning_comparator.tables.schema import SIMILARITY

from conftest import ROOT, tiny_config

C = 10
MIA_TOLERANCE = 0.02  # the production MIA rounds the confidences to 4 decimals (test_wiring_tables)

# Per model: probability of a correct prediction on the forget set's training images, on the other
# training images, on the test counterpart, on the other test images; and the range of the logit margin
# (how confident it is). The two replicates' retrained models differ in all of them.
PROFILES = {
    "original": (0.97, 0.97, 0.9, 0.9, (3.0, 7.0)),
    "retrained": {0: (0.05, 0.95, 0.02, 0.9, (3.0, 6.0)), 1: (0.55, 0.85, 0.5, 0.8, (0.5, 2.0))},
    "ga": (0.3, 0.8, 0.25, 0.75, (1.0, 4.0)),
}


def _spec(forget_set: ForgetSet, seeds: list[int]) -> dict:
    from unlearning_comparator.config import load_schema

    umap = {
        k: v["default"]
        for k, v in load_schema()["properties"]["analysis"]["properties"]["umap"]["properties"].items()
    }
    config = tiny_config()
    return {
        "name": "synthetic",
        "dataset": "fashion_mnist",
        "model": "compact_resnet",
        "seed": config["seed"],
        "seeds": seeds,
        "device": "cpu",
        "data": {"root": str(ROOT / "resources" / "data"), **config["data"]},
        "analysis": {
            **config["analysis"],
            "umap": {**umap, "n_epochs": 20, "aligned_epochs": 10},
            "attack": {"thresholds": 51, "entropy_range": [0.0, 2.5], "confidence_range": [-2.5, 10.0]},
        },
        "evaluation": {"mia_decimals": 4},
        "forget_set": forget_set.to_json(),
    }


def _logits(labels: np.ndarray, in_set: np.ndarray, p_set: float, p_other: float, margin, rng) -> np.ndarray:
    """Logits that are right with probability p_set on the set's images and p_other elsewhere, with a random
    margin (so the true-class confidences spread, and the attack and MIA have something to separate)."""
    correct = rng.random(len(labels)) < np.where(in_set, p_set, p_other)
    target = np.where(correct, labels, (labels + 1) % C)
    z = rng.normal(0.0, 0.5, (len(labels), C))
    z[np.arange(len(labels)), target] += rng.uniform(*margin, len(labels))
    return z


class Experiment:
    """The synthetic models of one forget set and their evaluation files, and the analysis's tables."""

    def __init__(self, tmp: Path, forget_set: ForgetSet, seeds: list[int]):
        from unlearning_comparator.jobs import analyze

        self.spec = _spec(forget_set, seeds)
        self.forget_set = forget_set
        data = load_data(self.spec)
        plan = evaluation_plan(self.spec, data)
        self.train_labels, self.test_labels = data.train.labels.numpy(), data.test.labels.numpy()
        self.train_indices = data.train.indices.numpy()
        self.subset = plan.subset_positions.numpy()
        self.validation = validation_positions(self.spec, data, plan).numpy()
        self.reported = np.setdiff1d(np.arange(len(self.test_labels)), self.validation)
        self.in_set = forget_set.train_mask(self.train_labels)
        self.counterpart = forget_set.test_mask(self.test_labels)
        self.logits: dict[str, dict[str, np.ndarray]] = {}
        models, refs = [], {}
        for k, seed in enumerate(seeds):
            suffix = f"-seed{seed}" if len(seeds) > 1 else ""
            for kind in ("original", "retrained", "ga"):
                setting = f"{forget_set.id}-{kind if kind != 'ga' else 'ga-a'}"
                run_id = setting + suffix
                profile = PROFILES[kind][k % 2] if kind == "retrained" else PROFILES[kind]
                models.append(self._model(tmp, run_id, setting, seed, kind, profile, 100 * k + len(models)))
                if kind != "ga":
                    refs.setdefault(str(seed), {})[kind] = self._grams(tmp, plan, run_id, 1000 + len(models))
        out = {t: str(tmp / "analysis" / f"{t}.arrow") for t in TABLES}
        analyze.run(self.spec, models, refs, out)
        self.out = out
        self.tables = {t: feather.read_table(p) for t, p in out.items()}
        self.runs = {r["run_id"]: r for r in self.tables["runs"].to_pylist()}

    def _model(self, tmp, run_id, setting, seed, kind, profile, salt) -> dict:
        p_set, p_other, t_set, t_other, margin = profile
        rng = np.random.default_rng(salt)
        train = _logits(self.train_labels, self.in_set, p_set, p_other, margin, rng)
        test = _logits(self.test_labels, self.counterpart, t_set, t_other, margin, rng)
        self.logits[run_id] = {"train": train, "test": test}
        folder = tmp / run_id
        folder.mkdir(parents=True)
        n_train, n_test = len(train), len(test)
        logits = np.concatenate([train, test]).astype(np.float32)
        feather.write_feather(
            pa.table(
                {
                    "split": ["train"] * n_train + ["test"] * n_test,
                    "index": np.r_[self.train_indices, np.arange(n_test)].astype(np.int32),
                    "label": np.r_[self.train_labels, self.test_labels].astype(np.int16),
                    "logits": pa.FixedSizeListArray.from_arrays(pa.array(logits.ravel()), C),
                }
            ),
            folder / "logits.arrow",
        )
        features = np.c_[train[self.subset], rng.normal(size=(len(self.subset), 6))].astype(np.float32)
        feather.write_feather(
            pa.table(
                {
                    "index": self.train_indices[self.subset].astype(np.int32),
                    "features": pa.FixedSizeListArray.from_arrays(
                        pa.array(features.ravel()), features.shape[1]
                    ),
                }
            ),
            folder / "features.arrow",
        )
        feather.write_feather(SIMILARITY.empty_table(), folder / "similarity.arrow")
        hp = {"epochs": 1, "lr": 0.01, "batch_size": 64, "seed": seed}
        info = {
            "status": "ok",
            "type": "unlearned" if kind == "ga" else kind,
            "method": "ga" if kind == "ga" else None,
            "method_name": "Gradient Ascent" if kind == "ga" else None,
            "base": None,
            "seed": seed,
            "epochs": 1,
            "lr": 0.01,
            "batch_size": 64,
            "hyperparameters": hp if kind == "ga" else {},
            "rte": 1.0 + seed,
            "device": "cpu",
        }
        (folder / "info.json").write_text(json.dumps(info))
        return {
            "run_id": run_id,
            "setting_id": setting,
            "seed": seed,
            **{name: str(folder / f"{name}.arrow") for name in ("logits", "features", "similarity")},
            "info": str(folder / "info.json"),
        }

    def _grams(self, tmp, plan, run_id, salt) -> str:
        """Gram matrices of random two-layer activations on the CKA pools' batches (the reference files)."""
        rng = np.random.default_rng(salt)
        grams = {}
        for split, pool in plan.cka_pools.items():
            grams[split] = []
            for k in range(pool.num_batches):
                n = int((pool.batch == k).sum())
                acts = [torch.from_numpy(rng.normal(size=(n, 5))) for _ in range(2)]
                grams[split].append(torch.stack([a @ a.T for a in acts]))
        path = tmp / run_id / "grams.pt"
        save_grams(grams, ["a", "b"], path)
        return str(path)

    # ----------------------------------------------------------------------------- expected values, plain
    def accuracies(self, run_id: str) -> dict[str, float | None]:
        train, test = self.logits[run_id]["train"], self.logits[run_id]["test"]
        train_ok = train.argmax(1) == self.train_labels
        test_ok = test.argmax(1) == self.test_labels
        rep = np.zeros(len(test_ok), bool)
        rep[self.reported] = True
        val = ~rep
        per_class = {
            c: (train_ok[self.train_labels == c].mean(), test_ok[rep & (self.test_labels == c)].mean())
            for c in range(C)
        }
        fs = self.forget_set
        if fs.is_class_wise:
            others = [c for c in range(C) if c not in fs.classes]
            ua = np.mean([per_class[c][0] for c in fs.classes])
            ra = np.mean([per_class[c][0] for c in others])
            tua = np.mean([per_class[c][1] for c in fs.classes])
            tra = np.mean([per_class[c][1] for c in others])
        else:
            ua, ra = train_ok[self.in_set].mean(), train_ok[~self.in_set].mean()
            tua, tra = None, np.mean([per_class[c][1] for c in range(C)])
        val_forget = val & self.counterpart
        return {
            "UA": ua,
            "RA": ra,
            "TUA": tua,
            "TRA": tra,
            "TA": test_ok[rep & ~self.counterpart].mean(),
            "val_UA": test_ok[val_forget].mean() if val_forget.any() else None,
            "val_RA": test_ok[val & ~self.counterpart].mean(),
        }

    def mia(self, run_id: str) -> float:
        """SalUn's MIA: members = the first retain training images, as many as the non-members (reported
        test images outside the test counterpart); target = the forget set."""
        train, test = self.logits[run_id]["train"], self.logits[run_id]["test"]

        def conf(z, labels):
            return np.exp(log_softmax(z)[np.arange(len(z)), labels])

        nonmembers = self.reported[~self.counterpart[self.reported]]
        members = np.flatnonzero(~self.in_set)[: len(nonmembers)]
        x = np.r_[
            conf(train[members], self.train_labels[members]),
            conf(test[nonmembers], self.test_labels[nonmembers]),
        ]
        y = np.r_[np.ones(len(members)), np.zeros(len(nonmembers))]
        svc = SVC(C=3.0, gamma="auto", kernel="rbf").fit(x[:, None], y)
        target = np.flatnonzero(self.in_set)
        return float(np.mean(svc.predict(conf(train[target], self.train_labels[target])[:, None]) == 0))

    def retrained_of(self, seed: int) -> str:
        (run_id,) = [r for r, row in self.runs.items() if row["type"] == "retrained" and row["seed"] == seed]
        return run_id


@pytest.fixture(scope="module")
def two_classes(tmp_path_factory):
    return Experiment(tmp_path_factory.mktemp("two_classes"), ForgetSet.of_classes([1, 3]), [0, 1])


@pytest.fixture(scope="module")
def random_set(tmp_path_factory):
    return Experiment(tmp_path_factory.mktemp("random"), ForgetSet.random_fraction(0.1, 5), [2])


# --------------------------------------------------------------------------------------- runs.arrow


def test_rows_name_their_forget_set_setting_and_replicate(two_classes):
    runs = two_classes.runs
    assert set(runs) == {
        f"fc1_3-{k}{s}" for k in ("original", "retrained", "ga-a") for s in ("-seed0", "-seed1")
    }
    for run_id, r in runs.items():
        assert r["forget_set"] == "fc1_3" and r["forget_class"] is None
        assert r["setting_id"] == run_id.rsplit("-seed", 1)[0]
        assert r["seed"] == int(run_id.rsplit("-seed", 1)[1])
        assert r["status"] == "ok"


@pytest.mark.parametrize("name", ["two_classes", "random_set"])
def test_accuracies_by_kind(name, request):
    exp = request.getfixturevalue(name)
    for run_id, r in exp.runs.items():
        for key, value in exp.accuracies(run_id).items():
            if value is None:
                assert r[key] is None, (run_id, key)
            else:
                assert r[key] == pytest.approx(value, abs=1e-12), (run_id, key)


@pytest.mark.parametrize("name", ["two_classes", "random_set"])
def test_mia_efficacy_on_the_forget_set(name, request):
    exp = request.getfixturevalue(name)
    far_from_half = False
    for run_id, r in exp.runs.items():
        expected = exp.mia(run_id)
        assert abs(r["MIA_efficacy"] - expected) <= MIA_TOLERANCE, (run_id, r["MIA_efficacy"], expected)
        far_from_half |= abs(1 - 2 * expected) > 4 * MIA_TOLERANCE
    assert far_from_half


def _gaps(row: dict, target: dict) -> tuple[float, float]:
    avg = np.mean([abs(row[k] - target[k]) for k in ("UA", "RA", "TA", "MIA_efficacy")])
    val = np.mean([abs(row[k] - target[k]) for k in ("val_UA", "val_RA")])
    return float(avg), float(val)


def test_each_model_is_measured_against_its_own_replicates_retrained_model(two_classes):
    """avg_gap and val_gap against the retrained model of the row's seed; against the other seed's, they
    would differ by far more than rounding (the check has power)."""
    runs = two_classes.runs
    for run_id, r in runs.items():
        own = runs[two_classes.retrained_of(r["seed"])]
        other = runs[two_classes.retrained_of(1 - r["seed"])]
        avg, val = _gaps(r, own)
        assert r["avg_gap"] == pytest.approx(avg, abs=1e-12), run_id
        assert r["val_gap"] == pytest.approx(val, abs=1e-12), run_id
        swapped_avg, swapped_val = _gaps(r, other)
        assert abs(swapped_avg - avg) > 0.01 and abs(swapped_val - val) > 0.01, run_id
    assert runs["fc1_3-retrained-seed0"]["avg_gap"] == runs["fc1_3-retrained-seed1"]["avg_gap"] == 0.0


def _curves(table: pa.Table) -> dict[tuple, dict[str, np.ndarray]]:
    cols = table.to_pydict()
    out: dict[tuple, dict[str, list]] = {}
    for i in range(len(table)):
        key = (cols["run_id"][i], cols["scope"][i], cols["metric"][i], cols["direction"][i])
        curve = out.setdefault(key, {k: [] for k in ("threshold", "fpr", "fnr", "attack_score")})
        for k in curve:
            curve[k].append(cols[k][i])
    return {k: {n: np.asarray(v) for n, v in c.items()} for k, c in out.items()}


def test_the_attack_and_ps_use_the_own_replicates_retrained_model(two_classes):
    exp = two_classes
    curves = _curves(exp.tables["attack"])
    forget = np.flatnonzero(exp.in_set)
    for run_id, r in exp.runs.items():
        mine = entropy_t2(exp.logits[run_id]["train"][forget])
        expected = {}
        for seed in (r["seed"], 1 - r["seed"]):
            theirs = entropy_t2(exp.logits[exp.retrained_of(seed)]["train"][forget])
            expected[seed] = sweep(mine, theirs, "entropy")["above_unlearn"]
        got = curves[(run_id, "forget_set", "entropy", "above_unlearn")]
        np.testing.assert_allclose(got["fpr"], expected[r["seed"]]["fpr"], atol=1e-12, err_msg=run_id)
        assert np.abs(got["fpr"] - expected[1 - r["seed"]]["fpr"]).max() > 0.1, run_id
        worst = max(c["attack_score"].max() for k, c in curves.items() if k[:2] == (run_id, "forget_set"))
        assert r["PS"] == pytest.approx(1.0 - worst, abs=1e-12)


def test_chosen_per_replicate(two_classes):
    runs = two_classes.runs
    assert runs["fc1_3-ga-a-seed0"]["chosen"] and runs["fc1_3-ga-a-seed1"]["chosen"]
    assert not any(r["chosen"] for r in runs.values() if r["type"] != "unlearned")


# --------------------------------------------------------------------------------------- other tables


def test_the_forget_sets_table_lists_the_members(two_classes, random_set):
    (row,) = two_classes.tables["forget_sets"].to_pylist()
    members = np.sort(two_classes.train_indices[np.isin(two_classes.train_labels, [1, 3])])
    assert row["forget_set"] == "fc1_3" and row["kind"] == "classes" and row["classes"] == [1, 3]
    assert row["name"] == "Trouser + Dress" and row["draw_seed"] is None
    assert row["members"] == members.tolist() and row["size"] == len(members) == 200
    assert row["fraction"] == pytest.approx(0.2)
    (row,) = random_set.tables["forget_sets"].to_pylist()
    assert (row["forget_set"], row["kind"], row["classes"], row["draw_seed"]) == ("rnd10s5", "random", [], 5)
    assert row["fraction"] == 0.1 and row["size"] == 100 and row["name"] == "random 10 % · seed 5"
    assert row["members"] == sorted(row["members"]) and len(set(row["members"])) == 100
    assert len(set(random_set.train_labels[random_set.in_set])) > 5  # across the classes


@pytest.mark.parametrize("name", ["two_classes", "random_set"])
def test_instances_mark_the_sets_members(name, request):
    exp = request.getfixturevalue(name)
    (members,) = exp.tables["forget_sets"].column("members").to_pylist()
    inst = exp.tables["instances"].to_pydict()
    assert set(inst["run_id"]) == set(exp.runs)
    is_forget = np.array(inst["is_forget"])
    assert np.array_equal(is_forget, np.isin(inst["index"], members))
    assert 0 < is_forget.sum() < len(is_forget)


def test_similarity_rows_of_every_replicates_reference_models(two_classes):
    sim = two_classes.tables["similarity"].to_pylist()
    pairs = {(r["run_id"], r["reference"]) for r in sim}
    assert pairs == {
        (f"fc1_3-{m}-seed{s}", ref)
        for m in ("original", "retrained")
        for s in (0, 1)
        for ref in ("original", "retrained")
    }
    # a model against itself: CKA 1 on the diagonal
    same = [
        r["cka"]
        for r in sim
        if r["run_id"].split("-")[1] == r["reference"] and r["layer"] == r["reference_layer"]
    ]
    assert same and all(v == pytest.approx(1.0) for v in same)


def test_the_random_set_has_no_test_forget_blocks(random_set):
    subsets = {(r["split"], r["subset"]) for r in random_set.tables["similarity"].to_pylist()}
    assert ("test", "forget") not in subsets and ("train", "forget") in subsets


def test_the_summary_reduces_each_setting_over_its_replicates(two_classes):
    summary = {r["setting_id"]: r for r in two_classes.tables["summary"].to_pylist()}
    assert set(summary) == {"fc1_3-original", "fc1_3-retrained", "fc1_3-ga-a"}
    for setting, row in summary.items():
        rows = [two_classes.runs[f"{setting}-seed{s}"] for s in (0, 1)]
        assert row["forget_set"] == "fc1_3" and row["n"] == row["n_ok"] == 2
        for metric in ("UA", "avg_gap", "MIA_efficacy", "RTE"):
            values = [r[metric] for r in rows]
            assert row[f"{metric}_mean"] == pytest.approx(np.mean(values), abs=1e-12)
            assert row[f"{metric}_std"] == pytest.approx(np.std(values, ddof=1), abs=1e-12)
            assert row[f"{metric}_n"] == 2
        assert row["TUA_n"] == 2
        np.testing.assert_allclose(
            row["train_acc_mean"], np.mean([r["train_acc"] for r in rows], 0), atol=1e-12
        )
    assert json.loads(summary["fc1_3-ga-a"]["hyperparameters"]) == {"epochs": 1, "lr": 0.01, "batch_size": 64}
    assert summary["fc1_3-ga-a"]["chosen"] and not summary["fc1_3-original"]["chosen"]


def test_one_replicate_summary_has_no_spread(random_set):
    for row in random_set.tables["summary"].to_pylist():
        assert row["n"] == 1 and row["UA_n"] == 1 and row["UA_std"] is None and row["train_acc_std"] is None
        assert row["TUA_mean"] is None and row["TUA_n"] == 0
    assert math.isfinite(random_set.runs["rnd10s5-ga-a"]["avg_gap"])


def test_the_tables_job_consolidates_and_describes_the_forget_sets(two_classes, random_set, tmp_path):
    from unlearning_comparator.jobs import tables
    from unlearning_comparator.tables.schema import SUBSET

    subset = tmp_path / "subset.arrow"
    feather.write_feather(SUBSET.empty_table(), subset)
    spec = {
        **two_classes.spec,
        "forget_sets": [ForgetSet.of_classes(2).to_json(), two_classes.forget_set.to_json()]
        + [random_set.forget_set.to_json()],
        "forget_classes": [2],
        "seeds": [0, 1],
        "refused": [{"method": "boundary_shrink", "forget_set": "fc1_3", "reason": "not one whole class"}],
        "training": {},
    }
    out = {t: str(tmp_path / f"{t}.arrow") for t in TABLES}
    tables.run(spec, {t: [two_classes.out[t], random_set.out[t]] for t in TABLES}, str(subset), out)
    runs = feather.read_table(out["runs"])
    assert len(runs) == len(two_classes.runs) + len(random_set.runs)
    assert feather.read_table(out["summary"]).num_rows == 6
    meta = json.loads(runs.schema.metadata[b"experiment"])
    assert meta["seeds"] == [0, 1] and meta["refused"] == spec["refused"] and meta["forget_classes"] == [2]
    by_id = {f["id"]: f for f in meta["forget_sets"]}
    assert list(by_id) == ["fc2", "fc1_3", "rnd10s5"]
    assert by_id["fc1_3"] == {
        "id": "fc1_3",
        "name": "Trouser + Dress",
        "kind": "classes",
        "classes": [1, 3],
        "fraction": pytest.approx(0.2),
        "seed": None,
        "size": 200,
    }
    assert (
        by_id["rnd10s5"]["size"] == 100
        and by_id["rnd10s5"]["seed"] == 5
        and by_id["rnd10s5"]["fraction"] == 0.1
    )
    assert by_id["fc2"]["size"] is None and by_id["fc2"]["name"] == "Pullover"  # no fragment: not measured


def test_a_random_set_with_no_image_in_the_evaluation_subset(tmp_path):
    """Then the attack has no ``subset`` curves (nothing to attack there), and the rest is computed."""
    spec = _spec(ForgetSet.random_fraction(0.005, 0), [1])
    data = load_data(spec)
    subset = evaluation_plan(spec, data).subset_positions.numpy()
    labels = data.train.labels.numpy()
    seed = next(
        s for s in range(100) if not ForgetSet.random_fraction(0.005, s).train_mask(labels)[subset].any()
    )
    exp = Experiment(tmp_path, ForgetSet.random_fraction(0.005, seed), [1])
    assert set(exp.tables["attack"].column("scope").to_pylist()) == {"forget_set"}
    assert not any(exp.tables["instances"].column("is_forget").to_pylist())
    assert all(math.isfinite(r["PS"]) and math.isfinite(r["avg_gap"]) for r in exp.runs.values())

"""The whole workflow on a tiny config (real Fashion-MNIST images, 100 per class): every model gets a row,
failures are recorded per run, and what forgetting must look like. That each number of the tables is
derived from the right images and models is checked in test_wiring_tables.py, on the same run."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import BROKEN_METHODS, EXTERNAL_MODELS

pytestmark = pytest.mark.slow


def rows(table):
    return table.to_pylist()


@pytest.fixture(scope="module")
def tiny(tiny_run):
    return tiny_run[1]


def test_every_model_has_a_row(tiny):
    runs = rows(tiny["runs"])
    for fc in (1, 3):
        mine = [r for r in runs if r["forget_class"] == fc]
        types = [r["type"] for r in mine]
        assert types.count("original") == 1 and types.count("retrained") == 1
        assert sorted(r["method"] for r in mine if r["type"] == "unlearned") == sorted(
            ["ft", "ga", "rl", "scrub", "salun", *BROKEN_METHODS]
        )
    external = {r["run_id"]: r for r in runs if r["type"] == "external"}
    assert set(external) == {f"fc{e['forget_class']}-external-{name}" for name, e in EXTERNAL_MODELS.items()}
    assert len({r["run_id"] for r in runs}) == len(runs)


def test_broken_methods_are_recorded_as_failed_and_the_rest_complete(tiny):
    runs = rows(tiny["runs"])
    for r in runs:
        if r["method"] in BROKEN_METHODS or r["run_id"].endswith("external-evil"):
            assert r["status"] == "failed" and r["UA"] is None
        else:
            assert r["status"] == "ok", r["error"]
            assert r["error"] is None
    errors = {r["method"]: r["error"] for r in runs if r["status"] == "failed"}
    assert "this method always fails" in errors["raises"]
    assert "not finite" in errors["nan_weights"]
    assert "a_module_that_does_not_exist" in errors["bad_import"]
    # an external checkpoint that carries code is refused (weights_only loading), a plain one is evaluated
    evil = next(r for r in runs if r["run_id"].endswith("external-evil"))
    assert "run code" in evil["error"] and "evil.pt" in evil["error"]
    good = next(r for r in runs if r["run_id"].endswith("external-plain"))
    assert good["status"] == "ok" and good["method_name"] == "Uploaded <b>model</b>"


def test_retrained_models_forget_and_methods_lower_forget_accuracy(tiny):
    runs = rows(tiny["runs"])
    for fc in (1, 3):
        mine = {(r["type"], r["method"]): r for r in runs if r["forget_class"] == fc}
        original, retrained = mine[("original", None)], mine[("retrained", None)]
        assert retrained["UA"] == 0.0 and retrained["TUA"] == 0.0
        assert original["UA"] > 0.5
        lowered = [m for m in ("ga", "rl", "salun") if mine[("unlearned", m)]["UA"] < original["UA"] - 0.1]
        assert len(lowered) >= 2, lowered
        assert retrained["RTE"] > 0 and original["RTE"] is None
        assert original["PS"] < 0.9


def test_every_run_has_the_same_subset_instances(tiny):
    inst = tiny["instances"]
    by_run = {}
    for run_id, index in zip(inst.column("run_id").to_pylist(), inst.column("index").to_pylist()):
        by_run.setdefault(run_id, []).append(index)
    ok_runs = {r["run_id"] for r in rows(tiny["runs"]) if r["status"] == "ok"}
    assert set(by_run) == ok_runs
    subsets = {tuple(v) for v in by_run.values()}
    assert len(subsets) == 1 and len(next(iter(subsets))) == 200


def _cka(sim, run_id, reference, split, subset):
    out = {}
    for r in sim.to_pylist():
        if (r["run_id"], r["reference"], r["split"], r["subset"]) == (run_id, reference, split, subset):
            out[(r["reference_layer"], r["layer"])] = r["cka"]
    return out


def test_forgetting_shows_in_late_layers_on_forget_data(tiny):
    sim = tiny["similarity"]
    for fc in (1, 3):
        forget = _cka(sim, f"fc{fc}-retrained", "original", "train", "forget")
        retain = _cka(sim, f"fc{fc}-retrained", "original", "train", "retain")
        # the retrained model never saw the class: its late layers drift from the original's most on it
        assert forget[("fc", "fc")] < forget[("stem", "stem")]
        assert forget[("fc", "fc")] < retain[("fc", "fc")]


def test_the_retrained_models_forgotten_class_moves_in_the_embedding(tiny):
    """The aligned embedding: the original's layout is the frame, and the images whose neighbourhood the
    retrained model changed most (the forgotten class) move further than the others."""
    inst = tiny["instances"].to_pylist()
    for fc in (1, 3):
        xy = {(r["run_id"], r["index"]): (r["x"], r["y"], r["label"]) for r in inst}
        original = {i: v for (run, i), v in xy.items() if run == f"fc{fc}-original"}
        retrained = {i: v for (run, i), v in xy.items() if run == f"fc{fc}-retrained"}
        ref = np.array([original[i][:2] for i in sorted(original)])
        width = np.ptp(ref, axis=0).max()
        shift = np.array(
            [
                np.hypot(retrained[i][0] - original[i][0], retrained[i][1] - original[i][1])
                for i in sorted(original)
            ]
        )
        labels = np.array([original[i][2] for i in sorted(original)])
        assert np.median(shift[labels == fc]) > 1.5 * np.median(shift[labels != fc]), fc
        assert np.median(shift[labels != fc]) < 0.05 * width

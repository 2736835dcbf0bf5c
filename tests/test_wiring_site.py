"""The contract between the site's Python and its JavaScript, checked value by value against the tables.

``comparator_site.data`` packs the tables into flat typed "store" columns, one fixed-size block per run at
an offset recorded in the runs store (``st_runs.off_<store>``); the page's JavaScript (``js/*.js``) reads
them with index formulas of its own. Nothing but the index formula ties the two sides together, so this
test writes the formulas out exactly as the JavaScript reads them (the file and function are named at
each) and checks, for every run and every value, that the slot the JavaScript reads holds what the tables
say. If data.py packs in another order, or a js file reads in another order, one of the two disagrees
with the formula here and this test must be changed together with both of them.

Expected values come from the Arrow tables, read here with pyarrow; nothing is computed by the code under
test except the stores themselves (``comparator_site.store.build``, what the page ships) and the page's
layout constants (``CFG``: C, L, N, T, layers, which are checked against the tables first).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.feather as feather
import pytest

from comparator_site import store
from comparator_site.data import load
from comparator_site.page import config
from unlearning_comparator.tables import TABLES

from site_fixtures import write_experiment

# The order of each block's dimensions, as the JavaScript indexes them (0, 1 in these orders).
REFERENCES = (
    "original",
    "retrained",
)  # js/similarity.js sim_block(k, ref, ...), S.sim_ref: 0 Original, 1 Retrained
SPLITS = ("train", "test")  # js/similarity.js S.sim_split, js/matrix.js S.mx_split: 0 Train, 1 Test
SUBSETS = ("retain", "forget")  # js/similarity.js sim_update: [0, "ret"], [1, "fgt"]
METRICS = ("entropy", "confidence")  # js/attack.js ATK_AXIS[0] entropy, [1] confidence
DIRECTIONS = ("above_unlearn", "above_retrain")  # js/attack.js atk_combined: u = metric*2, r = metric*2 + 1


# --- the index formulas of the JavaScript ------------------------------------------------------------------
def acc_slot(off, c):  # js/classwise.js cw_update: st_acc.data[train|test][oa + c]
    return off + c


def pred_slot(off, C, split, true, pred):  # js/matrix.js mx_fill: off + split*C*C + t*C + p
    return off + split * C * C + true * C + pred


def sim_slot(
    off, L, ref, split, sub, layer
):  # js/similarity.js sim_block: off + ((ref*2 + split)*2 + sub)*L + l
    return off + ((ref * 2 + split) * 2 + sub) * L + layer


def atk_slot(off, T, metric, direction, i):  # js/attack.js atk_combined: off + (metric*2 + dir)*T + i
    return off + (metric * 2 + direction) * T + i


def inst_slot(
    off, pos
):  # js/state.js probs_of / pred_of, js/embedding.js emb_update: off + i (subset position)
    return off + pos


def fgt_slot(off, j):  # js/attack.js atk_values: st_fgt.data[field] from off, F = forget_positions(fs).length
    return off + j


def sacc_slot(off, c):  # js/classwise.js cw_update: st_sacc.data[train|test|train_sd|test_sd][oa + c]
    return off + c


def run_column(i):  # js/state.js run_of(s, i): st_settings.data["run" + i][s], the run of seed position i
    return f"run{i}"


# --- the synthetic experiments ------------------------------------------------------------------------------
def _with_subset(tmp: Path) -> Path:
    return write_experiment(tmp, forget_classes=3, models_per_class=6, per_class=20)


def _without_subset(tmp: Path) -> Path:
    """No subset.arrow (as the upstream converter writes), and forget class 4's runs without 'subset'-scope
    attack curves, so that the store falls back to their 'forget_set' curves."""
    out = write_experiment(tmp, forget_classes=[1, 4], models_per_class=5, per_class=12, thumbnails=False)
    atk = feather.read_table(out / "attack.arrow")
    drop = pc.and_(pc.starts_with(atk.column("run_id"), "fc4-"), pc.equal(atk.column("scope"), "subset"))
    feather.write_feather(atk.filter(pc.invert(drop)), out / "attack.arrow", compression="uncompressed")
    return out


def _sets_and_seeds(tmp: Path) -> Path:
    """A forget set of each kind, two replicate seeds (one run failed in the second)."""
    return write_experiment(
        tmp,
        forget_classes=[1],
        forget_sets=[{"classes": [2, 5]}, {"random": 0.1, "seed": 3}],
        seeds=[0, 1],
        models_per_class=5,
        per_class=20,
    )


def _legacy(tmp: Path) -> Path:
    """Tables made before forget sets and seeds: no forget_set / setting_id, no forget_sets or summary."""
    return write_experiment(tmp, forget_classes=[0, 3], models_per_class=5, per_class=12, legacy=True)


MAKERS = {
    "with_subset": _with_subset,
    "without_subset": _without_subset,
    "sets_and_seeds": _sets_and_seeds,
    "legacy": _legacy,
}


@pytest.fixture(scope="module", params=list(MAKERS))
def experiment(request, tmp_path_factory):
    tables = MAKERS[request.param](tmp_path_factory.mktemp(request.param))
    data = load(tables)
    shipped = {name: src.data for name, src in store.build(data).items()}
    cfg = config(data, None)
    read = {t: feather.read_table(tables / f"{t}.arrow") for t in TABLES if (tables / f"{t}.arrow").is_file()}
    return request.param, tables, shipped, cfg, read


def _runs(read):
    return {r["run_id"]: r for r in read["runs"].to_pylist()}


def _set_of(r) -> str:
    """A run's forget set id (tables before forget sets: fc<forget_class>)."""
    return r.get("forget_set") or f"fc{r['forget_class']}"


def _set_classes(read, r) -> list[int]:
    if "forget_sets" not in read:
        return [r["forget_class"]]
    return next(x["classes"] for x in read["forget_sets"].to_pylist() if x["forget_set"] == r["forget_set"])


def _subset_order(tables: Path, read) -> tuple[list[int], list[int]]:
    """(image indices, labels) in the evaluation subset's order: subset.arrow's rows, or without it, the
    instances of one run by class, then image index (the upstream's class-major subset order)."""
    path = tables / "subset.arrow"
    if path.is_file():
        sub = feather.read_table(path)
        return sub.column("index").to_pylist(), sub.column("label").to_pylist()
    rows = read["instances"].to_pylist()
    first = rows[0]["run_id"]
    pairs = sorted((r["label"], r["index"]) for r in rows if r["run_id"] == first)
    return [i for _, i in pairs], [c for c, _ in pairs]


def _row_of(shipped) -> dict[str, int]:
    ids = list(shipped["st_runs"]["id"])
    assert len(set(ids)) == len(ids)
    return {rid: k for k, rid in enumerate(ids)}


class Coverage:
    """Every slot of a store column is written by exactly one (run, table value): blocks do not overlap."""

    def __init__(self):
        self.seen: dict[str, list[int]] = defaultdict(list)

    def add(self, store_name, slot):
        self.seen[store_name].append(int(slot))

    def check(self, shipped):
        for name, slots in self.seen.items():
            size = len(next(iter(shipped[name].values())))
            assert len(set(slots)) == len(slots), f"{name}: two table values map to the same slot"
            assert sorted(slots) == list(range(size)), f"{name}: {size} slots, {len(set(slots))} written"


# --- the tests ----------------------------------------------------------------------------------------------
def test_layout_constants_match_the_tables(experiment):
    _, tables, shipped, cfg, read = experiment
    meta = json.loads(read["runs"].schema.metadata[b"experiment"])
    runs = read["runs"].to_pylist()
    C = len(next(r["train_acc"] for r in runs if r["train_acc"] is not None))
    assert cfg["C"] == C and cfg["layers"] == meta["layers"] and cfg["L"] == len(meta["layers"])
    index, _ = _subset_order(tables, read)
    assert cfg["N"] == len(index) and list(shipped["st_subset"]["index"]) == index
    counts = defaultdict(int)
    for r in read["attack"].select(["run_id", "scope", "metric", "direction"]).to_pylist():
        counts[tuple(r.values())] += 1
    assert set(counts.values()) == {cfg["T"]}, "every attack curve has T thresholds"
    # A and B of each forget set open as the original and the retrained model of the first seed
    # (js/main.js on_ready, js/state.js run_of)
    ids, first = list(shipped["st_runs"]["id"]), shipped["st_settings"][run_column(0)]
    sets = [fs["id"] for fs in meta.get("forget_sets") or []] or [f"fc{c}" for c in meta["forget_classes"]]
    assert [info["id"] for info in cfg["sets"]] == sets
    suffix = f"-seed{meta['seeds'][0]}" if len(meta.get("seeds") or []) > 1 else ""
    for info in cfg["sets"]:
        want = (f"{info['id']}-original{suffix}", f"{info['id']}-retrained{suffix}")
        assert (ids[first[info["A"]]], ids[first[info["B"]]]) == want


def test_the_synthetic_data_would_show_a_swapped_index(experiment):
    """Preconditions: the values differ along every dimension of every block, so a permutation of any
    dimension moves a value to a slot where the table says something else."""
    _, _, _, _, read = experiment
    sim = defaultdict(dict)
    for r in read["similarity"].to_pylist():
        if r["layer"] == r["reference_layer"]:
            sim[r["run_id"]][(r["reference"], r["split"], r["subset"], r["layer"])] = r["cka"]
    for rid, v in sim.items():
        vals = np.float32(list(v.values()))
        assert len(np.unique(vals)) == len(vals), f"{rid}: repeated diagonal CKA values"
    runs = [r for r in read["runs"].to_pylist() if r["status"] == "ok"]
    for r in runs:  # (the retrained model's forget classes are 0 in both splits)
        keep = [c for c in range(len(r["train_acc"])) if c not in _set_classes(read, r)]
        vals = np.float32([r["train_acc"][c] for c in keep] + [r["test_acc"][c] for c in keep])
        assert len(np.unique(vals)) == len(vals), r["run_id"]
    curves = defaultdict(dict)
    for r in read["attack"].to_pylist():
        curves[(r["run_id"], r["scope"])].setdefault((r["metric"], r["direction"]), []).append(
            (r["threshold"], r["fpr"], r["fnr"], r["attack_score"])
        )
    differ = 0
    for (rid, _), c in curves.items():
        if "retrained" in rid:  # its own curves: both directions are the same by construction
            continue
        for m in METRICS:
            differ += sorted(c[(m, DIRECTIONS[0])]) != sorted(c[(m, DIRECTIONS[1])])
        assert sorted(c[("entropy", DIRECTIONS[0])]) != sorted(c[("confidence", DIRECTIONS[0])])
    assert differ >= 4
    inst = read["instances"].to_pylist()
    assert sum(r["pred"] != r["label"] for r in inst) > 10
    assert len({round(r["x"], 4) for r in inst}) > len(inst) * 0.9


def test_runs_store_rows_are_the_runs_table(experiment):
    """st_runs, one row per run (js/state.js R): ids, forget class, ok flag and the metrics the table
    shows."""
    _, _, shipped, _, read = experiment
    R = shipped["st_runs"]
    runs = _runs(read)
    assert set(R["id"]) == set(runs)
    assert any(r["chosen"] for r in runs.values()) and not all(r["chosen"] for r in runs.values())
    metrics = [
        f.name for f in read["runs"].schema if f.type == "double" and f.name in R and f.name not in ("lr",)
    ]
    assert {"UA", "RA", "TUA", "TRA", "PS", "avg_gap"} <= set(metrics)
    for k, rid in enumerate(R["id"]):
        r = runs[rid]
        assert (
            R["fc"][k] == (-1 if r["forget_class"] is None else r["forget_class"])
            and R["type"][k] == r["type"]
        )
        assert R["ok"][k] == (1 if r["status"] == "ok" else 0)
        # the table's star and "Best of each method" read runs.arrow's chosen (null: not chosen)
        assert R["chosen"][k] == (1 if r["chosen"] else 0)
        assert R["chosen_txt"][k] == ("\u2605" if r["chosen"] else "")
        for m in metrics:
            v = r[m] if r["status"] == "ok" else None
            if v is None:
                assert np.isnan(R[m][k]) and R[f"{m}_txt"][k] == "-", (rid, m)
            else:
                assert R[m][k] == v, (rid, m)
                assert R[f"{m}_txt"][k] == (f"{v:.1f}" if m == "RTE" else f"{v:.3f}"), (rid, m)


def test_failed_runs_have_no_blocks(experiment):
    _, _, shipped, _, read = experiment
    R = shipped["st_runs"]
    failed = [k for k, rid in enumerate(R["id"]) if _runs(read)[rid]["status"] != "ok"]
    assert failed
    for k in failed:
        for key in ("acc", "pred", "sim", "atk", "inst", "fgt"):
            assert R[f"off_{key}"][k] == -1, (R["id"][k], key)


def test_acc_store_is_the_per_class_accuracies(experiment):
    _, _, shipped, cfg, read = experiment
    R, acc, C = shipped["st_runs"], shipped["st_acc"], cfg["C"]
    row, cov = _row_of(shipped), Coverage()
    for r in read["runs"].to_pylist():
        if r["status"] != "ok":
            continue
        off = R["off_acc"][row[r["run_id"]]]
        assert off >= 0
        for c in range(C):
            i = acc_slot(off, c)
            assert acc["train"][i] == np.float32(r["train_acc"][c]), (r["run_id"], c)
            assert acc["test"][i] == np.float32(r["test_acc"][c]), (r["run_id"], c)
            cov.add("st_acc", i)
    cov.check(shipped)


def test_pred_store_is_the_predictions_table(experiment):
    _, _, shipped, cfg, read = experiment
    R, pred, C = shipped["st_runs"], shipped["st_pred"], cfg["C"]
    row, cov = _row_of(shipped), Coverage()
    for r in read["predictions"].to_pylist():
        off = R["off_pred"][row[r["run_id"]]]
        i = pred_slot(off, C, SPLITS.index(r["split"]), r["true"], r["pred"])
        # shares as uint16 steps of 1/65534 (data._unit_uint16): within half a step
        assert abs(int(pred["prop"][i]) / 65534 - r["proportion"]) <= 0.5 / 65534 + 1e-12, r
        assert abs(int(pred["conf"][i]) / 65534 - r["mean_confidence"]) <= 0.5 / 65534 + 1e-12, r
        cov.add("st_pred", i)
    cov.check(shipped)


def test_sim_store_is_the_diagonal_of_the_similarity_table(experiment):
    _, _, shipped, cfg, read = experiment
    R, sim, L, layers = shipped["st_runs"], shipped["st_sim"], cfg["L"], cfg["layers"]
    row, cov = _row_of(shipped), Coverage()
    n = 0
    for r in read["similarity"].to_pylist():
        if r["layer"] != r["reference_layer"]:
            continue  # the site ships the diagonal only
        off = R["off_sim"][row[r["run_id"]]]
        i = sim_slot(
            off,
            L,
            REFERENCES.index(r["reference"]),
            SPLITS.index(r["split"]),
            SUBSETS.index(r["subset"]),
            layers.index(r["layer"]),
        )
        assert sim["cka"][i] == np.float32(r["cka"]), r
        cov.add("st_sim", i)
        n += 1
    assert n > 0
    cov.check(shipped)


def test_atk_store_is_the_attack_curves(experiment):
    """Per run, the 'subset' scope's curves (the 'forget_set' scope's when a run has no 'subset' rows),
    each in threshold order."""
    name, _, shipped, cfg, read = experiment
    R, atk, T = shipped["st_runs"], shipped["st_atk"], cfg["T"]
    row, cov = _row_of(shipped), Coverage()
    rows = read["attack"].to_pylist()
    scopes = defaultdict(set)
    for r in rows:
        scopes[r["run_id"]].add(r["scope"])
    if name == "without_subset":
        assert any(s == {"forget_set"} for s in scopes.values())  # the fallback is exercised
    curves = defaultdict(list)
    for r in rows:
        if r["scope"] == ("subset" if "subset" in scopes[r["run_id"]] else "forget_set"):
            curves[(r["run_id"], r["metric"], r["direction"])].append(r)
    for (rid, metric, direction), curve in curves.items():
        curve.sort(key=lambda r: r["threshold"])
        off = R["off_atk"][row[rid]]
        for i, r in enumerate(curve):
            s = atk_slot(off, T, METRICS.index(metric), DIRECTIONS.index(direction), i)
            got = (atk["thr"][s], atk["fpr"][s], atk["fnr"][s], atk["score"][s])
            want = tuple(np.float32(r[k]) for k in ("threshold", "fpr", "fnr", "attack_score"))
            assert got == want, (rid, metric, direction, i)
            cov.add("st_atk", s)
    cov.check(shipped)


def test_inst_store_is_the_instances_table(experiment):
    _, tables, shipped, cfg, read = experiment
    R, inst, C = shipped["st_runs"], shipped["st_inst"], cfg["C"]
    row, cov = _row_of(shipped), Coverage()
    index, labels = _subset_order(tables, read)
    pos = {i: p for p, i in enumerate(index)}
    assert list(shipped["st_subset"]["label"]) == labels
    for r in read["instances"].to_pylist():
        off = R["off_inst"][row[r["run_id"]]]
        s = inst_slot(off, pos[r["index"]])
        # coordinates quantized to uint16 (data.py _quantize): within half a step of the table's
        for axis in ("x", "y"):
            lo, step = cfg["emb_scale"][axis]
            assert abs(lo + int(inst[axis][s]) * step - r[axis]) <= step / 2 + 1e-9, (r["run_id"], axis)
        assert inst["pred"][s] == r["pred"], (r["run_id"], r["index"])
        assert labels[pos[r["index"]]] == r["label"]
        # probabilities x1000 as uint16: js/state.js probs_of divides by 1000
        for c in range(C):
            assert abs(int(inst[f"p{c}"][s]) - r["probs"][c] * 1000) <= 0.5 + 1e-6, (
                r["run_id"],
                r["index"],
                c,
            )
        cov.add("st_inst", s)
    cov.check(shipped)


def test_fgt_store_is_the_forget_instances_values(experiment):
    """The attack view's dots: per run, its forget set's instances (is_forget) in subset order (js/state.js
    forget_positions), entropy and confidence from instances.arrow."""
    _, tables, shipped, cfg, read = experiment
    R, fgt = shipped["st_runs"], shipped["st_fgt"]
    row, cov = _row_of(shipped), Coverage()
    index, labels = _subset_order(tables, read)
    runs = _runs(read)
    values = {(r["run_id"], r["index"]): r for r in read["instances"].to_pylist()}
    for rid, run in runs.items():
        if run["status"] != "ok":
            continue
        off = R["off_fgt"][row[rid]]
        forget = [i for i in index if values[(rid, i)]["is_forget"]]
        assert forget
        pos = {i: p for p, i in enumerate(index)}
        info = next(fs for fs in cfg["sets"] if fs["id"] == _set_of(run))
        assert info["pos"] == [pos[i] for i in forget]  # js/state.js forget_positions
        for j, img in enumerate(forget):
            s = fgt_slot(off, j)
            want = values[(rid, img)]
            assert want["is_forget"]
            assert fgt["entropy"][s] == np.float32(want["entropy"]), (rid, img)
            assert fgt["confidence"][s] == np.float32(want["confidence"]), (rid, img)
            cov.add("st_fgt", s)
    cov.check(shipped)


def _summary(read) -> dict[tuple[str, str], dict]:
    if "summary" not in read:
        return {}
    return {(r["forget_set"], r["setting_id"]): r for r in read["summary"].to_pylist()}


def test_settings_store_is_one_row_per_setting(experiment):
    """st_settings (js/state.js SET, the experiments table's rows): one row per (forget set, setting_id),
    its runs per seed position, and the table's values: a one-run setting's own, else summary.arrow's
    mean, with ``mean ± std`` as text."""
    name, _, shipped, cfg, read = experiment
    R, SET = shipped["st_runs"], shipped["st_settings"]
    runs, summary = _runs(read), _summary(read)
    meta = json.loads(read["runs"].schema.metadata[b"experiment"])
    seeds = meta.get("seeds") or [None]
    groups = defaultdict(list)
    for r in runs.values():
        groups[(_set_of(r), r.get("setting_id") or r["run_id"])].append(r)
    assert len(SET["id"]) == len(groups)
    if name == "sets_and_seeds":
        assert {len(g) for g in groups.values()} == {len(seeds)} and len(seeds) > 1
    for s, sid in enumerate(SET["id"]):
        key = (cfg["sets"][SET["fs"][s]]["id"], sid)
        members = groups[key]
        assert SET["n"][s] == len(members)
        # each seed position's run is the run of that replicate seed
        for i, seed in enumerate(seeds):
            k = SET[run_column(i)][s]
            mine = [r for r in members if seed is None or r["seed"] == seed]
            assert (R["id"][k] if k >= 0 else None) == (mine[0]["run_id"] if mine else None)
            if k >= 0:
                assert R["setting"][k] == s and R["seed_pos"][k] == i
        for m in ("UA", "RA", "TUA", "PS", "avg_gap", "RTE"):
            if len(members) == 1:
                v, sd = (members[0][m] if members[0]["status"] == "ok" else None), None
            else:
                v, sd = summary[key][f"{m}_mean"], summary[key][f"{m}_std"]
            if v is None:
                assert np.isnan(SET[m][s]) and SET[f"{m}_txt"][s] == "-", (sid, m)
                continue
            digits = ".1f" if m == "RTE" else ".3f"
            text = f"{v:{digits}}" + ("" if sd is None else f" \u00b1 {sd:{digits}}")
            assert SET[m][s] == v and SET[f"{m}_txt"][s] == text, (sid, m)
        chosen = members[0]["chosen"] if len(members) == 1 else summary[key]["chosen"]
        assert SET["chosen"][s] == (1 if chosen else 0), sid


def test_sacc_store_is_the_settings_class_wise_mean_and_std(experiment):
    """st_sacc (js/classwise.js): per setting, its mean per-class accuracy and std (NaN with one run)."""
    _, _, shipped, cfg, read = experiment
    SET, sacc, C = shipped["st_settings"], shipped["st_sacc"], cfg["C"]
    runs, summary = _runs(read), _summary(read)
    by_setting = defaultdict(list)
    for r in runs.values():
        by_setting[(_set_of(r), r.get("setting_id") or r["run_id"])].append(r)
    cov = Coverage()
    for s, sid in enumerate(SET["id"]):
        key = (cfg["sets"][SET["fs"][s]]["id"], sid)
        members = by_setting[key]
        off = SET["off_sacc"][s]
        if len(members) == 1:
            r = members[0]
            want = {"train": r["train_acc"], "test": r["test_acc"], "train_sd": None, "test_sd": None}
        else:
            row = summary[key]
            want = {
                f"{x}{y}": row[f"{x}_acc_{z}"]
                for x in ("train", "test")
                for y, z in (("", "mean"), ("_sd", "std"))
            }
        if want["train"] is None:
            assert off == -1, sid
            continue
        for c in range(C):
            i = sacc_slot(off, c)
            for col, values in want.items():
                got = sacc[col][i]
                if values is None:
                    assert np.isnan(got), (sid, col, c)
                else:
                    assert got == np.float32(values[c]), (sid, col, c)
            cov.add("st_sacc", i)
    cov.check(shipped)

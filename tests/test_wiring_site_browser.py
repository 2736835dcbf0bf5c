"""The page in headless Chromium shows what the tables say: each check reads a plotted source, a Div or the
rendered table and compares it with the Arrow tables, read here with pyarrow (expected values are derived
in this file, never by the site's code). test_wiring_site.py checks the packed stores; this checks the
JavaScript that reads them and draws."""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pytest

from comparator_site import build_site

from browser_support import (
    click_button,
    driver,  # noqa: F401
    load,
    model,
    quantization_tolerance,
    set_value,
    severe,
    shadow_text,
    source_data,
    wait,
)  # noqa: F401
from site_fixtures import write_experiment

pytestmark = pytest.mark.browser

FORGET_MARK = " (\u2716)"
TOL = 1e-6  # the stores hold float32
SHARE_TOL = 1 / 65534  # proportions and confidences ship as uint16 steps of 1/65534 (data._unit_uint16)


def _first_unlearned(runs, fc: int) -> str:
    return next(
        r["run_id"]
        for r in runs
        if r["forget_class"] == fc and r["type"] == "unlearned" and r["status"] == "ok"
    )


def _overly_forget(tables: Path):
    """The synthetic models (almost) never misclassify a retain image; make the first unlearned run of each
    forget class misclassify five, so that the 'Overly Forgotten' highlight has something to show."""
    runs = feather.read_table(tables / "runs.arrow").to_pylist()
    inst = feather.read_table(tables / "instances.arrow")
    cols = inst.to_pydict()
    for fc in sorted({r["forget_class"] for r in runs}):
        rid = _first_unlearned(runs, fc)
        rows = [i for i, (r, f) in enumerate(zip(cols["run_id"], cols["is_forget"])) if r == rid and not f]
        for i in rows[:: len(rows) // 5][:5]:
            cols["pred"][i] = (cols["label"][i] + 1) % len(cols["probs"][i])
    feather.write_feather(
        pa.table(cols, schema=inst.schema), tables / "instances.arrow", compression="uncompressed"
    )


@pytest.fixture(scope="module")
def exp(tmp_path_factory):
    tables = write_experiment(
        tmp_path_factory.mktemp("tables"), forget_classes=2, models_per_class=6, per_class=20
    )
    _overly_forget(tables)
    index = build_site(tables, tmp_path_factory.mktemp("site"))
    read = {
        t: feather.read_table(tables / f"{t}.arrow") for t in ("runs", "instances", "similarity", "attack")
    }
    meta = json.loads(read["runs"].schema.metadata[b"experiment"])
    runs = {r["run_id"]: r for r in read["runs"].to_pylist()}
    inst = {(r["run_id"], r["index"]): r for r in read["instances"].to_pylist()}
    return {"index": index, "tables": tables, "read": read, "meta": meta, "runs": runs, "inst": inst}


def _open(driver, exp) -> dict:
    load(driver, Path(exp["index"]).as_uri())
    return driver.execute_script("return window.__uc_state")


def _row_of(driver, run_id) -> int:
    ids = driver.execute_script(f"return {model('st_runs')}.data.id")
    return ids.index(run_id)


def _choose(driver, ab, run_id):
    set_value(driver, f"hdr_sel_{ab}", "value", str(_row_of(driver, run_id)))
    wait(driver, f"window.__uc_state.{ab.upper()} === {json.dumps(run_id)}")


def _class_name(exp, c, fc):
    return exp["meta"]["class_names"][c] + (FORGET_MARK if c == fc else "")


# --- class-wise accuracy ------------------------------------------------------------------------------------
def _check_classwise(driver, exp, a_id, b_id, fc):
    a, b = exp["runs"][a_id], exp["runs"][b_id]
    d = source_data(driver, "cw_src")
    C = len(a["train_acc"])
    assert sorted(d["y"]) == list(range(C))
    for j, y in enumerate(d["y"]):
        c = C - 1 - y  # js/classwise.js: class 0 at the top (y = C - 1)
        assert d["name"][j] == _class_name(exp, c, fc)
        for s, col in (("tr", "train_acc"), ("te", "test_acc")):
            gap = b[col][c] - a[col][c]  # B − A: bars to the right where B is higher
            left, right = d[f"{s}_left"][j], d[f"{s}_right"][j]
            assert left == pytest.approx(min(0.0, gap), abs=TOL) and right == pytest.approx(
                max(0.0, gap), abs=TOL
            ), (s, c, a_id, b_id)
            # the hover texts: A's and B's accuracies, 3 decimals
            assert (
                abs(float(d[f"{s}_a"][j]) - a[col][c]) <= 5e-4 + TOL
                and abs(float(d[f"{s}_b"][j]) - b[col][c]) <= 5e-4 + TOL
            )
    return d


def test_classwise_bars_are_b_minus_a(driver, exp):
    state = _open(driver, exp)
    fc = state["fc"]
    assert (state["A"], state["B"]) == (f"fc{fc}-original", f"fc{fc}-retrained")
    d = _check_classwise(driver, exp, state["A"], state["B"], fc)
    # the forget class: the retrained model's forget accuracy minus the original's, i.e. −UA(original)
    orig, retr = exp["runs"][state["A"]], exp["runs"][state["B"]]
    assert retr["UA"] == 0 and orig["UA"] > 0.5
    j = d["y"].index(len(orig["train_acc"]) - 1 - fc)
    assert d["tr_left"][j] == pytest.approx(-orig["UA"], abs=TOL) and d["tr_right"][j] == 0
    assert d["te_left"][j] == pytest.approx(retr["TUA"] - orig["TUA"], abs=TOL)
    # another pair, the other way round: an unlearned model as A, the original as B
    unl = next(
        r
        for r in exp["runs"].values()
        if r["forget_class"] == fc and r["type"] == "unlearned" and r["status"] == "ok"
    )
    _choose(driver, "a", unl["run_id"])  # first A = the unlearned run (B may not be A's run) ...
    _choose(driver, "b", state["A"])  # ... then B = the original
    _check_classwise(driver, exp, unl["run_id"], state["A"], fc)
    assert severe(driver) == []


# --- layer similarity ---------------------------------------------------------------------------------------
def test_similarity_is_the_diagonal_for_each_reference_and_split(driver, exp):
    state = _open(driver, exp)
    diag = defaultdict(dict)
    for r in exp["read"]["similarity"].to_pylist():
        if r["layer"] == r["reference_layer"] and r["run_id"] in (state["A"], state["B"]):
            diag[(r["run_id"], r["reference"], r["split"], r["subset"])][r["layer"]] = r["cka"]
    layers = exp["meta"]["layers"]
    for ref_i, ref in enumerate(("original", "retrained")):
        for split_i, split in enumerate(("train", "test")):
            set_value(driver, "sim_ref", "active", ref_i)
            set_value(driver, "sim_split", "active", split_i)
            want = {
                f"{ab}_{sub[:3] if sub == 'retain' else 'fgt'}": [
                    diag[(state[ab.upper()], ref, split, sub)][layer] for layer in layers
                ]
                for ab in ("a", "b")
                for sub in ("retain", "forget")
            }
            end = time.time() + 10
            while True:  # the callbacks run asynchronously: poll until the source shows this combination
                d = source_data(driver, "sim_src")
                ok = d["layer"] == layers and all(
                    np.allclose(d[k], v, atol=TOL, rtol=0) for k, v in want.items()
                )
                if ok or time.time() > end:
                    break
                time.sleep(0.05)
            assert d["layer"] == layers
            for k, v in want.items():
                assert np.allclose(d[k], v, atol=TOL, rtol=0), (ref, split, k, d[k], v)
    assert severe(driver) == []


# --- attack: the worst case of an unlearned B ---------------------------------------------------------------
def _curves(exp, run_id):
    """The run's 'subset'-scope curves: {(metric, direction): [(threshold, fpr, fnr, score) in threshold
    order]}."""
    out = defaultdict(list)
    for r in exp["read"]["attack"].to_pylist():
        if r["run_id"] == run_id and r["scope"] == "subset":
            out[(r["metric"], r["direction"])].append((r["threshold"], r["fpr"], r["fnr"], r["attack_score"]))
    return {k: sorted(v) for k, v in out.items()}


def _combined(curves, metric):
    """Per threshold the direction with the higher attack score (above_unlearn on a tie), as plotted."""
    u, r = curves[(metric, "above_unlearn")], curves[(metric, "above_retrain")]
    assert [x[0] for x in u] == [x[0] for x in r]
    return [
        (ru, "above_unlearn") if not np.float32(rr[3]) > np.float32(ru[3]) else (rr, "above_retrain")
        for ru, rr in zip(u, r)
    ]


def _worst_case_run(exp, fc):
    """An unlearned run whose worst case is unambiguous: one metric holds the largest score, and at every
    threshold where its combined curve reaches it the two directions differ (so the direction shows)."""
    for r in exp["runs"].values():
        if r["forget_class"] != fc or r["type"] != "unlearned" or r["status"] != "ok":
            continue
        curves = _curves(exp, r["run_id"])
        best = {
            m: max(x[3] for v in (curves[(m, "above_unlearn")], curves[(m, "above_retrain")]) for x in v)
            for m in ("entropy", "confidence")
        }
        if best["entropy"] == best["confidence"]:
            continue
        m = max(best, key=best.get)
        u, rr = curves[(m, "above_unlearn")], curves[(m, "above_retrain")]
        at_max = [i for i, (row, _) in enumerate(_combined(curves, m)) if row[3] == best[m]]
        if all(u[i][3] != rr[i][3] for i in at_max):
            return r["run_id"], curves, m, best[m]
    raise AssertionError("no unlearned run with an unambiguous worst case in the synthetic data")


def _check_curve(driver, curves, metric):
    want = _combined(curves, metric)
    d = source_data(driver, "atk_b_cv")
    assert len(d["thr"]) == len(want)
    for i, ((thr, fpr, fnr, score), _) in enumerate(want):
        got = (d["thr"][i], d["fpr"][i], d["fnr"][i], d["score"][i])
        assert np.allclose(got, (thr, fpr, fnr, score), atol=TOL, rtol=0), (
            metric,
            i,
            got,
            (thr, fpr, fnr, score),
        )


def test_worst_case_privacy_score_of_b_is_one_minus_its_largest_attack_score(driver, exp):
    state = _open(driver, exp)
    fc = state["fc"]
    run_id, curves, metric, worst = _worst_case_run(exp, fc)
    assert worst == max(x[3] for v in curves.values() for x in v)
    set_value(driver, "core_tabs", "active", 1)
    _choose(driver, "b", run_id)
    click_button(driver, "atk_worst_b")
    wait(driver, f"{model('atk_strategy')}.active === 1")
    ps = wait(
        driver,
        f"Bokeh.index.find_one({model('atk_b_ps')}).shadow_el.textContent.includes('Privacy Score') && "
        f"Bokeh.index.find_one({model('atk_b_ps')}).shadow_el.textContent",
    )
    m = re.search(r"Privacy Score = 1 \u2212 ([-\d.]+) = ([-\d.]+)", ps)
    assert m, ps
    assert (
        abs(float(m.group(1)) - worst) <= 5e-4 + TOL and abs(float(m.group(2)) - (1 - worst)) <= 5e-4 + TOL
    ), (ps, worst)
    # beside it, the table's PS (every forget image, worst threshold): the runs table's value, not this view's
    table_ps = re.search(r"Table PS \(all forget images, worst threshold\): ([-\d.]+)", ps)
    assert table_ps and table_ps.group(1) == f"{exp['runs'][run_id]['PS']:.3f}", ps
    # the worst case's metric and threshold, and the direction the panel labels
    metrics = ("entropy", "confidence")
    assert metrics[driver.execute_script(f"return {model('atk_metric')}.active")] == metric
    t = driver.execute_script(f"return {model('atk_b_span_b')}.location")
    comb = _combined(curves, metric)
    i = int(np.argmin([abs(row[0] - t) for row, _ in comb]))
    (thr, _, _, score), direction = comb[i]
    assert abs(thr - t) <= TOL and score == worst
    up = driver.execute_script(f"return {model('atk_b_up')}.text")
    # above_unlearn: values >= threshold are called 'this model' (attack.arrow's direction)
    assert up == "\u2191 Pred as " + ("Model B" if direction == "above_unlearn" else "Retrained"), (
        up,
        direction,
    )
    _check_curve(driver, curves, metric)
    # the other metric's curve too
    other = metrics[1 - metrics.index(metric)]
    set_value(driver, "atk_metric", "active", metrics.index(other))
    wait(
        driver,
        f"{model('atk_b_yaxis')}.axis_label === "
        f"{json.dumps(['Entropy', 'Top-1 Confidence'][metrics.index(other)])}",
    )
    _check_curve(driver, curves, other)
    # a custom threshold: the privacy score is 1 − the plotted curve's score at that threshold
    set_value(driver, "atk_strategy", "active", 0)
    wait(driver, f"!{model('atk_thr')}.disabled")
    comb = _combined(curves, other)
    for i in (7, 20, 33, 46):
        (thr, _, _, score), _ = comb[i]
        set_value(driver, "atk_thr", "value", thr)
        wait(driver, f"Math.abs({model('atk_b_span_b')}.location - {thr}) < 1e-6")
        text = shadow_text(driver, "atk_b_ps")
        m = re.search(r"Privacy Score = 1 \u2212 ([-\d.]+) = ([-\d.]+)", text)
        assert m and abs(float(m.group(2)) - (1 - score)) <= 5e-4 + TOL, (other, thr, text, score)

    # a thumbnail of the grids: its tooltip shows the retrained model's and B's probabilities of that image
    key = driver.execute_script(
        f"""
      const v = Bokeh.index.find_one({model("atk_b_succ")});
      const el = v.shadow_el.querySelector('[data-k^="m"]') || """
        f"""Bokeh.index.find_one({model("atk_b_fail")}).shadow_el.querySelector('[data-k^="m"]');
      el.dispatchEvent(new MouseEvent('mouseover', """
        f"""{{bubbles: true, composed: true, clientX: 200, clientY: 200}}));
      return el.dataset.k;"""
    )
    assert key
    wait(
        driver,
        "document.getElementById('uc-tip') && document.getElementById('uc-tip').style.display === 'block'",
    )
    _check_tooltip(driver, exp, fc, [f"fc{fc}-retrained", run_id])
    assert severe(driver) == []


# --- the experiments table ----------------------------------------------------------------------------------
CELLS = """
const root = Bokeh.index.find_one(Bokeh.documents[0].get_model_by_name('tbl_table')).shadow_el;
const heads = [...root.querySelectorAll('.slick-header-column')].map((h) => h.textContent.trim());
const rows = [...root.querySelectorAll('.slick-row')].map((r) => heads.map((_, i) => {
  const c = r.querySelector('.slick-cell.l' + i); return c ? c.textContent.trim() : null; }));
return [heads, rows];
"""
COLUMNS = {
    "UA": "UA",
    "RA": "RA",
    "TUA": "TUA",
    "TRA": "TRA",
    "PS": "PS",
    "MIA": "MIA_efficacy",
    "Avg. Gap": "avg_gap",
    "RT": "RTE",
    "TA": "TA",
    "PS ch.": "PS_challenge",
}


def _check_table(driver, exp, fc):
    runs = {k: r for k, r in exp["runs"].items() if r["forget_class"] == fc}
    end = time.time() + 10
    while True:
        heads, rows = driver.execute_script(CELLS)
        shown = {row[heads.index("ID")]: row for row in rows}
        if set(shown) == set(runs) or time.time() > end:
            break
        time.sleep(0.1)
    assert set(shown) == set(runs)
    assert {"UA", "RA", "TUA", "TRA", "PS"} <= set(heads)
    checked = 0
    for rid, r in runs.items():
        for head, col in COLUMNS.items():
            if head not in heads or col not in r:
                continue
            v = r[col] if r["status"] == "ok" else None
            want = "-" if v is None or not np.isfinite(v) else (f"{v:.1f}" if col == "RTE" else f"{v:.3f}")
            assert shown[rid][heads.index(head)] == want, (rid, head, col)
            checked += col == "PS"
    assert checked == len(runs)


def test_table_cells_show_the_runs_table(driver, exp):
    state = _open(driver, exp)
    _check_table(driver, exp, state["fc"])
    fcs = exp["meta"]["forget_classes"]
    set_value(driver, "hdr_fc", "active", 1)
    wait(driver, f"window.__uc_state.fc === {fcs[1]}")
    _check_table(driver, exp, fcs[1])
    assert severe(driver) == []


# --- the instance tooltip ----------------------------------------------------------------------------------
TIP = (
    """
const t = document.getElementById('uc-tip');
const rows = [...t.querySelectorAll('.uc-tip-row')].map((e) => e.textContent);
const bars = [...t.querySelectorAll('.uc-tip-bar-row')].map((r) =>
  [r.querySelector('.uc-tip-cls').textContent, """
    """[...r.querySelectorAll('.uc-tip-val')].map((v) => v.textContent)]);
return [rows, bars];
"""
)


def _check_tooltip(driver, exp, fc, run_ids):
    """The tooltip's image, true class, both models' predictions and class probabilities (T = 1, shown to
    3 decimals from the store's 1/1000 steps) are the instances.arrow rows of that image for the two runs."""
    rows, bars = driver.execute_script(TIP)
    m = re.match(r"Image #(\d+)", rows[0])
    assert m, rows
    img = int(m.group(1))
    want = [exp["inst"][(rid, img)] for rid in run_ids]
    assert f"True Class: {_class_name(exp, want[0]['label'], fc)}" in rows
    preds = [r.split(": ", 1)[1] for r in rows if r.startswith(("Model A: ", "Model B: ", "Retrained: "))]
    assert preds == [_class_name(exp, w["pred"], fc) for w in want], (preds, img)
    assert len(bars) == len(want[0]["probs"])
    for c, (name, vals) in enumerate(bars):
        assert name == _class_name(exp, c, fc)
        for v, w in zip(vals, want, strict=True):
            assert abs(float(v) - w["probs"][c]) <= 5e-4 + TOL, (img, c, v, w["run_id"], w["probs"][c])
    return img


def test_embedding_tooltip_shows_the_instances_probabilities(driver, exp):
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    state = _open(driver, exp)
    fc = state["fc"]
    unl = _first_unlearned(exp["runs"].values(), fc)
    _choose(driver, "a", unl)
    time.sleep(0.3)
    seen = set()
    for which in ("lastIndexOf('x')", "indexOf('circle')"):  # a forget instance, a retain instance
        xy = driver.execute_script(f"""
          const v = Bokeh.index.find_one(Bokeh.documents[0].get_model_by_name('emb_b_fig'));
          const d = Bokeh.documents[0].get_model_by_name('emb_src').data;
          const j = d.marker.{which};
          const r = v.canvas_view.el.getBoundingClientRect();
          return [r.left + v.frame.x_scale.compute(d.bx[j]), r.top + v.frame.y_scale.compute(d.by[j])];""")
        action = ActionBuilder(driver)
        action.pointer_action.move_to_location(5, 5)
        action.perform()
        action = ActionBuilder(driver)
        action.pointer_action.move_to_location(int(xy[0]), int(xy[1]))
        action.perform()
        wait(
            driver,
            "document.getElementById('uc-tip') && document.getElementById('uc-tip').style.display === 'block'"
            " && document.getElementById('uc-tip').textContent.includes('Image #')",
        )
        seen.add(_check_tooltip(driver, exp, fc, [unl, state["B"]]))
    forget = {i for (rid, i), r in exp["inst"].items() if rid == unl and r["is_forget"]}
    assert seen & forget and seen - forget, seen  # one of each
    assert severe(driver) == []


# --- prediction matrices and the embedding ------------------------------------------------------------------
def test_matrices_embedding_and_highlights_follow_a_and_b(driver, exp):
    state = _open(driver, exp)
    fc = state["fc"]
    unl = _first_unlearned(exp["runs"].values(), fc)
    _choose(driver, "a", unl)
    a_id, b_id = unl, state["B"]
    C = len(exp["meta"]["class_names"])
    preds = {
        (r["run_id"], r["split"], r["true"], r["pred"]): r
        for r in feather.read_table(exp["tables"] / "predictions.arrow").to_pylist()
    }
    for split_i, split in enumerate(("train", "test")):
        set_value(driver, "mx_split", "active", split_i)
        for ab, rid in (("a", a_id), ("b", b_id)):
            want = [preds[(rid, split, t, p)] for t in range(C) for p in range(C)]
            end = time.time() + 10
            while True:
                d = source_data(driver, f"mx_{ab}_cell")
                got = [float(x) for x in d["prop_txt"]]
                ok = all(abs(g - w["proportion"]) <= 5e-4 + SHARE_TOL for g, w in zip(got, want))
                if ok or time.time() > end:
                    break
                time.sleep(0.05)
            for q, w in enumerate(want):
                # js/matrix.js: column = predicted class, row from the top = true class
                assert (d["x"][q], d["y"][q]) == (w["pred"], C - 1 - w["true"])
                assert abs(float(d["prop_txt"][q]) - w["proportion"]) <= 5e-4 + SHARE_TOL, (ab, split, w)
                assert abs(float(d["conf_txt"][q]) - w["mean_confidence"]) <= 5e-4 + SHARE_TOL, (ab, split, w)
    # the embedding: each point at its instance's x, y in A's and B's panels
    sub = feather.read_table(exp["tables"] / "subset.arrow").to_pylist()
    d = source_data(driver, "emb_src")
    tx, ty = (quantization_tolerance(exp["inst"].values(), axis) for axis in ("x", "y"))
    assert sorted(d["pos"]) == list(range(len(sub)))
    for j, i in enumerate(d["pos"]):
        img = sub[i]["index"]
        a, b = exp["inst"][(a_id, img)], exp["inst"][(b_id, img)]
        assert (d["ax"][j], d["ay"][j]) == (pytest.approx(a["x"], abs=tx), pytest.approx(a["y"], abs=ty)), img
        assert (d["bx"][j], d["by"][j]) == (pytest.approx(b["x"], abs=tx), pytest.approx(b["y"], abs=ty)), img
        assert d["marker"][j] == ("x" if sub[i]["label"] == fc else "circle")
    # the highlight modes: the points left opaque are the ones the instances table puts in that group
    groups = {
        1: lambda r: r["label"] == fc,
        2: lambda r: r["label"] == fc and r["pred"] != r["label"],
        3: lambda r: r["label"] == fc and r["pred"] == r["label"],
        4: lambda r: r["label"] != fc and r["pred"] != r["label"],
    }
    for mode, member in groups.items():
        set_value(driver, "emb_mode", "active", mode)
        for ab, rid in (("a", a_id), ("b", b_id)):
            want = sorted(i for i, row in enumerate(sub) if member(exp["inst"][(rid, row["index"])]))
            script = (
                f"""const d = {model("emb_src")}.data; const out = [];
                         for (let j = 0; j < d.pos.length; j++) """
                f"""if ((d.{ab}_fill[j] & 255) > 20) out.push(d.pos[j]);
                         return out.sort((x, y) => x - y);"""
            )
            end = time.time() + 10
            while (got := driver.execute_script(script)) != want and time.time() < end:
                time.sleep(0.05)
            assert got == want, (mode, ab, rid)
    # the groups differ (a mode showing another mode's group would be seen)
    sizes = {m: sum(g(exp["inst"][(a_id, row["index"])]) for row in sub) for m, g in groups.items()}
    assert sizes[2] != sizes[3] and 0 < sizes[4] and sizes[1] == sizes[2] + sizes[3], sizes
    assert severe(driver) == []

"""The privacy audit in headless Chromium: the per-example ROC figure follows A, B and the seed, the
embedding's vulnerability highlight colours the forget set's images by score, the attack grids order by
vulnerability, the table's audit columns show and sort, a run id with markup stays text, and a site
without the audit has none of it. Expected values are read from the Arrow tables with pyarrow.
Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pyarrow.feather as feather
import pytest
from bokeh.palettes import Viridis256

from comparator_site import build_site

from browser_support import (
    driver,  # noqa: F401
    load,
    model,
    set_value,
    severe,
    shot,
    source_data,
    wait,
)
from site_fixtures import EVIL_RUN, write_experiment

pytestmark = pytest.mark.browser

SEEDS = [0, 1, 2]
SETUP = dict(forget_classes=[4], forget_sets=[{"random": 0.1, "seed": 1}], models_per_class=6, per_class=20)
FLOOR = 1e-4  # the FPR grid's first point: the log axes' floor
QUANTILE = 95  # the vulnerability colours' range (data.py VUL_QUANTILE)


@pytest.fixture(scope="module")
def exp(tmp_path_factory):
    tables = write_experiment(tmp_path_factory.mktemp("tables"), seeds=SEEDS, audit=True, **SETUP)
    index = build_site(tables, tmp_path_factory.mktemp("site"))
    runs = {r["run_id"]: r for r in feather.read_table(tables / "runs.arrow").to_pylist()}
    audit = {r["run_id"]: r for r in feather.read_table(tables / "audit.arrow").to_pylist()}
    scores = {}
    for r in feather.read_table(tables / "audit_instances.arrow").to_pylist():
        scores[r["run_id"], r["index"]] = r["ulira"]
    subset = feather.read_table(tables / "subset.arrow").column("index").to_pylist()
    forget = {}  # forget set -> the subset positions of its images (instances.arrow's is_forget)
    for r in feather.read_table(tables / "instances.arrow").to_pylist():
        if r["is_forget"]:
            forget.setdefault(runs[r["run_id"]]["forget_set"], set()).add(r["index"])
    pos = {fs: [p for p, i in enumerate(subset) if i in members] for fs, members in forget.items()}
    return {"index": index, "runs": runs, "audit": audit, "scores": scores, "subset": subset, "pos": pos}


def _js(driver, expr):
    return driver.execute_script(f"return {expr}")


def _open(driver, exp):
    load(driver, Path(exp["index"]).as_uri())
    return _js(driver, "window.__uc_state")


def _choose_a(driver, setting_id):
    """Model A: the setting with this id (a row of the settings store), at the current seed."""
    k = _js(driver, f"{model('st_settings')}.data.id.indexOf({json.dumps(setting_id)})")
    assert k >= 0, setting_id
    set_value(driver, "hdr_sel_a", "value", str(k))
    return wait(
        driver, f"window.__uc_state.A.startsWith({json.dumps(setting_id + '-seed')}) && window.__uc_state"
    )


def _curve(exp, run_id, curve="ulira"):
    """What the figure plots of the run's ROC: the table's TPRs, raised to the log axis' floor."""
    return [max(v, FLOOR) for v in exp["audit"][run_id][f"{curve}_roc_tpr"]]


def _caption(driver) -> str:
    return _js(driver, f"Bokeh.index.find_one({model('atk_aud_caption')}).markup_el.textContent")


def test_roc_figure_shows_a_b_and_the_calibration_on_log_axes(driver, exp):
    state = _open(driver, exp)
    assert (state["A"], state["B"]) == ("fc4-original-seed0", "fc4-retrained-seed0")
    fig = model("aud_fig")
    assert _js(driver, f"[{fig}.x_scale.type, {fig}.y_scale.type]") == ["LogScale", "LogScale"]
    assert _js(driver, f"[{fig}.x_range.start, {fig}.x_range.end, {fig}.y_range.start]") == [FLOOR, 1, FLOOR]
    glyph = "[g.line_color.value, g.line_dash.value]"
    glyphs = {k: _js(driver, f"((g) => {glyph})({model('aud_line_' + k)}.glyph)") for k in ("a", "b", "r")}
    assert glyphs["a"][0].lower() == "#10b981" and glyphs["b"][0].lower() == "#a855f7"
    assert glyphs["r"][0].lower() == "#6a6a6a" and glyphs["r"][1] not in ("solid", [])  # grey, dashed
    assert glyphs["a"][1] in ("solid", []) and glyphs["b"][1] in ("solid", [])
    d = source_data(driver, "atk_aud_src")
    assert d["fpr"][0] == pytest.approx(FLOOR) and d["fpr"][-1] == pytest.approx(1.0) and len(d["fpr"]) == 41
    assert d["a"] == pytest.approx(_curve(exp, "fc4-original-seed0"), abs=1e-6)
    assert d["b"] == pytest.approx(_curve(exp, "fc4-retrained-seed0"), abs=1e-6)
    assert d["r"] == pytest.approx(_curve(exp, "fc4-retrained-seed0"), abs=1e-6)  # A's seed's retrained
    assert min(d["a"] + d["b"] + d["r"]) >= FLOOR  # a zero TPR sits on the floor
    caption = _caption(driver)
    original = exp["audit"]["fc4-original-seed0"]
    assert f"AUC {original['ulira_auc']:.3f}" in caption
    assert f"TPR@1% FPR {original['ulira_tpr_1pct']:.3f}" in caption
    assert "Retrained (calibration) fc4-retrained-seed0" in caption and "Chance" in caption
    set_value(driver, "core_tabs", "active", 1)
    time.sleep(0.5)
    shot(driver, "30-audit-roc")
    assert severe(driver) == []


def test_roc_follows_model_a_the_seed_and_the_attack(driver, exp):
    _open(driver, exp)
    state = _choose_a(driver, "fc4-ft-02")
    assert state["A"] == "fc4-ft-02-seed0"
    wait(driver, f"{model('atk_aud_src')}.data.a[40] !== undefined")
    d = source_data(driver, "atk_aud_src")
    assert d["a"] == pytest.approx(_curve(exp, "fc4-ft-02-seed0"), abs=1e-6)
    assert d["a"] != pytest.approx(_curve(exp, "fc4-original-seed0"), abs=1e-6)
    # the seed: A's and the calibration's runs of seed 1
    set_value(driver, "hdr_seed", "value", "1")
    wait(driver, "window.__uc_state.seed === 1")
    d = source_data(driver, "atk_aud_src")
    assert d["a"] == pytest.approx(_curve(exp, "fc4-ft-02-seed1"), abs=1e-6)
    assert d["r"] == pytest.approx(_curve(exp, "fc4-retrained-seed1"), abs=1e-6)
    assert f"AUC {exp['audit']['fc4-ft-02-seed1']['ulira_auc']:.3f}" in _caption(driver)
    # RMIA's curves and figures
    set_value(driver, "atk_aud_metric", "value", "1")
    wait(
        driver,
        f"Bokeh.index.find_one({model('atk_aud_caption')}).markup_el.textContent.includes('RMIA') || "
        f"{model('atk_aud_src')}.data.a[20] !== {d['a'][20]}",
    )
    d = source_data(driver, "atk_aud_src")
    assert d["a"] == pytest.approx(_curve(exp, "fc4-ft-02-seed1", "rmia"), abs=1e-6)
    assert f"AUC {exp['audit']['fc4-ft-02-seed1']['rmia_auc']:.3f}" in _caption(driver)
    # a failed run (the last seed's): no curve, its note instead
    set_value(driver, "atk_aud_metric", "value", "0")
    _choose_a(driver, "fc4-ga-03")
    set_value(driver, "hdr_seed", "value", "2")
    wait(driver, "window.__uc_state.seed === 2 && window.__uc_state.A === 'fc4-ga-03-seed2'")
    wait(driver, f"{model('atk_aud_src')}.data.a.every((v) => Number.isNaN(v))")
    assert "no U-LiRA figures: the run failed" in _caption(driver)
    assert severe(driver) == []


def _palette_position(packed: int) -> int:
    colour = f"#{(packed >> 24) & 255:02x}{(packed >> 16) & 255:02x}{(packed >> 8) & 255:02x}"
    return [c.lower() for c in Viridis256].index(colour)


def _vulnerability_range(exp, fs) -> float:
    """± the 95th percentile of |U-LiRA| over the subset's forget images under all the set's models."""
    images = {exp["subset"][p] for p in exp["pos"][fs]}
    values = [
        abs(u)
        for (run, i), u in exp["scores"].items()
        if i in images and exp["runs"][run]["forget_set"] == fs and math.isfinite(u)
    ]
    return float(np.percentile(values, QUANTILE))


def test_vulnerability_highlight_colours_the_forget_images_by_score(driver, exp):
    _open(driver, exp)
    _choose_a(driver, "fc4-ft-02")
    shown = f"Bokeh.index.find_one({model('emb_vul_row')}).el.style.visibility"
    assert _js(driver, shown) == "hidden"
    set_value(driver, "emb_mode", "active", 5)
    wait(driver, f"{shown} === ''")
    span = _vulnerability_range(exp, "fc4")
    mapper = model("emb_vul_mapper")
    assert _js(driver, f"[{mapper}.low, {mapper}.high]") == pytest.approx([-span, span], rel=1e-5)
    assert "Vulnerability (U-LiRA)" == _js(driver, f"{model('emb_mode')}.labels[5]")
    d = source_data(driver, "emb_src")
    members = set(exp["pos"]["fc4"])
    grey = (0xD1 << 24 | 0xD5 << 16 | 0xDB << 8 | 64) & 0xFFFFFFFF
    for ab, run in (("a", "fc4-ft-02-seed0"), ("b", "fc4-retrained-seed0")):
        scored = []
        for j, p in enumerate(d["pos"]):
            fill = int(d[f"{ab}_fill"][j])
            if p not in members:
                assert fill == grey, (ab, p)  # the other images: faded grey
                continue
            assert d["marker"][j] == "x"
            u = exp["scores"][run, exp["subset"][p]]
            at = _palette_position(fill)
            expected = min(255, max(0, math.floor((u + span) / (2 * span) * 256)))
            assert abs(at - expected) <= 1, (ab, p, u, at, expected)
            assert fill & 255 == round(0.95 * 255) and _palette_position(int(d[f"{ab}_line"][j])) == at
            scored.append((u, at))
        assert len(scored) == len(members)
        # a higher score, a colour further up the map
        scored.sort()
        assert [at for _, at in scored] == sorted(at for _, at in scored)
        assert scored[-1][1] > scored[0][1]
    shot(driver, "31-vulnerability")
    # the mode stays when A changes (the colours are the new model's), and goes with "All"
    _choose_a(driver, "fc4-original")
    assert _js(driver, f"{model('emb_mode')}.active") == 5 and _js(driver, shown) == ""
    top = max(members, key=lambda p: exp["scores"]["fc4-original-seed0", exp["subset"][p]])
    d = source_data(driver, "emb_src")
    j = d["pos"].index(top)
    assert _palette_position(int(d["a_fill"][j])) >= 128
    set_value(driver, "emb_mode", "active", 0)
    wait(driver, f"{shown} === 'hidden'")
    assert severe(driver) == []


def _grid_keys(driver, name) -> list[str]:
    return _js(
        driver,
        f"[...Bokeh.index.find_one({model(name)}).shadow_el.querySelectorAll('[data-k]')]"
        ".map((e) => e.dataset.k)",
    )


def test_attack_grids_order_by_vulnerability(driver, exp):
    _open(driver, exp)
    _choose_a(driver, "fc4-ft-02")
    set_value(driver, "core_tabs", "active", 1)
    wait(driver, f"Bokeh.index.find_one({model('atk_a_succ')}).shadow_el.querySelector('[data-k]') != null")
    assert _js(driver, f"{model('atk_aud_order')}.value") == "0"
    before = _grid_keys(driver, "atk_a_succ") + _grid_keys(driver, "atk_a_fail")
    set_value(driver, "atk_aud_order", "value", "1")
    end = time.time() + 10  # the grids are rebuilt by the select's callback, asynchronously
    while before == _grid_keys(driver, "atk_a_succ") + _grid_keys(driver, "atk_a_fail") and time.time() < end:
        time.sleep(0.05)
    positions = exp["pos"]["fc4"]
    for grid in ("atk_a_succ", "atk_a_fail"):
        keys = _grid_keys(driver, grid)
        # each key is a side (r: retrained sample, m: the model's) and the image's place in the forget set
        scores = [exp["scores"]["fc4-ft-02-seed0", exp["subset"][positions[int(k[1:])]]] for k in keys]
        assert scores == sorted(scores, reverse=True), grid
    assert sorted(before) == sorted(_grid_keys(driver, "atk_a_succ") + _grid_keys(driver, "atk_a_fail"))
    shot(driver, "32-grids-by-vulnerability")
    set_value(driver, "atk_aud_order", "value", "0")
    end = time.time() + 10  # back to the order a site without the audit shows
    while _grid_keys(driver, "atk_a_succ") + _grid_keys(driver, "atk_a_fail") != before and time.time() < end:
        time.sleep(0.05)
    assert _grid_keys(driver, "atk_a_succ") + _grid_keys(driver, "atk_a_fail") == before
    set_value(driver, "core_tabs", "active", 0)
    assert severe(driver) == []


def _table_cells(driver, header) -> list[tuple[str, str]]:
    """(ID, the header's column) of every row the table shows, in its order."""
    return _js(
        driver,
        f"""(() => {{ const root = Bokeh.index.find_one({model("tbl_table")}).shadow_el;
          const heads = [...root.querySelectorAll('.slick-header-column')].map((h) => h.textContent.trim());
          const i = heads.indexOf({json.dumps(header)}), j = heads.indexOf('ID');
          return [...root.querySelectorAll('.slick-row')]
            .map((r) => [r.querySelector('.slick-cell.l' + j).textContent.trim(),
                         r.querySelector('.slick-cell.l' + i).textContent.trim()]); }})()""",
    )


def test_table_audit_columns_show_the_pooled_figures_and_sort(driver, exp):
    _open(driver, exp)
    heads = _js(
        driver,
        f"[...Bokeh.index.find_one({model('tbl_table')}).shadow_el.querySelectorAll('.slick-header-column')]"
        ".map((h) => h.textContent.trim())",
    )
    assert {"U-LiRA AUC", "TPR@1% FPR", "RMIA AUC", "Forget quality"} <= set(heads)
    d = source_data(driver, "tbl_src")
    for sid, auc_txt, f_txt in zip(d["id"], d["ulira_auc_txt"], d["forget_quality_txt"]):
        rows = [a for a in exp["audit"].values() if a["setting_id"] == sid and a["ulira_auc"] is not None]
        # the setting's replicates pooled (one figure, no spread), not a mean of per-model AUCs
        assert auc_txt == f"{rows[0]['ulira_auc_setting']:.3f}", sid
        assert rows[0]["ulira_auc_setting"] != np.mean([a["ulira_auc"] for a in rows])
        assert f_txt == f"{rows[0]['forget_quality']:.3f}", sid  # the setting's: no spread
    # sorting by a header sorts by the figure
    _js(
        driver,
        f"""[...Bokeh.index.find_one({model("tbl_table")}).shadow_el.querySelectorAll('.slick-header-column')]
              .find((h) => h.textContent.trim() === 'U-LiRA AUC').click() || true""",
    )
    time.sleep(0.5)
    cells = _table_cells(driver, "U-LiRA AUC")
    means = [float(text.split(" ")[0]) for _, text in cells]
    assert len(means) == len(d["id"]) and means in (sorted(means), sorted(means, reverse=True)), cells
    assert severe(driver) == []


def test_a_run_id_with_markup_is_shown_as_text(driver, exp):
    _open(driver, exp)
    evil = next(r["setting_id"] for r in exp["runs"].values() if EVIL_RUN in r["run_id"])
    state = _choose_a(driver, evil)
    caption = f"Bokeh.index.find_one({model('atk_aud_caption')}).markup_el"
    wait(driver, f"{caption}.textContent.includes({json.dumps(state['A'])})")
    assert _js(driver, f"{caption}.querySelector('.uc-aud-id').textContent") == state["A"]
    assert _js(driver, f"{caption}.querySelectorAll('.uc-aud-id b').length") == 0
    assert _js(driver, "window.__xss") is None
    assert severe(driver) == []


def test_a_site_without_the_audit_has_none_of_it(driver, tmp_path):
    tables = write_experiment(tmp_path / "t", seeds=SEEDS, **SETUP)
    index = build_site(tables, tmp_path / "s")
    load(driver, index.as_uri())
    for name in ("aud_fig", "atk_aud_src", "atk_aud_order", "emb_vul_row", "emb_vul_mapper"):
        assert _js(driver, f"{model(name)} === null"), name
    assert len(_js(driver, f"{model('emb_mode')}.labels")) == 5
    heads = _js(
        driver,
        f"[...Bokeh.index.find_one({model('tbl_table')}).shadow_el.querySelectorAll('.slick-header-column')]"
        ".map((h) => h.textContent.trim())",
    )
    assert "U-LiRA AUC" not in heads and "Forget quality" not in heads
    # the page works as before: A changes every view, the attack grids fill
    _choose_a(driver, "fc4-ft-02")
    set_value(driver, "core_tabs", "active", 1)
    wait(driver, f"Bokeh.index.find_one({model('atk_a_succ')}).shadow_el.querySelector('[data-k]') != null")
    set_value(driver, "core_tabs", "active", 0)
    assert severe(driver) == []

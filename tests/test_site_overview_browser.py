"""The overview (views/overview.py, js/overview.js) in headless Chromium: the trade-off scatter's points,
hover, click-to-set B (and A), the brush filtering the experiments table, best of each method,
sensitivity and across forget sets. Two forget sets, two seeds, 32 settings per set (64 runs)."""

from __future__ import annotations

import time

import pytest

from comparator_site import build_site
from comparator_site.data import load
from comparator_site.views import overview

from browser_support import click_button, driver, model, set_value, source_data, wait
from browser_support import load as load_page
from site_fixtures import write_experiment

__all__ = ["driver"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tables = write_experiment(
        tmp_path_factory.mktemp("tables"), forget_classes=2, models_per_class=32, per_class=10, seeds=[0, 1]
    )
    out = tmp_path_factory.mktemp("site")
    build_site(tables, out)
    return out / "index.html", load(tables)


@pytest.fixture(scope="module")
def page(driver, site):
    load_page(driver, site[0].as_uri())
    return driver


def sd(d, name):
    return source_data(d, name)


def state(d):
    return d.execute_script("return window.__uc_state;")


def client_xy(d, fig, i):
    """Viewport coordinates of ov_src's point i in figure fig (ov_fig1 / ov_fig2)."""
    return d.execute_script(
        f"""const f = {model(fig)}, v = Bokeh.index.find_one(f), s = {model("ov_src")}.data;
        const [x, y] = f.name === "ov_fig1" ? [s.x1[arguments[0]], s.y1[arguments[0]]]
                                            : [s.x2[arguments[0]], s.y2[arguments[0]]];
        const r = v.canvas_view.el.getBoundingClientRect();
        return [r.left + v.frame.x_scale.compute(x), r.top + v.frame.y_scale.compute(y)];""",
        i,
    )


def pointer(d, x, y, click=False):
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    a = ActionBuilder(d)
    a.pointer_action.move_to_location(int(x), int(y))
    if click:
        a.pointer_action.click()
    a.perform()


def unlearned_points(d, data):
    src = sd(d, "ov_src")
    return [i for i, k in enumerate(src["k"]) if data.settings[k]["type"] not in ("original", "retrained")]


def test_one_point_per_ok_setting_and_hover(page, site):
    d, data = page, site[1]
    ok = [k for k, s in enumerate(data.settings) if s["fs"] == 0 and s["status"] == "ok"]
    src = sd(d, "ov_src")
    assert sorted(src["k"]) == ok
    assert sorted(x for x in src["lab"] if x) == ["Original", "Retrained"]
    d.execute_script("window.scrollTo(0, 0);")
    i = unlearned_points(d, data)[0]
    x, y = client_xy(d, "ov_fig1", i)
    pointer(d, x, y)
    wait(
        d, "document.getElementById('uc-tip') && document.getElementById('uc-tip').style.display === 'block'"
    )
    text = d.execute_script("return document.getElementById('uc-tip').textContent;")
    k = src["k"][i]
    assert data.settings[k]["run_id"] in text
    assert "Forgetting gap" in text and (data.settings[k]["method_name"] or "") in text


def test_click_sets_b_then_a_with_the_toggle(page, site):
    d, data = page, site[1]
    src = sd(d, "ov_src")
    pts = unlearned_points(d, data)
    before = state(d)
    i = pts[1]
    pointer(d, *client_xy(d, "ov_fig1", i), click=True)
    wait(d, f"window.__uc_state.B !== {before['B']!r}")
    assert state(d)["B"] in [data.runs[r]["run_id"] for r in data.settings[src["k"][i]]["rows"]]
    assert state(d)["A"] == before["A"]
    set_value(d, "ov_click", "active", 0)
    j = pts[2]
    pointer(d, *client_xy(d, "ov_fig2", j), click=True)
    wait(d, f"window.__uc_state.A !== {before['A']!r}")
    assert state(d)["A"] in [data.runs[r]["run_id"] for r in data.settings[src["k"][j]]["rows"]]
    rings = sd(d, "ov_rings")
    assert len(rings["x1"]) == 2
    set_value(d, "ov_click", "active", 1)


def test_the_brush_filters_the_table_and_clear_restores_it(page, site):
    d, data = page, site[1]
    src = sd(d, "ov_src")
    all_rows = sorted(sd(d, "tbl_src")["idx"])
    pts = unlearned_points(d, data)[:3]
    refs = {k for k in all_rows if data.settings[k]["type"] in ("original", "retrained")}
    d.execute_script(f"{model('ov_src')}.selected.indices = arguments[0];", pts)
    want = sorted({src["k"][i] for i in pts} | refs)
    wait(d, f"Bokeh.documents[0].get_model_by_name('tbl_src').data.idx.length === {len(want)}")
    assert sorted(sd(d, "tbl_src")["idx"]) == want
    ms = d.execute_script("return window.__uc_brush_ms;")
    print(f"brush table update: {ms:.1f} ms ({len(all_rows)} settings, 64 runs)")
    assert ms < 100
    click_button(d, "ov_clear")
    wait(d, f"Bokeh.documents[0].get_model_by_name('tbl_src').data.idx.length === {len(all_rows)}")
    assert d.execute_script(f"return {model('ov_src')}.selected.indices.length;") == 0


def test_a_forget_set_switch_clears_the_brush(page, site):
    d, data = page, site[1]
    pts = unlearned_points(d, data)[:2]
    d.execute_script(f"{model('ov_src')}.selected.indices = arguments[0];", pts)
    wait(d, "window.__uc_brush_ms !== undefined")
    time.sleep(0.3)
    fs0 = state(d)["fs"]
    set_value(d, "hdr_fc", "active", 1)
    wait(d, f"window.__uc_state.fs !== {fs0!r}")
    assert d.execute_script(f"return {model('ov_src')}.selected.indices.length;") == 0
    ok1 = sorted(k for k, s in enumerate(data.settings) if s["fs"] == 1 and s["status"] == "ok")
    assert sorted(sd(d, "ov_src")["k"]) == ok1
    assert len(sd(d, "tbl_src")["idx"]) == sum(1 for s in data.settings if s["fs"] == 1)
    set_value(d, "hdr_fc", "active", 0)
    wait(d, f"window.__uc_state.fs === {fs0!r}")


def shadow(d, name, selector):
    return d.execute_script(
        f"return Array.from(Bokeh.index.find_one({model(name)}).shadow_el.querySelectorAll(arguments[0]))"
        ".map((e) => e.textContent);",
        selector,
    )


def test_best_of_each_method_rows_and_click(page, site):
    d, data = page, site[1]
    set_value(d, "ov_tabs", "active", 1)
    methods = {s["method"] for s in data.settings if s["fs"] == 0 and s["status"] == "ok" and s["method"]}
    wait(d, f"Bokeh.index.find_one({model('ov_best')}).shadow_el.querySelectorAll('tr.ov-row').length > 0")
    rows = shadow(d, "ov_best", "tr.ov-row")
    assert len(rows) == len(methods)
    set_value(d, "ov_best_by", "value", "avg_gap")
    time.sleep(0.3)
    before = state(d)["B"]
    d.execute_script(
        f"Bokeh.index.find_one({model('ov_best')}).shadow_el.querySelectorAll('tr.ov-row')[0].click();"
    )
    wait(d, f"window.__uc_state.B !== {before!r}")


def test_sensitivity_small_multiples(page, site):
    d, data = page, site[1]
    info = overview.info(data)
    varying = next(m for m, g in info["axes"][0].items() if g["axes"])
    set_value(d, "ov_tabs", "active", 2)
    set_value(d, "ov_sens_method", "value", varying)
    n = len(info["axes"][0][varying]["axes"]) * 5  # UA, RA, TA, PS, RTE against each axis
    wait(d, f"Bokeh.index.find_one({model('ov_sens')}).shadow_el.querySelectorAll('svg').length === {n}")


def test_across_forget_sets(page, site):
    d, data = page, site[1]
    set_value(d, "ov_tabs", "active", 3)
    wait(d, f"Bokeh.index.find_one({model('ov_across')}).shadow_el.querySelectorAll('th').length === 3")
    heads = shadow(d, "ov_across", "th")
    assert heads[1:] == [fs["name"] for fs in data.sets]
    rows = shadow(d, "ov_across", "tr")
    assert len(rows) == 1 + len(data.methods)
    set_value(d, "ov_across_mode", "active", 1)
    time.sleep(0.3)
    assert "retrained model's" not in shadow(d, "ov_across", ".ov-note")[0]  # raw values
    errors = [e["message"] for e in d.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors

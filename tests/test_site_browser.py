"""The generated page in headless Chromium: it loads offline, every view follows A, B and the forget class,
and the interactions work. Screenshots go to test-artifacts/ (look at them)."""

from __future__ import annotations

import functools
import http.server
import json
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from comparator_site import build_site

# the browser helpers live in browser_support.py; test_site_of_a_run.py imports some of them from here
from browser_support import (
    A_VIEWS,
    B_VIEWS,
    driver,  # noqa: F401
    load,
    model,
    options,
    requests,  # noqa: F401
    set_value,
    severe,
    shot,
    signatures,
    wait,
    wait_changed,
)
from site_fixtures import EVIL_NAME, EVIL_RUN, write_experiment

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    tables = write_experiment(
        tmp_path_factory.mktemp("tables"), forget_classes=3, models_per_class=7, per_class=40
    )
    out = tmp_path_factory.mktemp("site")
    build_site(tables, out)
    return out


def test_page_loads_offline_without_errors(driver, site):
    load(driver, (site / "index.html").as_uri())
    assert severe(driver) == []
    urls = requests(driver)
    assert urls, "the performance log recorded no requests"
    bad = [u for u in urls if urlparse(u).scheme not in ("file", "data", "blob")]
    assert bad == []
    state = driver.execute_script("return window.__uc_state")
    assert state["A"] == "fc0-original" and state["B"] == "fc0-retrained"
    # escaped strings show as text, and nothing injected ran
    assert driver.execute_script("return window.__xss") is None
    header = driver.execute_script(f"return Bokeh.index.find_one({model('hdr_title')}).shadow_el.textContent")
    assert 'Synthetic <b>experiment</b> & "friends"' in header
    # every view has data; A is the original model, whose attack panel shows the message instead
    for name in [v for v in A_VIEWS if not v.startswith("atk_a")] + ["mx_b_cell", "atk_b_dots", "atk_b_cv"]:
        n = driver.execute_script(f"const d = {model(name)}.data; return d[Object.keys(d)[0]].length")
        assert n > 0, name
    # the panel is hidden with CSS (toggling Bokeh's `visible` would re-lay out the whole page)
    assert (
        driver.execute_script(f"return Bokeh.index.find_one({model('atk_a_body')}).el.style.visibility")
        == "hidden"
    )
    assert (
        driver.execute_script(f"return Bokeh.index.find_one({model('atk_b_body')}).el.style.visibility") == ""
    )
    msg = driver.execute_script(f"return Bokeh.index.find_one({model('atk_a_msg')}).shadow_el.textContent")
    assert "Please select an unlearned model" in msg
    shot(driver, "01-first-render")
    set_value(driver, "core_tabs", "active", 1)
    time.sleep(0.8)
    shot(driver, "02-attack-tab")
    set_value(driver, "core_tabs", "active", 0)


def test_switching_a_b_and_forget_class_updates_every_view(driver, site):
    load(driver, (site / "index.html").as_uri())
    before = signatures(driver, A_VIEWS)
    runs = options(driver, "hdr_sel_a")
    set_value(driver, "hdr_sel_a", "value", runs[2])
    wait_changed(driver, A_VIEWS, before)
    assert wait(driver, "window.__uc_state.A !== 'fc0-original' && window.__uc_state.A")
    before = signatures(driver, B_VIEWS)
    runs = options(driver, "hdr_sel_b")
    set_value(driver, "hdr_sel_b", "value", runs[-1])
    wait_changed(driver, B_VIEWS, before)
    # a model chosen as A is not offered as B, and the other way round
    a, b = driver.execute_script(f"return [{model('hdr_sel_a')}.value, {model('hdr_sel_b')}.value]")
    assert a not in options(driver, "hdr_sel_b") and b not in options(driver, "hdr_sel_a")
    # both selects changed before the (asynchronous) callbacks run: both choices stick
    a2, b2 = options(driver, "hdr_sel_a")[1], options(driver, "hdr_sel_b")[3]
    if a2 != b2:
        driver.execute_script(
            f"{model('hdr_sel_a')}.value = arguments[0]; {model('hdr_sel_b')}.value = arguments[1];", a2, b2
        )
        ids = driver.execute_script(f"return {model('st_runs')}.data.id")
        wait(
            driver,
            f"window.__uc_state.A === {json.dumps(ids[int(a2)])} && "
            f"window.__uc_state.B === {json.dumps(ids[int(b2)])}",
        )
    everything = sorted(set(A_VIEWS + B_VIEWS))
    before = signatures(driver, everything)
    set_value(driver, "hdr_fc", "active", 2)
    wait_changed(driver, everything, before)
    state = wait(driver, "window.__uc_state.fc === 2 && window.__uc_state")
    assert (state["A"], state["B"]) == ("fc2-original", "fc2-retrained")
    ids = driver.execute_script(f"return {model('tbl_src')}.data.id")
    assert ids and all(i.startswith("fc2-") for i in ids)
    assert severe(driver) == []
    shot(driver, "03-forget-class-2")


def test_run_ids_and_names_with_markup_show_as_text(driver, site):
    load(driver, (site / "index.html").as_uri())
    ids = driver.execute_script(f"return {model('st_runs')}.data.id")
    evil = next(k for k, i in enumerate(ids) if EVIL_RUN in i and i.startswith("fc0-"))
    set_value(driver, "hdr_sel_a", "value", str(evil))
    wait(driver, f"window.__uc_state.A === {json.dumps(ids[evil])}")
    for div in ("emb_a_title", "cw_caption", "mx_a_cap", "sim_caption"):
        shadow = f"Bokeh.index.find_one({model(div)}).shadow_el"
        wait(driver, f"{shadow}.textContent.includes({json.dumps(ids[evil])})")
        assert (
            driver.execute_script(
                f"return {shadow}.querySelectorAll('.uc-caption b, .uc-panel-title b').length"
            )
            == 0
        )
    label = driver.execute_script(
        f"return {model('hdr_sel_a')}.options.find((o) => o[0] === arguments[0])[1]", str(evil)
    )
    assert EVIL_NAME in label and ids[evil] in label
    table = f"Bokeh.index.find_one({model('tbl_table')}).shadow_el"
    assert driver.execute_script(f"return {table}.textContent.includes({json.dumps(EVIL_NAME)})")
    assert (
        driver.execute_script(
            f"return {table}.querySelectorAll('.slick-cell b, .slick-cell img, .slick-cell script').length"
        )
        == 0
    )
    assert driver.execute_script("return window.__xss") is None
    assert severe(driver) == []


def test_table_radios_choose_a_and_b(driver, site):
    load(driver, (site / "index.html").as_uri())
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    def click_radio(ab, row):
        xy = driver.execute_script(
            """
          const v = Bokeh.index.find_one(Bokeh.documents[0].get_model_by_name('tbl_table'));
          const el = [...v.shadow_el.querySelectorAll('[data-ab="' + arguments[0] + '"]')]
                       .find((e) => e.dataset.run === String(arguments[1]));
          el.scrollIntoView({block: 'center'});
          const r = el.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2];""",
            ab,
            row,
        )
        action = ActionBuilder(driver)
        action.pointer_action.move_to_location(int(xy[0]), int(xy[1])).click()
        action.perform()

    rows = driver.execute_script(f"return {model('tbl_src')}.data.idx")
    ok = driver.execute_script(f"return Array.from({model('st_runs')}.data.ok)")
    candidates = [k for k in rows if ok[k] == 1][2:]
    click_radio("B", candidates[0])
    wait(driver, f"window.__uc_state.B === {model('st_runs')}.data.id[{candidates[0]}]")
    click_radio("A", candidates[1])
    wait(driver, f"window.__uc_state.A === {model('st_runs')}.data.id[{candidates[1]}]")
    # a failed run cannot be chosen
    failed = [k for k in rows if ok[k] == 0]
    assert failed
    state = driver.execute_script("return window.__uc_state")
    click_radio("A", failed[0])
    time.sleep(0.5)
    assert driver.execute_script("return window.__uc_state")["A"] == state["A"]
    states = driver.execute_script(f"return {model('tbl_src')}.data.a_state")
    assert states[rows.index(failed[0])] == "disabled"
    shot(driver, "04-table-radios")


def test_method_filter_and_sorting(driver, site):
    load(driver, (site / "index.html").as_uri())
    n_all = driver.execute_script(f"return {model('tbl_src')}.data.id.length")
    labels = driver.execute_script(f"return {model('tbl_filter')}.options")
    ga = next(v for v, label in labels if label == "Gradient Ascent")
    set_value(driver, "tbl_filter", "value", [ga])
    wait(driver, f"{model('tbl_src')}.data.id.length < {n_all}")
    names = driver.execute_script(f"return {model('tbl_src')}.data.method_name")
    assert set(names) <= {"Gradient Ascent", "-"}
    set_value(driver, "tbl_filter", "value", [])
    wait(driver, f"{model('tbl_src')}.data.id.length === {n_all}")


def test_highlight_mode_filters_embedding_points(driver, site):
    load(driver, (site / "index.html").as_uri())
    count = """
      const d = Bokeh.documents[0].get_model_by_name('emb_src').data;
      let n = 0; for (const c of d.a_fill) if ((c & 255) > 20) n++; return n;"""
    total = driver.execute_script(f"return {model('emb_src')}.data.a_fill.length")
    assert driver.execute_script(count) == total
    set_value(driver, "emb_mode", "active", 1)  # Target to Forget
    forget = driver.execute_script(f"return {model('emb_src')}.data.marker.filter((m) => m === 'x').length")
    wait(driver, f"(() => {{ {count} }})() === {forget}")
    set_value(driver, "emb_mode", "active", 2)  # Correctly Forgotten (for the original: almost none)
    wait(driver, f"(() => {{ {count} }})() < {forget}")
    shot(driver, "05-highlight")


def test_embedding_hover_links_both_panels(driver, site):
    load(driver, (site / "index.html").as_uri())
    set_value(driver, "hdr_sel_a", "value", options(driver, "hdr_sel_a")[2])
    wait(driver, "window.__uc_state.A !== 'fc0-original'")
    time.sleep(0.5)
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    xy = driver.execute_script("""
      const m = Bokeh.documents[0].get_model_by_name('emb_a_fig');
      const v = Bokeh.index.find_one(m);
      const d = Bokeh.documents[0].get_model_by_name('emb_src').data;
      const j = d.marker.lastIndexOf('x');
      const r = v.canvas_view.el.getBoundingClientRect();
      return [r.left + v.frame.x_scale.compute(d.ax[j]), r.top + v.frame.y_scale.compute(d.ay[j])];""")
    action = ActionBuilder(driver)
    action.pointer_action.move_to_location(int(xy[0]), int(xy[1]))
    action.perform()
    wait(
        driver,
        "document.getElementById('uc-link') && document.getElementById('uc-link').style.display === 'block'",
    )
    wait(driver, f"{model('emb_hl')}.data.ax.length === 1")
    tip = driver.execute_script("return document.getElementById('uc-tip').innerText")
    assert "True Class" in tip and "Model A" in tip and "Model B" in tip
    shot(driver, "06-embedding-hover")
    action = ActionBuilder(driver)
    action.pointer_action.move_to_location(5, 5)
    action.perform()
    wait(driver, "document.getElementById('uc-link').style.display === 'none'")


def test_threshold_changes_privacy_score(driver, site):
    load(driver, (site / "index.html").as_uri())
    set_value(driver, "core_tabs", "active", 1)
    set_value(driver, "hdr_sel_a", "value", options(driver, "hdr_sel_a")[2])
    wait(driver, "window.__uc_state.A !== 'fc0-original'")
    ps = f"Bokeh.index.find_one({model('atk_a_ps')}).shadow_el.textContent"
    wait(driver, f"{ps}.includes('Privacy Score')")
    texts = {driver.execute_script(f"return {ps}")}
    for t in (0.3, 0.8, 1.6, 2.2):
        set_value(driver, "atk_thr", "value", t)
        wait(driver, f"{model('atk_a_span_b')}.location === {t}")
        texts.add(driver.execute_script(f"return {ps}"))
    assert len(texts) >= 2, texts
    # strategies and the worst-case button move the threshold without the slider
    set_value(driver, "atk_strategy", "active", 1)
    wait(driver, f"{model('atk_thr')}.disabled")
    driver.execute_script(f"{model('atk_metric')}.active = 1")
    wait(driver, f"{model('atk_yr')}.end === 10")
    set_value(driver, "atk_strategy", "active", 0)
    wait(driver, f"!{model('atk_thr')}.disabled")
    driver.execute_script(
        f"Bokeh.index.find_one({model('atk_worst_a')}).shadow_el.querySelector('button').click()"
    )
    wait(driver, f"{model('atk_strategy')}.active === 1")
    # hovering a thumbnail highlights its dot
    key = driver.execute_script(
        f"""
      const v = Bokeh.index.find_one({model("atk_a_succ")});
      const el = v.shadow_el.querySelector('[data-k]') || """
        f"""Bokeh.index.find_one({model("atk_a_fail")}).shadow_el.querySelector('[data-k]');
      el.dispatchEvent(new MouseEvent('mouseover', """
        f"""{{bubbles: true, composed: true, clientX: 100, clientY: 100}}));
      return el.dataset.k;"""
    )
    assert key
    wait(driver, f"{model('atk_a_hl')}.data.x.length === 1")
    shot(driver, "07-attack-hover")
    assert severe(driver) == []


def test_timings_are_recorded_only_when_asked_for(driver, site):
    """The benchmark's timings are opt-in (js/instrument.js, ?instrument); the page's state and its ready
    signal, which these tests wait on, are always there."""
    load(driver, (site / "index.html").as_uri())
    assert driver.execute_script("return window.__uc_ready") is True
    assert set(driver.execute_script("return window.__uc_state")) == {"fc", "fs", "seed", "A", "B"}
    time.sleep(0.3)  # past the build of the hidden panels
    assert driver.execute_script("return window.__uc_prof === undefined")
    load(driver, (site / "index.html").as_uri() + "?instrument")
    prof = wait(driver, "window.__uc_prof.built && window.__uc_prof")
    assert 0 < prof["ready"] <= prof["built"] and prof["updates"] == 1
    assert set(prof["views"]) == {
        "header",
        "table",
        "classwise",
        "matrix",
        "similarity",
        "embedding",
        "attack",
        "overview",
    }
    set_value(driver, "hdr_sel_a", "value", options(driver, "hdr_sel_a")[2])
    wait(driver, "window.__uc_prof.updates === 2")
    assert severe(driver) == []


def test_shared_bokehjs_copy_loads_offline(driver, tmp_path):
    """The other BokehJS mode: one copy in static/js/, loaded with relative paths."""
    tables = write_experiment(tmp_path / "tables", forget_classes=2, models_per_class=4, per_class=10)
    build_site(tables, tmp_path / "site", bokeh_js="shared")
    load(driver, (tmp_path / "site" / "index.html").as_uri())
    assert severe(driver) == []
    urls = requests(driver)
    assert any(u.endswith("static/js/bokeh.min.js") for u in urls)
    assert all(urlparse(u).scheme in ("file", "data", "blob") for u in urls)


class _SubPathHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site folder under /repo/ (as GitHub Pages serves a project site) and logs every path."""

    seen: list[str] = []

    def translate_path(self, path):
        self.seen.append(path)
        if not path.startswith("/repo/"):
            return "/nonexistent"
        return super().translate_path(path[len("/repo") :])

    def log_message(self, *args):
        pass


def test_page_works_from_a_sub_path(driver, site):
    handler = functools.partial(_SubPathHandler, directory=str(site))
    _SubPathHandler.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/repo/"
        load(driver, base)
        set_value(driver, "core_tabs", "active", 1)
        set_value(driver, "hdr_sel_a", "value", options(driver, "hdr_sel_a")[2])
        wait(driver, "window.__uc_state.A !== 'fc0-original'")
        time.sleep(1.0)  # let the thumbnails load
        urls = [u for u in requests(driver) if not u.startswith(("data:", "blob:"))]
        assert urls and all(u.startswith(base) for u in urls), urls
        assert any(u.endswith("assets/thumbnails.png") for u in urls)
        assert _SubPathHandler.seen and all(p.startswith("/repo/") for p in _SubPathHandler.seen)
        assert severe(driver) == []
        shot(driver, "08-sub-path")
    finally:
        server.shutdown()
        set_value(driver, "core_tabs", "active", 0)


@pytest.fixture(scope="module")
def grid_site(tmp_path_factory) -> tuple[Path, Path]:
    """Several grid points per method (12 models per forget class: ft, scrub and salun twice), so that
    "Best of each method" has runs to hide."""
    tables = write_experiment(
        tmp_path_factory.mktemp("grid-tables"), forget_classes=2, models_per_class=12, per_class=20
    )
    out = tmp_path_factory.mktemp("grid-site")
    build_site(tables, out)
    return tables, out


def test_best_of_each_method_hides_the_other_grid_points_and_shows_them_again(driver, grid_site):
    """The checkbox (operated with the keyboard: focus, Space) shows only the runs.arrow rows with
    ``chosen`` (and the original and retrained models) of the current forget class, and every row again
    when unchecked; chosen runs carry a star in the full grid."""
    import pyarrow.feather as feather
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    tables, site_dir = grid_site
    runs = feather.read_table(tables / "runs.arrow").to_pylist()
    load(driver, (site_dir / "index.html").as_uri())
    box = f"Bokeh.index.find_one({model('tbl_best')}).shadow_el"
    # a native checkbox labelled by its text (both inside the <label>), enabled
    assert driver.execute_script(f"return {box}.querySelector('label').textContent") == "Best of each method"
    assert (
        driver.execute_script(f"return {box}.querySelector('label input[type=checkbox]').disabled") is False
    )

    def shown(fc):
        want_all = {r["run_id"] for r in runs if r["forget_class"] == fc}
        want_best = {
            r["run_id"]
            for r in runs
            if r["forget_class"] == fc and (r["chosen"] or r["type"] in ("original", "retrained"))
        }
        return want_all, want_best

    def table_ids():
        return driver.execute_script(f"return {model('tbl_src')}.data.id")

    def press_space():
        # keyboard only: focus the native checkbox (as Tab would) and press Space
        driver.execute_script(f"{box}.querySelector('input').focus()")
        assert driver.execute_script(f"return {box}.activeElement === {box}.querySelector('input')")
        ActionChains(driver).send_keys(Keys.SPACE).perform()

    want_all, want_best = shown(0)
    assert len(want_best) < len(want_all) - 1  # something to hide besides the failed run
    wait(driver, f"{model('tbl_src')}.data.id.length === {len(want_all)}")
    assert set(table_ids()) == want_all
    # the full grid marks the chosen runs with a star (the store's text and the rendered cells)
    d = driver.execute_script(f"return [{model('tbl_src')}.data.id, {model('tbl_src')}.data.chosen_txt]")
    chosen = {r["run_id"] for r in runs if r["chosen"]}
    assert {i for i, star in zip(*d) if star == "\u2605"} == chosen & want_all
    stars = driver.execute_script(
        f"return [...Bokeh.index.find_one({model('tbl_table')}).shadow_el.querySelectorAll('.uc-star')]"
        ".map((e) => e.textContent)"
    )
    assert "\u2605" in stars
    shot(driver, "13-grid-with-stars")

    press_space()
    wait(driver, f"{model('tbl_best')}.active.length === 1")
    wait(driver, f"{model('tbl_src')}.data.id.length === {len(want_best)}")
    assert set(table_ids()) == want_best
    shot(driver, "14-best-of-each-method")
    # it holds when the forget class changes
    set_value(driver, "hdr_fc", "active", 1)
    wait(driver, "window.__uc_state.fc === 1")
    want_all, want_best = shown(1)
    wait(driver, f"{model('tbl_src')}.data.id.length === {len(want_best)}")
    assert set(table_ids()) == want_best

    press_space()
    wait(driver, f"{model('tbl_best')}.active.length === 0")
    wait(driver, f"{model('tbl_src')}.data.id.length === {len(want_all)}")
    assert set(table_ids()) == want_all
    assert severe(driver) == []

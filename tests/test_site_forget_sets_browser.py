"""The page with forget sets of every kind and several replicate seeds, in headless Chromium: the forget-set
selector, the ✖ marks of each kind, the seed choice, ``mean ± std`` in the table, the class-wise whiskers, the
note on refused methods, and tables made before forget sets. Expected values are read from the Arrow tables
with pyarrow. Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyarrow.feather as feather
import pytest

from comparator_site import build_site

from browser_support import (
    driver,  # noqa: F401
    load,
    model,
    quantization_tolerance,
    set_value,
    severe,
    shadow_text,
    shot,
    source_data,
    wait,
)
from site_fixtures import CLASS_NAMES, write_experiment

pytestmark = pytest.mark.browser

MARK = " (\u2716)"
EVIL_SET = '<img src=x onerror="window.__xss=2">Pullover & Bag'  # a display name from the config
SEEDS = [0, 1, 2]


@pytest.fixture(scope="module")
def exp(tmp_path_factory):
    tables = write_experiment(
        tmp_path_factory.mktemp("tables"),
        forget_classes=[4],
        forget_sets=[{"classes": [2, 8], "name": EVIL_SET}, {"random": 0.1, "seed": 1}],
        seeds=SEEDS,
        models_per_class=6,
        per_class=20,
    )
    index = build_site(tables, tmp_path_factory.mktemp("site"))
    read = {t: feather.read_table(tables / f"{t}.arrow") for t in ("runs", "instances", "summary", "subset")}
    runs = {r["run_id"]: r for r in read["runs"].to_pylist()}
    inst = {(r["run_id"], r["index"]): r for r in read["instances"].to_pylist()}
    return {"index": index, "read": read, "runs": runs, "inst": inst}


def _open(driver, exp):
    load(driver, Path(exp["index"]).as_uri())
    return driver.execute_script("return window.__uc_state")


def _js(driver, expr):
    return driver.execute_script(f"return {expr}")


def _axis_labels(driver, name) -> list[str]:
    return _js(driver, f"Array.from({model(name)}.major_label_overrides.values())")


def _div_text(driver, name) -> str:
    """The text a Div shows (its markup, without the shadow root's stylesheets)."""
    return _js(driver, f"Bokeh.index.find_one({model(name)}).markup_el.textContent")


def _members_in_subset(exp, set_id) -> int:
    """How many subset images instances.arrow marks as members of the set (for its first run)."""
    rid = next(r for r in exp["runs"] if exp["runs"][r]["forget_set"] == set_id)
    return sum(v["is_forget"] for (run, _), v in exp["inst"].items() if run == rid)


def _choose_set(driver, k, set_id):
    set_value(driver, "hdr_fc", "active", k)
    wait(driver, f"window.__uc_state.fs === {json.dumps(set_id)}")


def test_forget_set_selector_and_the_marks_of_each_kind(driver, exp):
    state = _open(driver, exp)
    assert (state["fs"], state["fc"], state["seed"]) == ("fc4", 4, 0)
    assert (state["A"], state["B"]) == ("fc4-original-seed0", "fc4-retrained-seed0")
    # the selector lists the display names (BokehJS sets button labels as text)
    labels = _js(driver, f"{model('hdr_fc')}.labels")
    assert labels == ["Forget: Coat", f"Forget: {EVIL_SET}", "Forget: random 10 % \u00b7 seed 1"]
    buttons = _js(
        driver,
        f"[...Bokeh.index.find_one({model('hdr_fc')}).shadow_el.querySelectorAll('button')]"
        ".map((b) => b.textContent)",
    )
    assert buttons == labels and _js(driver, "window.__xss") is None
    expected = {
        "fc4": {"Coat"},
        "fc2_8": {"Pullover", "Bag"},  # every class of a class-wise set
        "rnd10s1": set(),  # none for a random set
    }
    for k, (set_id, marked) in enumerate(expected.items()):
        _choose_set(driver, k, set_id)
        for axis in ("mx_a_xaxis", "mx_a_yaxis", "mx_b_xaxis", "cw_tr_yaxis", "cw_te_yaxis"):
            names = _axis_labels(driver, axis)
            assert {n.removesuffix(MARK) for n in names if n.endswith(MARK)} == marked, (set_id, axis)
        cw = source_data(driver, "cw_src")
        assert {n.removesuffix(MARK) for n in cw["name"] if n.endswith(MARK)} == marked
        # the embedding's crosses are the set's members (instances.arrow's is_forget)
        emb = source_data(driver, "emb_src")
        crosses = emb["marker"].count("x")
        assert crosses == _members_in_subset(exp, set_id) and crosses > 0, set_id
        # the attack view's dots: the set's members, from both sides
        set_value(driver, "hdr_sel_a", "value", _js(driver, f"{model('hdr_sel_a')}.options[2][0]"))
        wait(driver, "!window.__uc_state.A.includes('-original')")
        dots = source_data(driver, "atk_a_dots")
        assert len(dots["x"]) == 2 * crosses
        shot(driver, f"20-forget-set-{set_id}")
    assert severe(driver) == []


def test_refused_methods_are_noted_under_the_table_as_text(driver, exp):
    _open(driver, exp)
    assert _div_text(driver, "tbl_note") == ""
    _choose_set(driver, 1, "fc2_8")
    note = f"Bokeh.index.find_one({model('tbl_note')}).shadow_el"
    wait(driver, f"{note}.textContent.includes('boundary_shrink')")
    text = _div_text(driver, "tbl_note")
    assert EVIL_SET in text and "defined for exactly one whole class" in text
    assert _js(driver, f"{note}.querySelectorAll('img').length") == 0
    assert _js(driver, "window.__xss") is None
    _choose_set(driver, 2, "rnd10s1")
    wait(driver, f"{note}.textContent.includes('random 10 %')")
    assert severe(driver) == []


def _summary(exp, set_id):
    return {r["setting_id"]: r for r in exp["read"]["summary"].to_pylist() if r["forget_set"] == set_id}


def test_table_shows_one_row_per_setting_with_mean_and_std(driver, exp):
    _open(driver, exp)
    summary = _summary(exp, "fc4")
    wait(driver, f"{model('tbl_src')}.data.id.length === {len(summary)}")
    d = source_data(driver, "tbl_src")
    assert set(d["id"]) == set(summary)  # setting ids, no -seed<s> suffix
    for sid, txt in zip(d["id"], d["UA_txt"]):
        row = summary[sid]
        if row["UA_std"] is None:
            assert txt == ("-" if row["UA_mean"] is None else f"{row['UA_mean']:.3f}"), sid
        else:
            assert txt == f"{row['UA_mean']:.3f} \u00b1 {row['UA_std']:.3f}", sid
    assert any("\u00b1" in t for t in d["UA_txt"])
    rendered = _js(driver, f"Bokeh.index.find_one({model('tbl_table')}).shadow_el.textContent")
    assert "\u00b1" in rendered
    # sorting by a metric sorts by the mean: click the UA header
    _js(
        driver,
        f"""[...Bokeh.index.find_one({model("tbl_table")}).shadow_el.querySelectorAll('.slick-header-column')]
              .find((h) => h.textContent.trim() === 'UA').click() || true""",
    )
    time.sleep(0.5)
    cells = _js(
        driver,
        f"""(() => {{ const root = Bokeh.index.find_one({model("tbl_table")}).shadow_el;
          const heads = [...root.querySelectorAll('.slick-header-column')].map((h) => h.textContent.trim());
          const i = heads.indexOf('UA'), j = heads.indexOf('ID');
          return [...root.querySelectorAll('.slick-row')]
            .map((r) => [r.querySelector('.slick-cell.l' + j).textContent.trim(),
                         r.querySelector('.slick-cell.l' + i).textContent.trim()]); }})()""",
    )
    means = [summary[sid]["UA_mean"] for sid, _ in cells if summary[sid]["UA_mean"] is not None]
    assert len(means) >= 4 and means in (sorted(means), sorted(means, reverse=True)), cells
    shot(driver, "21-table-mean-std")
    assert severe(driver) == []


def test_class_wise_bars_have_whiskers_with_several_seeds(driver, exp):
    _open(driver, exp)
    summary = _summary(exp, "fc4")
    # the original and retrained settings: whiskers ± sqrt(std_A² + std_B²) around the bar's end
    orig, retr = summary["fc4-original"], summary["fc4-retrained"]
    d = source_data(driver, "cw_src")
    C = len(orig["train_acc_mean"])
    for j, y in enumerate(d["y"]):
        c = C - 1 - y
        g = retr["train_acc_mean"][c] - orig["train_acc_mean"][c]
        e = (orig["train_acc_std"][c] ** 2 + retr["train_acc_std"][c] ** 2) ** 0.5
        assert d["tr_lo"][j] == pytest.approx(g - e, abs=1e-5) and d["tr_hi"][j] == pytest.approx(
            g + e, abs=1e-5
        )
        assert d["tr_right"][j] - d["tr_left"][j] == pytest.approx(abs(g), abs=1e-5)
    assert any(h - lo > 1e-4 for lo, h in zip(d["tr_lo"], d["tr_hi"]))
    whiskers = _js(
        driver,
        "Bokeh.documents[0].all_models.values ? "
        "[...Bokeh.documents[0].all_models.values()].filter((m) => m.type === 'Whisker').length : 0",
    )
    assert whiskers == 2
    caption = shadow_text(driver, "cw_caption")
    assert "mean of 3 seeds" in caption
    shot(driver, "22-whiskers")
    assert severe(driver) == []


def test_the_seed_choice_changes_the_instance_level_views(driver, exp):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    _open(driver, exp)
    # A: an unlearned setting of forget set fc4; its run at seed 0
    setting = _js(driver, f"{model('hdr_sel_a')}.options[2][0]")
    set_value(driver, "hdr_sel_a", "value", setting)
    a0 = wait(
        driver,
        "window.__uc_state.A.endsWith('-seed0') && !window.__uc_state.A.includes('-original') "
        "&& window.__uc_state.A",
    )
    # the seed select: shown, a native <select> with its <label>, operated with the keyboard
    select = f"Bokeh.index.find_one({model('hdr_seed')}).shadow_el.querySelector('select')"
    assert _js(driver, f"{model('hdr_seed')}.visible") is True
    assert _js(driver, f"{select}.labels.length") >= 1
    assert "seed" in _js(driver, f"{select}.labels[0].textContent").lower()
    assert _js(driver, f"[...{select}.options].map((o) => o.textContent)") == [f"seed {s}" for s in SEEDS]
    before = source_data(driver, "emb_src")
    mx_before = source_data(driver, "mx_a_cell")["prop_txt"]
    _js(driver, f"{select}.focus() || true")
    ActionChains(driver).send_keys(Keys.ARROW_DOWN).perform()
    state = wait(driver, "window.__uc_state.seed === 1 && window.__uc_state")
    a1 = a0.removesuffix("-seed0") + "-seed1"
    assert state["A"] == a1 and state["B"] == "fc4-retrained-seed1"
    # the embedding shows the seed-1 run's coordinates, the matrix its predictions
    wait(driver, f"{model('emb_src')}.data.ax[0] !== {before['ax'][0]}")
    d = source_data(driver, "emb_src")
    subset = exp["read"]["subset"].column("index").to_pylist()
    tol = quantization_tolerance(exp["inst"].values(), "x")
    for j in (0, len(d["pos"]) // 2, len(d["pos"]) - 1):
        img = subset[d["pos"][j]]
        assert d["ax"][j] == pytest.approx(exp["inst"][(a1, img)]["x"], abs=tol)
        assert d["bx"][j] == pytest.approx(exp["inst"][("fc4-retrained-seed1", img)]["x"], abs=tol)
    assert source_data(driver, "mx_a_cell")["prop_txt"] != mx_before
    # the table keeps one row per setting, with the same A
    assert _js(driver, f"{model('tbl_src')}.data.a_state.filter((s) => s === 'on').length") == 1
    # the attack panel attacks against the same replicate's retrained model
    title = shadow_text(driver, "atk_a_title")
    assert "fc4-retrained-seed1" in title and a1 in title
    shot(driver, "23-seed-1")
    assert severe(driver) == []


def test_tables_made_before_forget_sets_still_build(driver, tmp_path):
    """No forget_set / setting_id columns, no forget_sets or summary table: sets fc<class>, n = 1, and the
    seed select hidden."""
    tables = write_experiment(
        tmp_path / "t", forget_classes=[0, 3], models_per_class=4, per_class=10, legacy=True
    )
    assert not (tables / "summary.arrow").exists() and not (tables / "forget_sets.arrow").exists()
    index = build_site(tables, tmp_path / "s")
    load(driver, index.as_uri())
    state = _js(driver, "window.__uc_state")
    assert (state["fs"], state["fc"], state["A"]) == ("fc0", 0, "fc0-original")
    assert _js(driver, f"{model('hdr_fc')}.labels") == [
        f"Forget: {CLASS_NAMES[0]}",
        f"Forget: {CLASS_NAMES[3]}",
    ]
    assert _js(driver, f"{model('hdr_seed')}.visible") is False
    assert not any("\u00b1" in t for t in source_data(driver, "tbl_src")["UA_txt"])
    d = source_data(driver, "cw_src")
    assert all(x is None or x != x for x in d["tr_lo"])  # NaN (null through selenium): no whiskers
    set_value(driver, "hdr_fc", "active", 1)
    wait(driver, "window.__uc_state.fc === 3")
    assert severe(driver) == []

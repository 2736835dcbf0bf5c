"""Permalinks (js/permalink.js) in headless Chromium, from file://: the page's state is written to the URL's
hash, a fresh load of that URL shows the same state in one full update, back and forward walk through the
changes of A, B and the forget set, a fine change (the threshold) replaces the entry instead of adding one,
and a hand-written hash of garbage, unknown ids and markup leaves the page working with its defaults."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import quote

import pyarrow.feather as feather
import pytest

from comparator_site import build_site

from browser_support import (  # noqa: F401
    A_VIEWS,
    B_VIEWS,
    driver,
    load,
    model,
    set_value,
    severe,
    shot,
    signatures,
    wait,
)
from site_fixtures import EVIL_NAME, EVIL_RUN, write_experiment

pytestmark = pytest.mark.browser

SEEDS = [0, 1]
# every widget a link restores, by model name and property
WIDGETS = [
    ("hdr_fc", "active"),
    ("hdr_sel_a", "value"),
    ("hdr_sel_b", "value"),
    ("hdr_seed", "value"),
    ("core_tabs", "active"),
    ("emb_mode", "active"),
    ("atk_metric", "active"),
    ("atk_strategy", "active"),
    ("atk_thr", "value"),
    ("mx_split", "active"),
    ("mx_enc", "active"),
    ("sim_ref", "active"),
    ("sim_split", "active"),
    ("tbl_filter", "value"),
    ("tbl_best", "active"),
]
VIEWS = sorted(set(A_VIEWS + B_VIEWS))


@pytest.fixture(scope="module")
def exp(tmp_path_factory):
    tables = write_experiment(
        tmp_path_factory.mktemp("tables"),
        forget_classes=[4, 8],
        seeds=SEEDS,
        models_per_class=6,
        per_class=20,
    )
    index = Path(build_site(tables, tmp_path_factory.mktemp("site")))
    runs = feather.read_table(tables / "runs.arrow").to_pylist()
    settings: dict[str, dict[str, str]] = {}  # forget set -> setting id -> status (of its first run)
    for r in runs:
        settings.setdefault(r["forget_set"], {}).setdefault(r["setting_id"], r["status"])
    return {"url": index.as_uri(), "settings": settings}


@pytest.fixture(scope="module")
def one_seed(tmp_path_factory):
    """A small experiment of one seed, where a failed run is a setting without any model."""
    tables = write_experiment(
        tmp_path_factory.mktemp("tables1"), forget_classes=[4], models_per_class=5, per_class=10
    )
    failed = next(
        r["setting_id"] for r in feather.read_table(tables / "runs.arrow").to_pylist() if r["status"] != "ok"
    )
    return {"url": Path(build_site(tables, tmp_path_factory.mktemp("site1"))).as_uri(), "failed": failed}


def js(driver, expr):
    return driver.execute_script(f"return {expr}")


def widgets(driver) -> dict[str, object]:
    return {f"{n}.{a}": js(driver, f"{model(n)}.{a}") for n, a in WIDGETS}


def state(driver) -> dict:
    return js(driver, "window.__uc_state")


def row_of(driver, setting_id) -> str:
    """The value of the setting's <option> in the A/B selects (a row of the settings store)."""
    rows = js(driver, f"{model('st_settings')}.data.id")
    return str(rows.index(setting_id))


def wait_hash(driver, *parts: str):
    wait(driver, " && ".join(f"location.hash.includes({json.dumps(p)})" for p in parts))
    return js(driver, "location.hash")


def choose(driver, name, attr, value, then: str):
    set_value(driver, name, attr, value)
    wait(driver, then)


def test_a_link_opens_the_page_as_it_was(driver, exp):
    load(driver, exp["url"])
    assert js(driver, "location.hash") == ""  # nothing is written before the reader changes something
    choose(driver, "hdr_fc", "active", 1, "window.__uc_state.fs === 'fc8'")
    evil = next(s for s in exp["settings"]["fc8"] if EVIL_RUN in s)
    ft = next(s for s in exp["settings"]["fc8"] if "-ft-" in s)
    choose(
        driver,
        "hdr_sel_a",
        "value",
        row_of(driver, evil),
        f"window.__uc_state.A.startsWith({json.dumps(evil)})",
    )
    choose(
        driver, "hdr_sel_b", "value", row_of(driver, ft), f"window.__uc_state.B.startsWith({json.dumps(ft)})"
    )
    choose(driver, "hdr_seed", "value", "1", "window.__uc_state.seed === 1")
    choose(driver, "core_tabs", "active", 1, "true")
    for name, attr, value in [
        ("emb_mode", "active", 3),
        ("atk_metric", "active", 1),
        ("atk_thr", "value", 4.5),
        ("atk_strategy", "active", 2),
        ("mx_split", "active", 1),
        ("mx_enc", "active", 1),
        ("sim_ref", "active", 1),
        ("sim_split", "active", 1),
        ("tbl_filter", "value", ["1", "2"]),
        ("tbl_best", "active", [0]),
    ]:
        set_value(driver, name, attr, value)
    link = wait_hash(driver, "best=1", "strategy=max-success", "thr=4.5")
    # readable, the values URI-encoded (the evil setting id holds markup)
    assert link.startswith(f"#fs=fc8&a={quote(evil, safe='')}&b={ft}&seed=1&tab=attack&mode=not-forgotten&")
    assert "<" not in link
    before, shown, views = state(driver), widgets(driver), signatures(driver, VIEWS)
    assert shown["atk_thr.value"] == 4.5 and shown["tbl_filter.value"] == ["1", "2"]
    shot(driver, "permalink-before")

    load(driver, exp["url"] + "?instrument" + link)
    assert state(driver) == before
    assert widgets(driver) == shown
    assert signatures(driver, VIEWS) == views
    assert js(driver, "location.hash") == link
    time.sleep(0.6)  # the widgets' change events of the restore have run: none was a second update
    assert js(driver, "window.__uc_prof.updates") == 1
    assert js(driver, "location.hash") == link  # and none rewrote the link
    shot(driver, "permalink-after")
    assert not severe(driver)
    assert not js(driver, "window.__xss")


def test_back_and_forward_walk_through_the_models_and_forget_sets(driver, exp):
    load(driver, exp["url"])
    start = state(driver)
    n0 = js(driver, "history.length")
    ga = next(s for s in exp["settings"]["fc4"] if "-ga-" in s)
    scrub = next(s for s in exp["settings"]["fc4"] if "-scrub-" in s)
    choose(driver, "hdr_sel_a", "value", row_of(driver, ga), f"window.__uc_state.A.startsWith('{ga}')")
    wait_hash(driver, f"a={ga}")
    s1 = state(driver)
    # a fine change replaces the entry's hash: no new entry; a drag (many values) writes once, at its end
    replaced = "window.__replaced = 0; const r = history.replaceState.bind(history);"
    driver.execute_script(replaced + "history.replaceState = (...a) => { window.__replaced++; r(...a); };")
    thr = model("atk_thr")
    drag = f"[1.0, 1.5, 1.75, 2.0].forEach((t, i) => setTimeout(() => {{ {thr}.value = t; }}, 30 * i));"
    driver.execute_script(drag)  # a value every 30 ms, as a drag of the slider
    wait_hash(driver, "thr=2")
    assert js(driver, "history.length") == n0 + 1
    assert js(driver, "window.__replaced") == 1
    choose(driver, "hdr_sel_b", "value", row_of(driver, scrub), f"window.__uc_state.B.startsWith('{scrub}')")
    wait_hash(driver, f"b={scrub}")
    s2 = state(driver)
    choose(driver, "hdr_fc", "active", 1, "window.__uc_state.fs === 'fc8'")
    wait_hash(driver, "fs=fc8")
    s3 = state(driver)
    assert js(driver, "history.length") == n0 + 3

    driver.back()
    wait(driver, f"window.__uc_state.fs === 'fc4' && window.__uc_state.B === {json.dumps(s2['B'])}")
    assert state(driver) == s2 and js(driver, f"{model('hdr_fc')}.active") == 0
    driver.back()
    wait(driver, f"window.__uc_state.B === {json.dumps(s1['B'])}")
    assert state(driver) == s1
    # the threshold set on that entry came back with it (the A change resets the attack to its defaults)
    wait(driver, f"{model('atk_thr')}.value === 2")
    driver.back()
    wait(driver, f"window.__uc_state.A === {json.dumps(start['A'])}")
    assert state(driver) == start and js(driver, "location.hash") == ""
    assert js(driver, f"{model('hdr_sel_a')}.value") == row_of(driver, start["A"].rsplit("-seed", 1)[0])
    driver.forward()
    wait(driver, f"window.__uc_state.A === {json.dumps(s1['A'])}")
    driver.forward()
    driver.forward()
    wait(driver, "window.__uc_state.fs === 'fc8'")
    assert state(driver) == s3
    time.sleep(0.4)
    assert js(driver, "history.length") == n0 + 3  # restoring never added an entry
    # a link pasted into the address bar (a hashchange) restores too
    driver.execute_script(f"location.hash = {json.dumps(f'#fs=fc4&a={ga}&tab=attack')}")
    wait(driver, f"window.__uc_state.fs === 'fc4' && window.__uc_state.A.startsWith('{ga}')")
    assert js(driver, f"{model('core_tabs')}.active") == 1
    assert not severe(driver)


EVIL_ID = quote('"><img src=x onerror="window.__xss=3">', safe="")


def test_a_failed_run_in_a_link_is_ignored(driver, one_seed):
    load(driver, one_seed["url"])
    defaults = state(driver)
    load(driver, one_seed["url"] + f"#a={quote(one_seed['failed'], safe='')}&b=nope")
    assert state(driver) == defaults
    assert not severe(driver)


def test_a_hash_of_garbage_leaves_the_page_working_with_its_defaults(driver, exp):
    load(driver, exp["url"])
    defaults, shown = state(driver), widgets(driver)
    garbage = "&".join(
        [
            f"fs={EVIL_ID}",
            f"a={quote(EVIL_RUN, safe='')}",
            f"b={quote(EVIL_NAME, safe='')}",
            "seed=NaN",
            "tab=%3Cscript%3Ewindow.__xss%3D4%3C%2Fscript%3E",
            "mode=__proto__",
            "metric=constructor",
            "strategy=9",
            "thr=NaN",
            "mx=%E0%A4%A",  # a malformed escape
            "enc=1e999",
            "methods=%3Cb%3E,toString",
            "best=yes",
            "ov.brush=%3Cimg%20src%3Dx%20onerror%3Dwindow.__xss%3D5%3E",  # a part nobody registered
            "__proto__=1",
            "%ZZ=%ZZ",
            "==&&=",
        ]
    )
    load(driver, exp["url"] + "#" + garbage)
    assert state(driver) == defaults
    assert widgets(driver) == shown
    # B equal to A, and ids of the other set, are ignored field by field; the valid fields count
    orig = next(s for s in exp["settings"]["fc4"] if "-original" in s)
    other = next(s for s in exp["settings"]["fc8"] if "-ft-" in s)
    load(driver, exp["url"] + f"#a={orig}&b={orig}&seed=1&thr=0.5&tab=nope")
    assert state(driver) == {
        **defaults,
        "seed": 1,
        "A": defaults["A"].replace("seed0", "seed1"),
        "B": defaults["B"].replace("seed0", "seed1"),
    }
    assert js(driver, f"{model('atk_thr')}.value") == 0.5
    assert js(driver, f"{model('core_tabs')}.active") == 0
    load(driver, exp["url"] + f"#a={other}&thr=99")
    assert state(driver) == defaults and js(driver, f"{model('atk_thr')}.value") == 1.25
    # the page still works: a change is handled and written
    ga = next(s for s in exp["settings"]["fc4"] if "-ga-" in s)
    choose(driver, "hdr_sel_b", "value", row_of(driver, ga), f"window.__uc_state.B.startsWith('{ga}')")
    wait_hash(driver, f"b={ga}")
    assert not js(driver, "window.__xss")
    assert not severe(driver)


def test_the_overviews_brush_and_tab_travel_in_the_link(driver, exp):
    """The overview's state (js/overview.js registers it): its brushed settings by id and its tab; a fresh
    load of the link shows the same brush, the table filtered to it, and the same tab."""
    load(driver, exp["url"])
    data = driver.execute_script(f"return {model('ov_src')}.data.k;")
    types = js(driver, f"{model('st_settings')}.data.type")
    pts = [i for i, k in enumerate(data) if types[k] == "unlearned"][:3]
    driver.execute_script(f"{model('ov_src')}.selected.indices = arguments[0];", pts)
    link = wait_hash(driver, "ov.brush=")
    set_value(driver, "ov_tabs", "active", 2)
    link = wait_hash(driver, "ov.tab=")
    rows = sorted(js(driver, f"{model('tbl_src')}.data.idx"))
    assert len(rows) == len(pts) + 2  # the brushed settings and the two references

    load(driver, exp["url"] + link)
    wait(driver, f"{model('tbl_src')}.data.idx.length === {len(rows)}")
    assert sorted(js(driver, f"{model('tbl_src')}.data.idx")) == rows
    assert sorted(js(driver, f"{model('ov_src')}.selected.indices")) == sorted(pts)
    assert js(driver, f"{model('ov_tabs')}.active") == 2
    assert js(driver, "location.hash") == link
    assert not severe(driver)

"""The site of a real (tiny) workflow run, built by the workflow's own `site` rule and driven in Chromium:
no console errors, no network, every selector changes plotted data, failed runs and markup in names."""

from __future__ import annotations

import json
from urllib.parse import urlparse

import pytest

from browser_support import (
    A_VIEWS,
    B_VIEWS,
    driver,  # noqa: F401
    load,
    model,
    options,
    requests,
    set_value,
    severe,
    shot,  # noqa: F401
    signatures,
    wait,
    wait_changed,
)
from conftest import snakemake

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def run_site(tiny_run):
    workdir = tiny_run[0]
    result = snakemake(workdir, "--cores", "2", "--configfile", str(workdir / "tiny.yaml"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    index = workdir / "results" / "tiny" / "site" / "index.html"
    assert index.is_file() and (index.parent / "assets" / "thumbnails.png").is_file()
    return index


def test_the_site_of_a_run_works_offline_and_follows_every_selector(driver, run_site):
    load(driver, run_site.as_uri())
    assert severe(driver) == []
    assert [u for u in requests(driver) if urlparse(u).scheme not in ("file", "data", "blob")] == []
    state = driver.execute_script("return window.__uc_state")
    assert (state["A"], state["B"]) == ("fc1-original", "fc1-retrained")
    shot(driver, "10-tiny-run-first-render")

    # A and B: every view that follows them changes
    before = signatures(driver, A_VIEWS)
    set_value(driver, "hdr_sel_a", "value", options(driver, "hdr_sel_a")[2])
    wait_changed(driver, A_VIEWS, before)
    before = signatures(driver, B_VIEWS)
    set_value(driver, "hdr_sel_b", "value", options(driver, "hdr_sel_b")[-1])
    wait_changed(driver, B_VIEWS, before)

    # the forget class
    everything = sorted(set(A_VIEWS + B_VIEWS))
    before = signatures(driver, everything)
    set_value(driver, "hdr_fc", "active", 1)
    wait_changed(driver, everything, before)
    state = wait(driver, "window.__uc_state.fc === 3 && window.__uc_state")
    assert (state["A"], state["B"]) == ("fc3-original", "fc3-retrained")

    # failed runs (three broken methods and the refused external checkpoint) cannot be chosen
    ids = driver.execute_script(f"return {model('st_runs')}.data.id")
    ok = driver.execute_script(f"return Array.from({model('st_runs')}.data.ok)")
    failed = {i for i, flag in zip(ids, ok) if flag == 0}
    assert {"fc3-external-evil"} < failed and any("raises" in i for i in failed)
    assert not failed & {ids[int(v)] for v in options(driver, "hdr_sel_a")}

    # the external model's display name carries markup: it shows as text
    set_value(driver, "hdr_fc", "active", 0)
    wait(driver, "window.__uc_state.fc === 1")
    plain = ids.index("fc1-external-plain")
    set_value(driver, "hdr_sel_b", "value", str(plain))
    wait(driver, f"window.__uc_state.B === {json.dumps('fc1-external-plain')}")
    table = f"Bokeh.index.find_one({model('tbl_table')}).shadow_el"
    assert driver.execute_script(f"return {table}.textContent.includes('Uploaded <b>model</b>')")
    assert driver.execute_script(f"return {table}.querySelectorAll('.slick-cell b').length") == 0
    assert severe(driver) == []
    shot(driver, "11-tiny-run-external-b")
    set_value(driver, "core_tabs", "active", 1)
    wait(driver, "true")
    shot(driver, "12-tiny-run-attack")

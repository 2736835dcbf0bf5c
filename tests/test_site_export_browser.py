"""Export from the page in headless Chromium (js/export.js): the experiments table as CSV (the rows and
order it shows, raw numbers, RFC 4180 quoting, formula cells guarded), a figure as PNG, a run as JSON.
Downloads are intercepted in the page (``URL.createObjectURL`` and ``<a>.click``), not written to disk."""

from __future__ import annotations

import base64
import csv
import io
import json
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.feather as feather
import pytest

from comparator_site import build_site
from comparator_site.data import RUN_METRICS
from comparator_site.data import load as load_tables

from browser_support import click_button, driver, load, model, set_value, severe, source_data, wait  # noqa: F401
from site_fixtures import EVIL_NAME, EVIL_RUN, write_experiment

pytestmark = pytest.mark.browser

FORMULA = '=HYPERLINK("http://x",1)'  # a method name a spreadsheet would run: text with a comma and quotes

CAPTURE = """
window.__blobs = [];
window.__names = [];
URL.createObjectURL = (b) => { window.__blobs.push(b); return "blob:captured"; };
URL.revokeObjectURL = () => {};
HTMLAnchorElement.prototype.click = function () { window.__names.push(this.download); };
"""
READ_TEXT = "const done = arguments[arguments.length - 1]; window.__blobs[arguments[0]].text().then(done);"
READ_BYTES = """
const done = arguments[arguments.length - 1];
const b = window.__blobs[arguments[0]];
b.arrayBuffer().then((buf) => {
  let s = ""; for (const x of new Uint8Array(buf)) s += String.fromCharCode(x);
  done([b.type, btoa(s)]);
});"""


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> Path:
    out = write_experiment(
        tmp_path_factory.mktemp("tables"), forget_classes=2, models_per_class=12, per_class=20, seeds=[0, 1]
    )
    for name in ("runs.arrow", "summary.arrow"):  # a formula-like method name (scrub's)
        t = feather.read_table(out / name)
        names = [
            FORMULA if m == "scrub" else n
            for m, n in zip(t["method"].to_pylist(), t["method_name"].to_pylist())
        ]
        t = t.set_column(t.column_names.index("method_name"), "method_name", pa.array(names, pa.string()))
        feather.write_feather(t, out / name)
    return out


@pytest.fixture(scope="module")
def site(tables, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    build_site(tables, out)
    return out


def downloaded(driver, n):
    wait(driver, f"window.__blobs.length >= {n}")
    return driver.execute_script("return window.__names")[n - 1]


def csv_download(driver) -> tuple[str, list[dict[str, str]], list[str]]:
    n = driver.execute_script("return window.__blobs.length") + 1
    click_button(driver, "tbl_csv")
    name = downloaded(driver, n)
    text = driver.execute_async_script(READ_TEXT, n - 1)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    return name, rows, reader.fieldnames


def open_page(driver, site):
    load(driver, (site / "index.html").as_uri())
    driver.execute_script(CAPTURE)


def test_the_table_as_csv_follows_what_the_table_shows(driver, site):
    open_page(driver, site)
    name, rows, head = csv_download(driver)
    assert name == "synthetic-fc0.csv"
    metrics = [f"{m}{s}" for m in RUN_METRICS for s in ("_mean", "_std")]
    assert (
        head
        == ["id", "type", "status", "method", "method_name", "epochs", "batch_size", "lr"]
        + ["hyperparameters"]
        + metrics
    )
    shown = source_data(driver, "tbl_src")
    assert [r["id"] for r in rows] == shown["id"]  # unsorted: the source's order
    st = source_data(driver, "st_settings")
    by_id = {i: k for k, i in enumerate(st["id"])}
    for r in rows:
        k = by_id[r["id"]]
        for m in ("UA", "RA"):
            want = st[m][k]
            assert (
                (r[f"{m}_mean"] == "") if want is None or math.isnan(want) else float(r[f"{m}_mean"]) == want
            )
        if r["status"] == "ok" and r["type"] == "unlearned":
            assert json.loads(r["hyperparameters"])["epochs"] == int(r["epochs"])
    # markup, quotes and commas round-trip; a formula-like text is guarded
    evil = next(r for r in rows if EVIL_RUN in r["id"])
    assert evil["method_name"] == EVIL_NAME
    assert next(r for r in rows if r["method"] == "scrub")["method_name"] == "'" + FORMULA
    # the method filter, then "Best of each method": the CSV has the rows the table has
    scrub = driver.execute_script(
        f"return {model('tbl_filter')}.options.find((o) => o[1].startsWith('=HYPERLINK'))[0]"
    )
    set_value(driver, "tbl_filter", "value", [scrub])
    wait(driver, f"{model('tbl_src')}.data.id.length < {len(rows)}")
    _, filtered, _ = csv_download(driver)
    assert [r["id"] for r in filtered] == source_data(driver, "tbl_src")["id"]
    assert {r["method"] for r in filtered} <= {"scrub", ""}
    set_value(driver, "tbl_filter", "value", [])
    wait(driver, f"{model('tbl_src')}.data.id.length === {len(rows)}")
    set_value(driver, "tbl_best", "active", [0])
    wait(driver, f"{model('tbl_src')}.data.id.length < {len(rows)}")
    _, best, _ = csv_download(driver)
    assert [r["id"] for r in best] == source_data(driver, "tbl_src")["id"] and len(best) < len(rows)
    assert severe(driver) == []


def test_the_csv_follows_the_tables_sorting(driver, site):
    open_page(driver, site)
    # click the UA header twice (descending), as a user would
    driver.execute_script(f"""
      const root = Bokeh.index.find_one({model("tbl_table")}).shadow_el;
      const heads = [...root.querySelectorAll('.slick-header-column')];
      heads.find((h) => h.textContent.trim() === 'UA').click();
""")
    wait(driver, f"Bokeh.index.find_one({model('tbl_table')}).data.index[0] !== 0")
    _, rows, _ = csv_download(driver)
    ua = [float(r["UA_mean"]) for r in rows if r["UA_mean"]]
    assert ua == sorted(ua) and ua != [float(r["UA_mean"]) for r in rows if r["UA_mean"]][::-1]


def test_a_runs_json_is_its_line_of_runs_arrow(driver, site, tables):
    open_page(driver, site)
    data = load_tables(tables)
    # the evil setting's {} link (its row scrolled into view first: the table renders visible rows only)
    k = driver.execute_script(
        f"return {model('tbl_src')}.data.id.findIndex((i) => i.includes({json.dumps(EVIL_RUN)}))"
    )
    driver.execute_script(
        f"const v = Bokeh.index.find_one({model('tbl_table')}); v.grid.scrollRowIntoView(arguments[0]);"
        "v.grid.render();",
        k,
    )
    driver.execute_script(
        f"""
      const root = Bokeh.index.find_one({model("tbl_table")}).shadow_el;
      const idx = {model("tbl_src")}.data.idx[arguments[0]];
      const ev = new MouseEvent("click", {{bubbles: true, composed: true}});
      root.querySelector(`[data-json="${{idx}}"]`).dispatchEvent(ev);""",
        k,
    )
    name = downloaded(driver, 1)
    got = json.loads(driver.execute_async_script(READ_TEXT, 0))
    run = next(r for r in data.runs if r["run_id"] == got["run_id"])
    assert (
        EVIL_RUN in run["run_id"]
        and run["seed"] == 0
        and name == run["run_id"].replace("<", "_").replace(">", "_") + ".json"
    )
    assert got["method_name"] == EVIL_NAME
    for key in ("run_id", "type", "method", "method_name", "epochs", "batch_size", "lr", "seed"):
        assert got[key] == run[key], key
    assert got["forget_set"] == run["forget_set"] and got["status"] == run["status"]
    assert got["hyperparameters"] == json.loads(run["hyperparameters"])
    for m in RUN_METRICS:
        assert got[m] == run[m] or (got[m] is None and (run[m] is None or math.isnan(run[m]))), m


def test_a_figure_as_png(driver, site):
    open_page(driver, site)
    for i, fig in enumerate(("cw_tr_fig", "emb_a_fig")):
        set_value(driver, "exp_fig", "value", fig)
        assert downloaded(driver, i + 1) == f"synthetic-{fig}.png"
        kind, b64 = driver.execute_async_script(READ_BYTES, i)
        png = base64.b64decode(b64)
        assert kind == "image/png" and png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
        assert wait(driver, f"{model('exp_fig')}.value === ''") is not None
    assert severe(driver) == []


def test_the_audits_columns_are_one_pooled_figure_each(driver, tmp_path):
    """With the privacy audit, a setting's audit cells are one figure of all its replicates (pooled), not
    a mean: the CSV names them without _mean and gives no _std for them."""
    tables = write_experiment(
        tmp_path / "tables", forget_classes=1, models_per_class=6, per_class=20, seeds=[0, 1, 2], audit=True
    )
    build_site(tables, tmp_path / "site")
    open_page(driver, tmp_path / "site")
    _, rows, head = csv_download(driver)
    assert {"ulira_auc", "ulira_tpr_1pct", "rmia_auc", "forget_quality"} <= set(head)
    assert "ulira_auc_mean" not in head and "ulira_auc_std" not in head and "UA_mean" in head
    audit = feather.read_table(tables / "audit.arrow").to_pylist()
    for row in rows:
        pooled = next(
            (
                a["ulira_auc_setting"]
                for a in audit
                if a["setting_id"] == row["id"] and a["ulira_auc_setting"] is not None
            ),
            None,
        )
        assert (
            (row["ulira_auc"] == "") if pooled is None else float(row["ulira_auc"]) == pytest.approx(pooled)
        )
    assert severe(driver) == []

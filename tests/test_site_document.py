"""The generated page without a browser: the embedded Bokeh document, its data and its callbacks."""

from __future__ import annotations

import html
import json
import re
from importlib import resources as ir
from pathlib import Path

import numpy as np
import pytest
from bokeh.core.validation import check_integrity

from comparator_site import build_document, build_site
from comparator_site.__main__ import main as site_main
from comparator_site.data import load
from comparator_site.jsbundle import JS_FILES, app_code

from site_fixtures import EVIL_NAME, EVIL_TITLE, write_experiment

URL = re.compile(r"https?://", re.I)


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> Path:
    return write_experiment(
        tmp_path_factory.mktemp("tables"), forget_classes=3, models_per_class=6, per_class=20
    )


@pytest.fixture(scope="module")
def site(tables, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    build_site(tables, out)
    return out


def doc_json(index: Path) -> dict:
    text = index.read_text(encoding="utf-8")
    m = re.search(r'<script type="application/json" id="[^"]+">(.*?)</script>', text, re.S)
    assert m, "no Bokeh document JSON in the page"
    docs = json.loads(html.unescape(m.group(1)))
    assert len(docs) == 1
    return next(iter(docs.values()))


def objects(node, out=None) -> dict[str, dict]:
    """Every serialized Bokeh object in the document JSON, by id."""
    out = {} if out is None else out
    if isinstance(node, dict):
        if node.get("type") == "object" and "id" in node and "name" in node:
            out.setdefault(node["id"], node)
        for v in node.values():
            objects(v, out)
    elif isinstance(node, list):
        for v in node:
            objects(v, out)
    return out


def by_name(objs: dict[str, dict], name: str) -> dict:
    found = [o for o in objs.values() if (o.get("attributes") or {}).get("name") == name]
    assert len(found) == 1, f"{len(found)} models named {name!r}"
    return found[0]


def columns(cds: dict) -> dict[str, int]:
    """Column name -> length of a serialized ColumnDataSource."""
    data = cds["attributes"]["data"]
    out = {}
    for key, value in data["entries"]:
        if isinstance(value, dict) and value.get("type") == "ndarray":
            out[key] = int(np.prod(value["shape"]))
        else:
            out[key] = len(value)
    return out


def without_bokehjs(text: str) -> str:
    """The page minus the byte-identical BokehJS bundles it inlines."""
    static = Path(ir.files("bokeh")) / "server" / "static" / "js"
    for name in ("bokeh.min.js", "bokeh-widgets.min.js", "bokeh-tables.min.js", "bokeh-gl.min.js"):
        text = text.replace((static / name).read_text(encoding="utf-8"), "")
    return text


def test_document_is_valid(tables):
    data = load(tables)
    doc = build_document(data)
    issues = check_integrity(doc.models)
    assert not issues.error, issues.error


def test_stores_hold_every_run(site, tables):
    data = load(tables)
    objs = objects(doc_json(site / "index.html"))
    R, C, N, L, T = (
        len(data.runs),
        data.num_classes,
        len(data.subset_index),
        len(data.layers),
        data.thresholds,
    )
    ok = [r for r in data.runs if r["status"] == "ok"]
    runs = columns(by_name(objs, "st_runs"))
    assert set(runs.values()) == {R}
    for key in (
        "id",
        "fc",
        "type",
        "method_name",
        "UA",
        "UA_txt",
        "UA_bg",
        "PS",
        "error",
        "off_inst",
        "off_atk",
    ):
        assert key in runs
    assert set(columns(by_name(objs, "st_acc")).values()) == {len(ok) * C}
    assert set(columns(by_name(objs, "st_pred")).values()) == {len(ok) * 2 * C * C}
    assert set(columns(by_name(objs, "st_sim")).values()) == {len(ok) * 8 * L}
    assert set(columns(by_name(objs, "st_atk")).values()) == {len(ok) * 4 * T}
    inst = columns(by_name(objs, "st_inst"))
    assert set(inst) == {"x", "y", "pred", *(f"p{c}" for c in range(C))}
    assert set(inst.values()) == {len(ok) * N}
    per_fc = {fc: int((data.subset_label == fc).sum()) for fc in data.forget_classes}
    assert set(columns(by_name(objs, "st_fgt")).values()) == {sum(per_fc[r["forget_class"]] for r in ok)}
    assert set(columns(by_name(objs, "st_subset")).values()) == {N}


def test_store_offsets_point_at_each_runs_block(tables):
    data = load(tables)
    off = data.offsets
    for k, r in enumerate(data.runs):
        if r["status"] != "ok":
            assert all(off[key][k] == -1 for key in ("acc", "pred", "inst", "atk"))
            continue
        a = off["acc"][k]
        assert np.allclose(data.stores["acc"]["train"][a : a + data.num_classes], r["train_acc"], atol=1e-6)
    # the numeric columns ship as compact typed arrays
    assert data.stores["inst"]["p0"].dtype == np.uint16
    assert data.stores["inst"]["pred"].dtype == np.uint8
    assert data.stores["inst"]["x"].dtype == np.uint16  # quantized over the common range (data._quantize)


def test_quantized_coordinates_keep_the_embedding_to_a_fraction_of_a_pixel():
    """data._quantize: every coordinate within half a step of its value, the step 1/65534 of the range,
    the extremes exact, and a missing value (NaN) kept apart as 65535."""
    from comparator_site.data import QUANT_MISSING, _quantize

    values = np.array([-3.25, 0.0, 1e-3, np.nan, 17.5, 4.2], dtype=np.float64)
    q, (lo, step) = _quantize(values)
    assert q.dtype == np.uint16 and q[3] == QUANT_MISSING
    assert lo == -3.25 and step == (17.5 + 3.25) / 65534
    back = lo + q[np.isfinite(values)].astype(float) * step
    assert np.abs(back - values[np.isfinite(values)]).max() <= step / 2 + 1e-12
    assert q[0] == 0 and q[4] == 65534
    # a constant or empty axis still decodes
    q, (lo, step) = _quantize(np.array([2.0, 2.0]))
    assert lo + q[0] * step == 2.0
    q, _ = _quantize(np.array([np.nan]))
    assert q[0] == QUANT_MISSING


def test_plotted_sources_and_callbacks(site):
    objs = objects(doc_json(site / "index.html"))
    expected = {
        "tbl_src": {"idx", "id", "UA", "UA_bg", "a_state", "b_state"},
        "cw_src": {"y", "name", "tr_left", "tr_right", "te_left", "te_right"},
        "mx_a_cell": {"x", "y", "prop_txt", "conf_txt", "size", "bub_color"},
        "mx_b_tri": {"xs", "ys", "fill"},
        "emb_src": {"ax", "ay", "bx", "by", "a_fill", "b_fill", "marker"},
        "sim_src": {"layer", "a_ret", "a_fgt", "b_ret", "b_fgt"},
        "atk_a_dots": {"x", "y", "color", "key", "inst"},
        "atk_b_cv": {"thr", "score", "fpr", "fnr"},
    }
    for name, cols in expected.items():
        assert cols <= set(columns(by_name(objs, name))), name
    callbacks = [o for o in objs.values() if o["name"] == "CustomJS"]
    # one app callback wired to everything (plus nothing else)
    codes = {o["attributes"]["code"] for o in callbacks}
    assert codes == {app_code()}
    code = app_code()
    for fn in (
        "function dispatch",
        "function set_models",
        "function emb_hover",
        "function atk_recompute",
        "function table_click",
        "function mx_update",
        "function sim_update",
        "function cw_update",
    ):
        assert fn in code
    for name in JS_FILES:
        assert f"// ---- {name}" in code
    # the app's named arguments: one object per view (page.py's contract), shipped as nested maps
    args = dict(callbacks[0]["attributes"]["args"]["entries"])
    assert set(args) == {"cfg", "st", "core_tabs", "hdr", "tbl", "cw", "mx", "emb", "sim", "atk", "ov"}
    atk_a = dict(dict(args["atk"]["entries"])["a"]["entries"])
    assert atk_a["dots"]["id"] == by_name(objs, "atk_a_dots")["id"]
    assert dict(args["st"]["entries"])["runs"]["id"] == by_name(objs, "st_runs")["id"]
    # the page reacts to the A/B selects, the forget class and the document being ready
    doc = doc_json(site / "index.html")
    assert [k for k, _ in doc["callbacks"]["entries"]] == ["document_ready"]
    for name in ("hdr_sel_a", "hdr_sel_b", "hdr_fc", "emb_mode", "atk_thr", "atk_metric", "atk_strategy"):
        assert by_name(objs, name)["attributes"].get("js_property_callbacks"), name
    for name in ("emb_a_hover", "emb_b_hover", "atk_a_hover", "mx_a_hover", "cw_tr_hover"):
        assert by_name(objs, name)["attributes"]["callback"]["id"] == callbacks[0]["id"]


def test_no_javascript_in_python_strings():
    """All interaction code lives in js/*.js; Python adds only the one-line glue."""
    body = "\n".join(
        f"// ---- {n}\n" + ir.files("comparator_site").joinpath("js", n).read_text() for n in JS_FILES
    )
    glue = app_code().replace(body, "")
    assert glue.count("\n") <= 4 and len(glue) < 200


def test_strings_from_configs_are_escaped(site):
    text = (site / "index.html").read_text(encoding="utf-8")
    # nowhere in the page as markup: not the method name, not the title
    assert EVIL_NAME not in text and "<script>alert" not in text
    assert EVIL_TITLE not in text
    assert "<b>experiment</b>" not in text
    assert html.escape(EVIL_TITLE) in text  # the <title> and the header show it as text
    objs = objects(doc_json(site / "index.html"))
    header = by_name(objs, "hdr_title")["attributes"]["text"]
    assert html.escape(EVIL_TITLE) in header and EVIL_TITLE not in header
    # the method filter renders labels as HTML (Choices.js): they must be escaped
    options = by_name(objs, "tbl_filter")["attributes"]["options"]
    labels = [label for _value, label in options]
    assert html.escape(EVIL_NAME) in labels
    # the table's cell templates escape every string from the tables
    table = by_name(objs, "tbl_table")
    templates = [objs[c["id"]]["attributes"]["formatter"] for c in table["attributes"]["columns"]]
    templates = [(objs[t["id"]] if "attributes" not in t else t)["attributes"]["template"] for t in templates]
    for t in templates:
        for field in re.findall(r"<%=\s*(\w+)\s*%>", t):
            assert field.endswith(("_bg", "_fg", "_state")) or field in ("idx", "badge_bg", "badge_fg"), (
                field,
                t,
            )


def test_no_urls_in_the_shared_page(tables, tmp_path):
    """With the shared BokehJS copy, index.html contains no http(s) URL at all."""
    site = tmp_path
    build_site(tables, site, bokeh_js="shared")
    text = (site / "index.html").read_text(encoding="utf-8")
    assert not URL.search(text), URL.search(text)
    scripts = re.findall(r'<script src="([^"]+)"', text)
    assert scripts and all(s.startswith("./static/js/bokeh") for s in scripts)
    for s in scripts:
        assert (site / s).is_file()
    assert (site / ".nojekyll").is_file()
    assert re.search(r'href="/|src="/', text) is None  # relative links only


def test_inline_page_has_urls_only_inside_bokehjs(site):
    """Inline mode (the default): the only URLs are inside the byte-identical BokehJS bundles (licence
    notes, and URLs of optional features this page does not use: MathJax, icon fonts, Google Maps); the
    rest of the page has none."""
    text = (site / "index.html").read_text(encoding="utf-8")
    assert "<script src=" not in text
    stripped = without_bokehjs(text)
    assert len(stripped) < len(text) - 1_000_000
    assert not URL.search(stripped), URL.search(stripped)
    assert (site / ".nojekyll").is_file() and not (site / "static").exists()
    assert re.search(r'href="/|src="/', text) is None  # relative links only


def test_thumbnails_ship_as_one_sprite_sheet(site, tables):
    assert (site / "assets" / "thumbnails.png").read_bytes() == (tables / "thumbnails.png").read_bytes()
    text = without_bokehjs((site / "index.html").read_text(encoding="utf-8"))
    assert "data:image" not in text  # no image inlined per point (BokehJS's own icons aside)


def test_site_without_thumbnails_or_subset(tmp_path):
    tables = write_experiment(
        tmp_path / "t",
        forget_classes=[1, 4],
        models_per_class=4,
        per_class=10,
        thumbnails=False,
        failed=False,
        evil=False,
    )
    index = build_site(tables, tmp_path / "s")
    assert not (tmp_path / "s" / "assets").exists()
    app = next(o for o in objects(doc_json(index)).values() if o["name"] == "CustomJS")
    cfg = json.loads(dict(app["attributes"]["args"]["entries"])["cfg"])
    assert cfg["thumbnails"] is None and cfg["forget_classes"] == [1, 4]


def test_cli_builds_and_reports_bad_tables(tables, tmp_path, capsys):
    assert site_main(["build", "--tables", str(tables), "--out", str(tmp_path / "site")]) == 0
    assert (tmp_path / "site" / "index.html").is_file()
    assert site_main(["build", "--tables", str(tmp_path / "missing"), "--out", str(tmp_path / "x")]) == 2
    assert "runs.arrow" in capsys.readouterr().err


def test_forget_sets_and_seeds_build_a_valid_document(tmp_path):
    """Forget sets of every kind and three seeds: a valid document whose config lists the sets (members in
    the subset from is_forget), the seeds, and the refusals; a set's display name is never raw markup."""
    evil = '<img src=x onerror="window.__xss=1">two'
    tables = write_experiment(
        tmp_path / "t",
        forget_classes=[1],
        forget_sets=[{"classes": [2, 5], "name": evil}, {"random": 0.1, "seed": 2}],
        seeds=[0, 1, 2],
        models_per_class=4,
        per_class=10,
    )
    data = load(tables)
    assert not check_integrity(build_document(data).models).error
    assert [fs["id"] for fs in data.sets] == ["fc1", "fc2_5", "rnd10s2"] and data.seeds == [0, 1, 2]
    assert data.forget_classes == [1] and len(data.settings) * 3 == len(data.runs)
    index = build_site(tables, tmp_path / "s")
    text = index.read_text(encoding="utf-8")
    assert evil not in text
    app = next(o for o in objects(doc_json(index)).values() if o["name"] == "CustomJS")
    cfg = json.loads(dict(app["attributes"]["args"]["entries"])["cfg"])
    assert [s["name"] for s in cfg["sets"]] == ["Trouser", evil, "random 10 % \u00b7 seed 2"]
    assert [s["classes"] for s in cfg["sets"]] == [[1], [2, 5], []]
    assert cfg["sets"][1]["pos"] == [p for p, c in enumerate(data.subset_label) if c in (2, 5)]
    assert cfg["sets"][2]["refused"] == [
        {"method": "boundary_shrink", "reason": "defined for exactly one whole class"}
    ]
    assert cfg["seeds"] == [0, 1, 2]


def test_the_header_names_the_data_set_and_model_once():
    """Beside the title, the header shows the data set and the model only where the title does not name
    them already (the shipped configs' titles do: "Fashion-MNIST · compact ResNet · CPU default")."""
    from comparator_site.views.header import header_facts

    assert header_facts("Synthetic experiment", "Fashion-MNIST", "Compact ResNet") == [
        "Fashion-MNIST",
        "Compact ResNet",
    ]
    assert (
        header_facts("Fashion-MNIST · compact ResNet · CPU default", "Fashion-MNIST", "Compact ResNet") == []
    )
    assert header_facts("CIFAR-10 audit", "CIFAR-10", "ResNet-18") == ["ResNet-18"]
    assert header_facts("Upstream results", None, "") == []

"""The privacy audit in the site, without a browser: how data.py packs audit.arrow and audit_instances.arrow,
the document's audit models and the JavaScript's contract with them, and tables without the audit (the
page as before). Expected values are read from the Arrow tables with pyarrow."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pytest
from bokeh.core.validation import check_integrity
from bokeh.models import CustomJS
from test_js_contract import contract_errors, dispatch_errors, js_sources, wired_keys

from comparator_site import build_document
from comparator_site.data import load
from comparator_site.views.experiments_table import HEADER
from unlearning_comparator.summary import mean_std
from unlearning_comparator.tables.schema import AUDIT_ROC_FPR

from site_fixtures import AUDIT_FAILED_NOTE, write_experiment

SEEDS = [0, 1, 2]
SETUP = dict(forget_classes=[4], forget_sets=[{"random": 0.1, "seed": 1}], models_per_class=5, per_class=12)


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    return write_experiment(tmp_path_factory.mktemp("audit"), seeds=SEEDS, audit=True, **SETUP)


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    return write_experiment(tmp_path_factory.mktemp("plain"), seeds=SEEDS, **SETUP)


def _app(doc) -> CustomJS:
    return next(m for m in doc.models if isinstance(m, CustomJS) and "dispatch" in m.code)


def _members_in_subset(tables, run_id) -> list[int]:
    """The subset positions of the run's forget images (instances.arrow's is_forget), ascending."""
    subset = feather.read_table(tables / "subset.arrow").column("index").to_pylist()
    inst = feather.read_table(tables / "instances.arrow").to_pylist()
    forget = {r["index"] for r in inst if r["run_id"] == run_id and r["is_forget"]}
    return [p for p, i in enumerate(subset) if i in forget]


def test_the_fixture_audit_is_schema_valid_and_leaves_the_other_tables_alone(tables, plain):
    audit = feather.read_table(tables / "audit.arrow").to_pylist()
    runs = feather.read_table(tables / "runs.arrow").to_pylist()
    assert {r["run_id"] for r in audit} == {r["run_id"] for r in runs}
    by_type = {}
    for r in runs:
        row = next(a for a in audit if a["run_id"] == r["run_id"])
        if row["ulira_auc"] is not None:
            by_type.setdefault(r["type"], []).append(row["ulira_auc"])
    # the original far above 0.5, the retrained model's calibration about 0.5, the methods between
    assert min(by_type["original"]) > 0.8 and abs(np.mean(by_type["retrained"]) - 0.5) < 0.05
    assert np.mean(by_type["retrained"]) < np.mean(by_type["unlearned"]) < min(by_type["original"])
    failed = [a for a in audit if a["ulira_auc"] is None]
    assert failed and all(a["note"] == AUDIT_FAILED_NOTE and a["ulira_roc_tpr"] is None for a in failed)
    eps = feather.read_table(tables / "audit_instances.arrow").column("epsilon").to_numpy()
    assert np.isinf(eps).any()
    for name in ("runs", "instances", "attack", "summary", "subset"):  # the audit draws on its own generator
        assert (tables / f"{name}.arrow").read_bytes() == (plain / f"{name}.arrow").read_bytes(), name
    assert not (plain / "audit.arrow").exists() and not (plain / "audit_instances.arrow").exists()


def test_roc_and_vulnerability_stores_hold_each_audited_run(tables):
    data = load(tables)
    assert data.audit == {"fpr": pytest.approx(list(AUDIT_ROC_FPR)), "instances": True}
    G = len(AUDIT_ROC_FPR)
    audit = {r["run_id"]: r for r in feather.read_table(tables / "audit.arrow").to_pylist()}
    scores = {}
    for r in feather.read_table(tables / "audit_instances.arrow").to_pylist():
        scores[r["run_id"], r["index"]] = r
    subset = feather.read_table(tables / "subset.arrow").column("index").to_pylist()
    roc, vul = data.stores["roc"], data.stores["vul"]
    shipped = 0
    for k, run in enumerate(data.runs):
        row = audit[run["run_id"]]
        o, v = data.offsets["roc"][k], data.offsets["vul"][k]
        if row["ulira_roc_tpr"] is None:  # the failed run: no blocks
            assert o == -1 and v == -1 and run["ulira_auc"] is None
            continue
        for curve in ("ulira", "rmia"):
            assert np.allclose(roc[curve][o : o + G], np.float32(row[f"{curve}_roc_tpr"]))
        assert run["ulira_auc"] == row["ulira_auc"] and run["rmia_tpr_1pct"] == row["rmia_tpr_1pct"]
        positions = _members_in_subset(tables, run["run_id"])
        assert positions == data.sets[run["fs"]]["pos"]
        for j, p in enumerate(positions):  # the subset's forget images only, in subset order
            want = scores[run["run_id"], subset[p]]
            for name in ("ulira", "rmia", "epsilon"):
                assert vul[name][v + j] == np.float32(want[name]), (run["run_id"], p, name)
        shipped += len(positions)
    assert len(vul["ulira"]) == shipped  # not the thousands of forget images per run of the table
    assert np.isinf(vul["epsilon"]).any()


def _settings_against_audit(tables, figure):
    """Check every setting's audit cells against ``figure(ok audit rows, metric)`` -> (value, std)."""
    data = load(tables)
    audit = {r["run_id"]: r for r in feather.read_table(tables / "audit.arrow").to_pylist()}
    several = 0
    for s in data.settings:
        runs = [data.runs[k] for k in s["rows"]]
        ok = [audit[r["run_id"]] for r in runs if r["status"] == "ok"]
        for m in ("ulira_auc", "ulira_tpr_1pct", "rmia_auc"):
            value, std = figure(ok, m)
            assert s[m] == pytest.approx(value) and s[f"{m}_std"] == (
                None if std is None else pytest.approx(std)
            )
        # forget quality is the setting's, the same on every replicate: no spread
        assert (
            s["forget_quality"] == pytest.approx(ok[0]["forget_quality"]) and s["forget_quality_std"] is None
        )
        several += len(ok) > 1
    assert several == len(data.settings)
    return data


def test_settings_show_their_replicates_pooled(tables):
    _settings_against_audit(tables, lambda ok, m: (ok[0][f"{m}_setting"], None))


def test_without_pooled_figures_settings_show_the_mean_and_std_of_their_replicates(tables, tmp_path):
    copy = tmp_path / "tables"
    shutil.copytree(tables, copy)
    audit = feather.read_table(copy / "audit.arrow")
    for name in [n for n in audit.column_names if n.endswith("_setting")]:
        audit = audit.set_column(audit.column_names.index(name), name, pa.nulls(len(audit), pa.float64()))
    feather.write_feather(audit, copy / "audit.arrow", compression="uncompressed")
    _settings_against_audit(copy, lambda ok, m: mean_std(a[m] for a in ok)[:2])


def test_settings_carry_their_runs_audit_notes(tables):
    data = load(tables)
    noted = [s for s in data.settings if s["audit_note"]]
    assert noted and all(s["audit_note"] == AUDIT_FAILED_NOTE for s in noted)


def test_the_document_has_the_audit_models_and_the_javascript_reads_them(tables):
    data = load(tables)
    doc = build_document(data)
    assert not check_integrity(doc.models).error
    names = {m.name for m in doc.models if m.name}
    assert {
        "aud_fig",
        "atk_aud_src",
        "atk_aud_metric",
        "atk_aud_order",
        "emb_vul_mapper",
        "emb_vul_bar",
    } <= names
    app = _app(doc)
    cfg = json.loads(app.args["cfg"])
    assert cfg["audit"]["fpr"] == pytest.approx(list(AUDIT_ROC_FPR)) and cfg["audit"]["instances"] is True
    assert all(s["vul_range"] > 0 for s in cfg["sets"])
    assert doc.select_one({"name": "emb_mode"}).labels[-1] == "Vulnerability (U-LiRA)"
    table = doc.select_one({"name": "tbl_table"})
    titles = " ".join(c.title for c in table.columns)
    assert all(HEADER[m] in titles for m in ("ulira_auc", "ulira_tpr_1pct", "rmia_auc", "forget_quality"))
    # the contract of tests/test_js_contract.py, on a page with the audit; js/audit.js handles its widgets
    errors = contract_errors(js_sources(), dict(app.args))
    assert not errors, "\n".join(errors)
    sources = js_sources()
    errors = dispatch_errors(sources["js/main.js"] + sources["js/audit.js"], wired_keys(doc, app))
    assert not errors, "\n".join(errors)


def test_without_the_audit_nothing_of_it_is_built(plain):
    data = load(plain)
    assert data.audit is None and "roc" not in data.stores and "vul" not in data.stores
    doc = build_document(data)
    names = {m.name for m in doc.models if m.name}
    assert not {n for n in names if n.startswith(("aud_", "atk_aud", "emb_vul"))}
    app = _app(doc)
    assert all(app.args["atk"][k] is None for k in app.args["atk"] if k.startswith("aud_"))
    assert all(app.args["emb"][k] is None for k in app.args["emb"] if k.startswith("vul_"))
    cfg = json.loads(app.args["cfg"])
    assert "audit" not in cfg and all("vul_range" not in s for s in cfg["sets"])
    assert len(doc.select_one({"name": "emb_mode"}).labels) == 5
    runs = doc.select_one({"name": "st_runs"}).data
    assert "off_roc" not in runs and "ulira_auc" not in runs and "audit_note" not in runs
    titles = " ".join(c.title for c in doc.select_one({"name": "tbl_table"}).columns)
    assert "U-LiRA" not in titles and "Forget quality" not in titles
    errors = contract_errors(js_sources(), dict(app.args))
    assert not errors, "\n".join(errors)


def test_an_audit_without_per_image_scores_has_the_roc_but_no_vulnerability(tables, tmp_path):
    for name in ("runs", "instances", "predictions", "similarity", "attack", "summary", "subset", "audit"):
        (tmp_path / f"{name}.arrow").write_bytes((tables / f"{name}.arrow").read_bytes())
    for name in ("forget_sets.arrow", "thumbnails.png"):
        (tmp_path / name).write_bytes((tables / name).read_bytes())
    data = load(tmp_path)
    assert data.audit["instances"] is False and (data.offsets["vul"] == -1).all()
    doc = build_document(data)
    assert doc.select_one({"name": "aud_fig"}) is not None
    assert doc.select_one({"name": "atk_aud_order"}).disabled
    assert len(doc.select_one({"name": "emb_mode"}).labels) == 5
    assert doc.select_one({"name": "emb_vul_mapper"}) is None
    errors = contract_errors(js_sources(), dict(_app(doc).args))
    assert not errors, "\n".join(errors)

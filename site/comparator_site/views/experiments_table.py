"""Screen: the experiments table, after the Comparator's (gnueaj/Machine-Unlearning-Comparator at
commit 0e3ce99d, frontend/src/components/ModelScreening/Experiments/TableBody.tsx).

One row per setting of the current forget set (a model type, method and grid point; with several replicate
seeds, one row for all of them, its cells ``mean ± std`` from summary.arrow, sorted by the mean; with one
seed a setting is one run): a star for each method's chosen setting (runs.arrow's or summary.arrow's
``chosen``: the grid point closest to the retrained model on the validation split), ID, type badge,
method, epochs, batch size, lr, the colour-coded UA/RA/TUA/TRA/TA/RTE/PS/PS_challenge cells, MIA
efficacy and Avg. Gap, and the Model A / Model B radio columns. Sorting is the DataTable's own (click a
header); the method filter, the "Best of each method" checkbox (only the chosen runs, the original and
the retrained model) and the radio clicks are handled in ``js/table.js``. Every string from the tables is
escaped by the cell templates (``<%- %>``). Under the table, a note lists the methods not run on the
forget set (the metadata's ``refused``), with the reason. With the privacy audit (audit.arrow) four
more columns follow the metrics: U-LiRA's AUC and TPR at 1 % FPR, offline RMIA's AUC and the challenge's
forget quality F, one figure per setting (the attacks pooled over its replicates; F is the setting's).
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import (
    CheckboxGroup,
    ColumnDataSource,
    DataTable,
    HTMLTemplateFormatter,
    MultiChoice,
    TableColumn,
)

from .. import colors
from ..data import AUDIT_METRICS, AUDIT_RUN_FIELDS, RUN_METRICS, SiteData, hyperparameters_text
from . import export

TYPE_LABEL = {
    "original": "Original",
    "retrained": "Retrained",
    "unlearned": "Unlearned",
    "external": "External",
}
FULL_NAME = {
    "UA": "Unlearning Accuracy (train, forget set: mean over its classes; a random set: share of its images)",
    "RA": "Retain Accuracy (train, mean over the other classes)",
    "TUA": "Test Unlearning Accuracy (test, the forget set's classes; none for a random set)",
    "TRA": "Test Retain Accuracy (test, mean over the other classes)",
    "TA": "Testing Accuracy (SalUn / l1-sparse papers): share of the test images outside the forget classes "
    "classified correctly",
    "RTE": "Run time of the unlearning loop (s)",
    "PS": "The Comparator's Privacy Score: 1 − the worst attack score 1 − 2^−ε, by the Comparator's ε rule "
    "(the minimum of ln((1−δ−FPR)/FNR) and ln((1−δ−FNR)/FPR))",
    "PS_challenge": "Privacy Score by the NeurIPS 2023 unlearning challenge's ε rule (the maximum of the two "
    "terms; thresholds where only one of FPR, FNR is 0 discarded)",
    "MIA_efficacy": "MIA efficacy (SalUn convention): share of the forget set called non-member",
    "avg_gap": "Avg. Gap (SalUn / l1-sparse papers): mean |Δ| to the retrained model over UA, RA, TA and "
    "MIA efficacy",
    "ulira_auc": "U-LiRA (per-example likelihood-ratio attack with shadow models): ROC AUC of telling this "
    "setting's models' forget images from the retrained models', its replicates pooled; 0.5: like "
    "retraining, 1: always told apart",
    "ulira_tpr_1pct": "U-LiRA's true-positive rate at 1 % false-positive rate (0.01: chance)",
    "rmia_auc": "Offline RMIA (retrained reference models only): ROC AUC, as U-LiRA's; 0.5: like retraining",
    "forget_quality": "Forget quality F of the NeurIPS 2023 unlearning challenge, of the setting "
    "(per-example epsilons over the replicates' unlearned and retrained models); 1: indistinguishable "
    "from retraining",
}
HEADER = {
    "UA": "UA",
    "RA": "RA",
    "TUA": "TUA",
    "TRA": "TRA",
    "TA": "TA",
    "RTE": "RT",
    "PS": "PS",
    "PS_challenge": "PS ch.",
    "MIA_efficacy": "MIA",
    "avg_gap": "Avg. Gap",
    "ulira_auc": "U-LiRA AUC",
    "ulira_tpr_1pct": "TPR@1% FPR",
    "rmia_auc": "RMIA AUC",
    "forget_quality": "Forget quality",
}
STAR = "\u2605"  # marks a method's chosen setting
CHOSEN_HELP = (
    "\u2605: the method's chosen setting for this forget set, the grid point whose accuracies on the "
    "validation split (test images no reported number uses) are closest to the retrained model's"
)
BEST_LABEL = "Best of each method"
RELATIVE_SCALE = ("TRA", "TA")  # coloured from 0.8 up to the forget set's best value, as the original's TRA
UNCOLOURED = ("MIA_efficacy", "avg_gap", "ulira_auc", "ulira_tpr_1pct", "rmia_auc")
TABLE_FIELDS = (
    [
        "idx",
        "chosen",
        "chosen_txt",
        "chosen_tip",
        "id",
        "type",
        "type_label",
        "badge_bg",
        "badge_fg",
        "method_name",
        "epochs",
        "epochs_txt",
        "batch_size",
        "bs_txt",
        "lr",
        "lr_txt",
        "hp",
        "error",
        "tip",
    ]
    + [f"{m}{s}" for m in RUN_METRICS for s in ("", "_txt", "_bg", "_fg")]
    + ["a_state", "b_state"]
)


def metrics_of(data: SiteData) -> tuple[str, ...]:
    """The table's metric columns: the runs metrics, and the audit's when the tables have it."""
    return RUN_METRICS + (AUDIT_METRICS if data.audit is not None else ())


def table_fields(data: SiteData) -> list[str]:
    """The fields of the table's source (``TABLE_FIELDS``, plus the audit columns' when there are some)."""
    extra = [f"{m}{s}" for m in metrics_of(data)[len(RUN_METRICS) :] for s in ("", "_txt", "_bg", "_fg")]
    return TABLE_FIELDS[:-2] + extra + TABLE_FIELDS[-2:]


def _fmt(v: float, key: str) -> str:
    if not math.isfinite(v):
        return "-"
    return f"{v:.1f}" if key == "RTE" else f"{v:.3f}"


def _fmt_spread(v: float, sd: Any, key: str) -> str:
    """``mean ± std`` (a plain value without a spread: one replicate, or one ok)."""
    if sd is None or not math.isfinite(v) or not math.isfinite(float(sd)):
        return _fmt(v, key)
    return f"{_fmt(v, key)} \u00b1 {_fmt(float(sd), key)}"


def _cell(key: str, v: float, column_max: float) -> tuple[str, str]:
    """(background, text colour) of a metric cell, on the original's scales (TableBody.tsx, see above).

    ``column_max`` is the forget set's largest value of a RELATIVE_SCALE column.

    The text colour follows the background's luminance rather than the original's fixed value thresholds,
    which put white text on the lightest shade when, say, every TRA is below 0.8.
    """
    if not math.isfinite(v):
        return "transparent", "#111827"
    if key in ("UA", "TUA"):
        background = colors.cell(colors.GREENS, (0.2 - v) / 0.2)
    elif key == "RA":
        background = colors.cell(colors.GREENS, (v - 0.8) / 0.2)
    elif key in RELATIVE_SCALE:
        background = colors.cell(colors.GREENS, (v - 0.8) / max(column_max - 0.8, 1e-9))
    elif key == "RTE":
        background = colors.cell(colors.BLUES, (160 - v) / 160)
    elif key in ("PS", "PS_challenge", "forget_quality"):  # privacy figures in 0 … 1, 1 best
        background = colors.cell(colors.ORANGES, v)
    else:
        return "transparent", "#111827"
    return background, colors.text_on(background)


def _chosen_tip(r: dict[str, Any]) -> str:
    """The star cell's tooltip: why the run (or setting) is (or is not) its method's chosen setting."""
    gap = r.get("val_gap")
    what = "validation gap" if r.get("n", 1) <= 1 else f"mean validation gap over {r['n']} seeds"
    gap_text = f"{what} {gap:.4f}" if gap is not None and math.isfinite(gap) else ""
    if r.get("chosen"):
        return f"Chosen: the grid point of its method closest to the retrained model ({gap_text})"
    return gap_text[:1].upper() + gap_text[1:]


def _replicates_text(r: dict[str, Any]) -> str:
    n, n_ok = r.get("n", 1), r.get("n_ok", 1)
    if n <= 1:
        return ""
    failed = f", {n - n_ok} failed" if n_ok < n else ""
    return f"{n} replicate seeds{failed}; cells: mean \u00b1 sample std over the ok ones\n"


def _table_columns(rows: list[dict[str, Any]], metrics: tuple[str, ...] = RUN_METRICS) -> dict[str, Any]:
    """The table's display fields of runs or settings (a setting with several replicates shows
    ``mean ± std``) for ``metrics``, with each row's forget set position ``fs``."""
    column_max: dict[tuple[str, str], float] = {}  # (column, forget set) -> largest value
    for r in rows:
        for key in RELATIVE_SCALE:
            v = r.get(key)
            if v is not None and math.isfinite(v):
                column_max[key, r["forget_set"]] = max(column_max.get((key, r["forget_set"]), 0.0), v)
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "id",
            "chosen",
            "chosen_txt",
            "chosen_tip",
            "type",
            "type_label",
            "badge_bg",
            "badge_fg",
            "ok",
            "method",
            "method_name",
            "epochs_txt",
            "bs_txt",
            "lr_txt",
            "hp",
            "error",
            "label",
            "tip",
        )
    }
    num: dict[str, list[float]] = {"epochs": [], "batch_size": [], "lr": []}
    for m in metrics:
        num[m] = []
        cols[f"{m}_txt"], cols[f"{m}_bg"], cols[f"{m}_fg"] = [], [], []
    for r in rows:
        failed = r["status"] != "ok"
        kind = r["type"]
        label = TYPE_LABEL.get(kind, str(kind).title())
        cols["id"].append(str(r["run_id"]))
        chosen = bool(r.get("chosen"))  # null (tables without a validation split): not chosen
        cols["chosen"].append(1 if chosen else 0)
        cols["chosen_txt"].append(STAR if chosen else "")
        cols["chosen_tip"].append(_chosen_tip(r))
        cols["type"].append(str(kind))
        cols["type_label"].append("Failed" if failed else label)
        bg, fg = (
            colors.TYPE_BADGE["failed" if failed else kind]
            if (failed or kind in colors.TYPE_BADGE)
            else ("#9CA3AF", "#fff")
        )
        cols["badge_bg"].append(bg)
        cols["badge_fg"].append(fg)
        cols["ok"].append(0 if failed else 1)
        cols["method"].append(str(r.get("method") or ""))
        name = r.get("method_name") or r.get("method") or ("-" if kind in ("original", "retrained") else "")
        cols["method_name"].append(str(name))
        for key, txt, fmt in (
            ("epochs", "epochs_txt", "{:d}"),
            ("batch_size", "bs_txt", "{:d}"),
            ("lr", "lr_txt", "{:g}"),
        ):
            v = r.get(key)
            num[key].append(float("nan") if v is None else float(v))
            cols[txt].append("-" if v is None else fmt.format(v))
        hp = hyperparameters_text(r)
        cols["hp"].append(hp)
        err = str(r.get("error") or "") if failed else ""
        cols["error"].append(err)
        cols["label"].append(f"{label}{' (failed)' if failed else ''}, {r['run_id']}")
        note = f"\naudit: {r['audit_note']}" if r.get("audit_note") else ""
        cols["tip"].append((("failed: " + err) if failed else _replicates_text(r) + hp) + note)
        for m in metrics:
            v = r.get(m)
            v = float("nan") if v is None or failed else float(v)
            num[m].append(v)
            cols[f"{m}_txt"].append(_fmt_spread(v, r.get(f"{m}_std"), m))
            bgc, fgc = _cell(m, v, column_max.get((m, r["forget_set"]), 1.0))
            cols[f"{m}_bg"].append(bgc)
            cols[f"{m}_fg"].append(fgc)
    out: dict[str, Any] = {k: v for k, v in cols.items()}
    out["ok"] = np.asarray(cols["ok"], dtype=np.int8)
    out["chosen"] = np.asarray(cols["chosen"], dtype=np.int8)
    out["fs"] = np.asarray([r["fs"] for r in rows], dtype=np.int32)
    for k, v in num.items():
        out[k] = np.asarray(v, dtype=np.float64)
    return out


def runs_columns(data: SiteData) -> dict[str, Any]:
    """The runs store: one row per run (all forget sets and seeds), with its display fields, its forget
    class (``fc``, -1 for sets of other kinds), setting (row of the settings store) and seed position."""
    out = _table_columns(data.runs, metrics_of(data))
    if data.audit is not None:  # what the audit figure's caption shows besides the table's columns
        extra = [m for m in AUDIT_RUN_FIELDS if m not in AUDIT_METRICS]
        for m in extra:
            out[m] = np.asarray(
                [np.nan if r.get(m) is None or r["status"] != "ok" else r[m] for r in data.runs], np.float64
            )
        out["audit_note"] = [str(r.get("audit_note") or "") for r in data.runs]
    out["fc"] = np.asarray(
        [-1 if r["forget_class"] is None else r["forget_class"] for r in data.runs], np.int32
    )
    out["setting"] = np.asarray([r["setting"] for r in data.runs], dtype=np.int32)
    out["seed_pos"] = np.asarray([r["seed_pos"] for r in data.runs], dtype=np.int32)
    return out


def settings_columns(data: SiteData) -> dict[str, Any]:
    """The settings store (the experiments table's rows): one row per (forget set, setting) with its
    display fields, its replicate count ``n``, and per seed position i its run row ``run<i>`` (-1: none)."""
    out = _table_columns(data.settings, metrics_of(data))
    out["n"] = np.asarray([s["n"] for s in data.settings], dtype=np.int32)
    if len(data.seeds) > 1:  # the spreads' raw numbers, for the CSV export (js/export.js)
        for m in metrics_of(data):
            out[f"{m}_std"] = np.asarray(
                [
                    np.nan if s.get(f"{m}_std") is None or s["status"] != "ok" else s[f"{m}_std"]
                    for s in data.settings
                ],
                np.float64,
            )
    for i in range(len(data.seeds)):
        out[f"run{i}"] = np.full(len(data.settings), -1, dtype=np.int32)
    for k, s in enumerate(data.settings):
        for run in s["rows"]:
            out[f"run{data.runs[run]['seed_pos']}"][k] = run
    return out


def _tmpl(text: str) -> HTMLTemplateFormatter:
    return HTMLTemplateFormatter(template=text)


def _metric_template(m: str, coloured: bool) -> str:
    """A metric cell: its value, or ``mean ± std`` on two lines (the spread smaller, under the mean), so
    that the table fits a 1280 px window (issue 13)."""
    style = f"background:<%= {m}_bg %>;color:<%= {m}_fg %>" if coloured else ""
    parts = f'String({m}_txt).split(" \u00b1 ")'
    return (
        f'<div class="uc-cell" style="{style}"><%- {parts}[0] %>'
        f'<% if ({parts}.length > 1) {{ %><span class="uc-sd">\u00b1 <%- {parts}[1] %></span><% }} %></div>'
    )


def legend_html() -> str:
    def bar(title: str, scheme: list[str], lo: str, hi: str) -> str:
        return (
            f'<span class="uc-legend-item"><b>{title}</b> <span class="uc-tick">{lo}</span>'
            f'<span class="uc-ramp" style="background:{colors.gradient_css(scheme)}"></span>'
            f'<span class="uc-tick">{hi}</span></span>'
        )

    return (
        '<div class="uc-legend">'
        + bar("Accuracy", colors.GREENS, "Worst", "Best")
        + bar("Efficiency", colors.BLUES, "Slow", "Fast")
        + bar("Privacy", colors.ORANGES, "0", "1")
        + "</div>"
    )


def build(page) -> Any:
    data: SiteData = page.data
    empty = {k: [] for k in table_fields(data)}
    src = ColumnDataSource(empty)
    cols = [
        TableColumn(
            field="chosen",
            title=f'<span title="{html.escape(CHOSEN_HELP)}">{STAR}</span>',
            width=20,
            formatter=_tmpl('<span class="uc-star" title="<%- chosen_tip %>"><%- chosen_txt %></span>'),
        ),
        TableColumn(
            field="id",
            title='<span title="Run id (hover it for the hyperparameters)">ID</span>',
            width=122,
            formatter=_tmpl('<span class="uc-id" title="<%- tip %>"><%- id %></span>'),
        ),
        TableColumn(  # the run's data: its line of runs.arrow as JSON (js/export.js)
            field="idx",
            title='<span title="The run (at the shown seed) as JSON">Data</span>',
            width=34,
            sortable=False,
            formatter=_tmpl(
                '<span class="uc-json" data-json="<%= idx %>" title="Download the run as JSON">{}</span>'
            ),
        ),
        TableColumn(
            field="type",
            title="Type",
            width=72,
            formatter=_tmpl(
                '<span class="uc-badge" style="background:<%= badge_bg %>;color:<%= badge_fg %>" '
                'title="<%- error %>"><%- type_label %></span>'
            ),
        ),
        TableColumn(
            field="method_name",
            title="Method",
            width=90,
            formatter=_tmpl('<span class="uc-method" title="<%- tip %>"><%- method_name %></span>'),
        ),
        TableColumn(
            field="epochs",
            title='<span title="Epochs">Epoch</span>',
            width=40,
            formatter=_tmpl('<div class="uc-num"><%- epochs_txt %></div>'),
        ),
        TableColumn(
            field="batch_size",
            title='<span title="Batch Size">BS</span>',
            width=34,
            formatter=_tmpl('<div class="uc-num"><%- bs_txt %></div>'),
        ),
        TableColumn(
            field="lr",
            title='<span title="Learning Rate">LR</span>',
            width=44,
            formatter=_tmpl('<div class="uc-num"><%- lr_txt %></div>'),
        ),
    ]
    spread = len(data.seeds) > 1  # cells show "mean ± std" on two lines
    for m in metrics_of(data):
        audit = m in AUDIT_METRICS  # longer headers
        cols.append(
            TableColumn(
                field=m,
                title=f'<span title="{html.escape(FULL_NAME[m])}">{HEADER[m]}</span>',
                # headers wrap (widgets.css): the table fits the left column (page.py LEFT_WIDTH)
                width=(54 if audit else 46) if spread else (60 if audit else 54),
                formatter=_tmpl(_metric_template(m, m not in UNCOLOURED)),
            )
        )
    for ab in ("a", "b"):
        cols.append(
            TableColumn(
                field="idx",
                title=f'<span class="uc-ab-head uc-{ab}">Model {ab.upper()}</span>',
                width=44,
                sortable=False,
                # a radio for the keyboard and screen readers too: named, its state in aria-checked and
                # aria-disabled, one tab stop per column (the checked one; js/a11y.js keeps one)
                formatter=_tmpl(
                    f'<span class="uc-radio uc-{ab} <%= {ab}_state %>" role="radio" '
                    f"tabindex=\"<%= {ab}_state == 'on' ? 0 : -1 %>\" "
                    f"aria-checked=\"<%= {ab}_state == 'on' %>\" "
                    f"aria-disabled=\"<%= {ab}_state == 'disabled' %>\" "
                    f'aria-label="Model {ab.upper()}: <%- id %>" '
                    f'data-ab="{ab.upper()}" data-run="<%= idx %>"></span>'
                ),
            )
        )
    table = DataTable(
        source=src,
        columns=cols,
        width=1240,
        height=232,
        row_height=30 if spread else 26,
        index_position=None,
        sortable=True,
        reorderable=False,
        selectable=False,
        autosize_mode="none",
        stylesheets=[page.widget_css],
        css_classes=["uc-table"],
    )
    methods = data.methods
    # MultiChoice (Choices.js) renders labels as HTML: escape them, and use opaque values
    options = [(str(k), html.escape(name)) for k, (_mid, name) in enumerate(methods)]
    flt = MultiChoice(
        options=options,
        value=[],
        placeholder="Filter by method (all)",
        width=300,
        stylesheets=[page.widget_css],
    )
    page.on_change(flt, "value")
    # A native checkbox inside its <label> (a CheckboxGroup of one: Bokeh's Checkbox puts its text in a
    # <div> the input is not labelled by): focusable with Tab, toggled with Space or a click on the text.
    # Disabled when no run is chosen (tables converted from upstream files have no validation split).
    any_chosen = any(r.get("chosen") for r in data.runs)
    best = CheckboxGroup(
        labels=[BEST_LABEL],
        active=[],
        disabled=not any_chosen,
        width=170,
        stylesheets=[page.widget_css],
        css_classes=["uc-best"],
        html_attributes={
            "title": CHOSEN_HELP + "; shows those, the original and the retrained model"
            if any_chosen
            else "No run is marked as its method's chosen setting in these tables"
        },
    )
    page.on_change(best, "active")
    # methods not run on the current forget set, with the reason (set by js/table.js, escaped there)
    note = page.div(text="", width=800, css_classes=["uc-note"])
    # the filter's values are indexes into method_ids
    page.provide(
        "tbl",
        {
            "src": src,
            "table": table,
            "filter": flt,
            "best": best,
            "note": note,
            "method_ids": [mid for mid, _ in methods],
        },
    )
    title = page.div(text='<div class="uc-section">Model Screening</div>', width=190)
    legend = page.div(text=legend_html(), width=520)
    wrap = dict(sizing_mode="stretch_width", stylesheets=[page.wrap_css])  # narrow windows: wrap
    return column(
        row(title, legend, best, flt, **wrap),
        table,
        row(export.build(page), note, spacing=8, **wrap),
        spacing=2,
        sizing_mode="stretch_width",
    )

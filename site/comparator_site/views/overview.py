"""Overview: the whole field of the current forget set, in four tabs above the two-model views.

* **Trade-off**: every ok setting of the forget set (a row of the experiments table: mean over its
  replicate seeds) in two linked scatter panels. Left: the forgetting gap ``|UA − UA_r|`` against the utility
  gap ``(|RA − RA_r| + |TA − TA_r|) / 2``, ``_r`` the forget set's retrained model (the gaps of the SalUn
  paper's Avg. Gap, Fan et al., ICLR 2024, split into forgetting and utility). Right: privacy (the
  audit's pooled U-LiRA AUC, Hayes et al., "Inexact unlearning needs more careful evaluations", 2024, when
  the tables have the audit; else ``|PS − PS_r|``) against cost (RTE, seconds; a log axis when the
  experiment's run times span more than 10×). The Pareto front (minimise both) of the unlearned settings
  is drawn on both panels; the original and the retrained model are drawn distinctly and labelled.
  Error bars: ± the sample std of the setting's metric over its replicate seeds (the retrained model's
  mean taken as the reference, so a gap's spread is its metric's). Colour by method (js/util.js
  ``category_color``) and a marker per method. A click on a point sets Model B (or A: the "Click sets"
  toggle); a box-select (the brush) filters the experiments table to the brushed settings and the
  references. The brush is ``ov_src.selected.indices`` (benchmarks set it).
* **Best of each method**: per method its chosen setting (★), or the best by a metric, as mean ± std.
* **Sensitivity**: one method's metrics against each hyperparameter that varies in its grid (SVG small
  multiples drawn by js/overview.js), the retrained model's value as a reference line.
* **Across forget sets**: methods × forget sets, the chosen setting's value (or gap to the set's
  retrained model), coloured by value.

The static figures are built here (:func:`setting_facts`: gaps, Pareto flags, hyperparameter values per
setting, in ``ov.facts``, a store that is never plotted); the drawing is js/overview.js.
"""

from __future__ import annotations

import json
import math
from importlib import resources as ir
from typing import Any

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import (
    BoxSelectTool,
    Button,
    ColumnDataSource,
    CustomJSTickFormatter,
    Div,
    HoverTool,
    InlineStyleSheet,
    LabelSet,
    RadioButtonGroup,
    Select,
    TabPanel,
    Tabs,
)
from bokeh.plotting import figure

from .. import colors
from ..data import SiteData

WIDTH = 1240  # the overview fits a 1280-px window
PLOT_W, PLOT_H = 440, 330
BASE_KEYS = ("epochs", "lr", "batch_size")  # the table's own hyperparameter columns
SKIP_KEYS = {"seed"}  # a replicate's seed is not a grid dimension
MARKERS = ("circle", "square", "triangle", "diamond", "inverted_triangle", "hex", "star", "plus")
REFERENCE_STYLE = {"original": ("square_pin", "#111827"), "retrained": ("diamond", colors.RETRAINED)}
PLOT_SOURCE_FIELDS = [
    "k", "x1", "y1", "x2", "y2", "x1lo", "x1hi", "y1lo", "y1hi", "x2lo", "x2hi", "y2lo", "y2hi",
    "color", "marker", "size", "line", "lab", "al1", "dx1", "al2", "dx2",
]  # fmt: skip
# js/overview.js OV_BEST knows each one's direction
BEST_BY = (
    ("avg_gap", "Avg. Gap (lowest)"),
    ("ugap", "UA gap (lowest)"),
    ("util", "utility gap (lowest)"),
    ("RA", "RA (highest)"),
    ("TA", "TA (highest)"),
    ("PS", "PS (highest)"),
    ("RTE", "run time (lowest)"),
    ("ulira_auc", "U-LiRA AUC (closest to 0.5)"),
)
ACROSS = (
    ("UA", "UA"),
    ("RA", "RA"),
    ("TA", "TA"),
    ("PS", "PS"),
    ("RTE", "Run time"),
    ("avg_gap", "Avg. Gap"),
    ("ulira_auc", "U-LiRA AUC"),
)
OV_CSS = """
.ov-note { font-size: 11px; color: #374151; }
.ov-tbl { border-collapse: collapse; font-size: 11px; }
.ov-tbl th, .ov-tbl td { padding: 2px 5px; border-bottom: 1px solid #E5E7EB; text-align: right;
  white-space: nowrap; }
.ov-tbl th:first-child, .ov-tbl td:first-child { text-align: left; }
.ov-tbl .ov-sd { display: block; font-size: 9px; color: #6B7280; }
.ov-tbl td.ov-id { white-space: normal; overflow-wrap: anywhere; min-width: 120px; max-width: 230px;
  text-align: left; }
.ov-tbl tr.ov-row { cursor: pointer; }
.ov-tbl tr.ov-row:hover td { background: #F3F4F6; }
.ov-tbl tr.ov-a td:first-child { box-shadow: inset 4px 0 0 var(--uc-a, #10B981); }
.ov-tbl tr.ov-b td:first-child { box-shadow: inset 4px 0 0 var(--uc-b, #A855F7); }
.ov-scroll { max-height: 330px; overflow: auto; }
.ov-sw { display: inline-block; width: 9px; height: 9px; border-radius: 2px; margin-right: 4px; }
.ov-grid { display: flex; flex-wrap: wrap; gap: 4px; max-height: 320px; overflow-y: auto; }
.ov-grid svg { background: #fff; border: 1px solid #E5E7EB; }
.ov-legend { display: flex; flex-wrap: wrap; gap: 2px 10px; font-size: 11px; }
"""


def _num(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f if math.isfinite(f) else math.nan


def hyperparameters(setting: dict[str, Any]) -> dict[str, float]:
    """A setting's numeric hyperparameters: epochs, lr, batch size and its hyperparameter JSON's numbers
    (booleans and strings dropped, as is the replicate seed)."""
    out = {k: _num(setting.get(k)) for k in BASE_KEYS}
    raw = setting.get("hyperparameters")
    try:
        hp = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        hp = {}
    if isinstance(hp, dict):
        for key, v in hp.items():
            if key in SKIP_KEYS or key in out or isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            out[str(key)] = _num(v)
    return {k: v for k, v in out.items() if not math.isnan(v)}


def pareto_front(xs: list[float], ys: list[float]) -> list[bool]:
    """Which points are on the Pareto front when both coordinates are minimised: no other point is at
    least as good in both and better in one. Ties (equal points) are all on it; NaN points never."""
    pts = [(x, y) for x, y in zip(xs, ys)]
    finite = [math.isfinite(x) and math.isfinite(y) for x, y in pts]
    out = []
    for i, (x, y) in enumerate(pts):
        out.append(
            finite[i]
            and not any(
                finite[j] and qx <= x and qy <= y and (qx < x or qy < y)
                for j, (qx, qy) in enumerate(pts)
                if j != i
            )
        )
    return out


def _std(s: dict[str, Any], m: str) -> float:
    return _num(s.get(f"{m}_std"))


def setting_facts(data: SiteData) -> dict[str, Any]:
    """Per setting (rows of the settings store): the plotted figures and their spreads, the Pareto flags of
    each panel (``f1``, ``f2``, among the forget set's ok unlearned and external settings), the method's
    position in :func:`methods` (``mi``, -1 for the references) and ``h_<key>`` per hyperparameter."""
    audited = data.audit is not None
    settings = data.settings
    retrained = {
        s["fs"]: s for s in settings if s["type"] == "retrained" and s["status"] == "ok"
    }  # per forget set
    method_pos = {mid: i for i, (mid, _name) in enumerate(data.methods)}
    hps = [hyperparameters(s) for s in settings]
    keys = sorted(
        {k for h in hps for k in h},
        key=lambda k: (k not in BASE_KEYS, BASE_KEYS.index(k) if k in BASE_KEYS else 0, k),
    )
    cols: dict[str, list[float]] = {
        k: [] for k in ("ugap", "ugap_sd", "util", "util_sd", "priv", "priv_sd", "cost", "cost_sd")
    }
    for s in settings:
        r = retrained.get(s["fs"])
        ok = s["status"] == "ok"

        def val(m: str, s: dict[str, Any] = s, ok: bool = ok) -> float:
            return _num(s.get(m)) if ok else math.nan

        def gap(m: str, s: dict[str, Any] = s, r: dict[str, Any] | None = r) -> float:
            return abs(val(m) - _num(r.get(m))) if r is not None else math.nan

        cols["ugap"].append(gap("UA"))
        cols["ugap_sd"].append(_std(s, "UA"))
        cols["util"].append((gap("RA") + gap("TA")) / 2)
        cols["util_sd"].append((_std(s, "RA") + _std(s, "TA")) / 2)
        cols["priv"].append(val("ulira_auc") if audited else gap("PS"))
        cols["priv_sd"].append(_std(s, "ulira_auc" if audited else "PS"))
        cols["cost"].append(val("RTE"))
        cols["cost_sd"].append(_std(s, "RTE"))
    n = len(settings)
    f1, f2 = np.zeros(n, np.int8), np.zeros(n, np.int8)
    for fs in range(len(data.sets)):
        rows = [
            k
            for k, s in enumerate(settings)
            if s["fs"] == fs and s["status"] == "ok" and s["type"] not in REFERENCE_STYLE
        ]
        for flags, xk, yk in ((f1, "ugap", "util"), (f2, "priv", "cost")):
            front = pareto_front([cols[xk][k] for k in rows], [cols[yk][k] for k in rows])
            for k, on in zip(rows, front):
                flags[k] = 1 if on else 0
    out: dict[str, Any] = {k: np.asarray(v, np.float64) for k, v in cols.items()}
    out["f1"], out["f2"] = f1, f2
    out["mi"] = np.asarray([method_pos.get(s.get("method") or "", -1) for s in settings], np.int32)
    for key in keys:
        out[f"h_{key}"] = np.asarray([h.get(key, math.nan) for h in hps], np.float64)
    return out


def sensitivity_axes(settings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The hyperparameters that vary among ``settings`` (one method's ok settings of a forget set), in the
    order epochs, lr, batch size, then the method's own by name; ``log`` for the learning rate and for a
    positive hyperparameter spanning 100× or more."""
    values: dict[str, set[float]] = {}
    for s in settings:
        for k, v in hyperparameters(s).items():
            values.setdefault(k, set()).add(v)
    order = [k for k in BASE_KEYS if k in values] + sorted(k for k in values if k not in BASE_KEYS)
    out = []
    for k in order:
        vs = values[k]
        if len(vs) < 2:
            continue
        positive = min(vs) > 0
        log = positive and (k == "lr" or max(vs) / min(vs) >= 100)
        out.append({"key": k, "log": bool(log)})
    return out


def info(data: SiteData) -> dict[str, Any]:
    """The overview's static facts for js/overview.js: the methods, the sensitivity axes per forget set and
    method id, whether the cost axis is logarithmic, and the privacy axis' label."""
    ms = data.methods
    axes = []
    for fs in range(len(data.sets)):
        per = {}
        for mid, _ in ms:
            mine = [
                s for s in data.settings if s["fs"] == fs and s.get("method") == mid and s["status"] == "ok"
            ]
            if mine:
                per[mid] = {"axes": sensitivity_axes(mine), "n": len(mine)}
        axes.append(per)
    return {
        "methods": [mid for mid, _ in ms],
        "names": [name for _, name in ms],
        "markers": list(MARKERS),
        "axes": axes,
        "log_cost": cost_is_log(data),
        "audit": data.audit is not None,
    }


def cost_is_log(data: SiteData) -> bool:
    rte = [
        _num(s.get("RTE")) for s in data.settings if s["status"] == "ok" and s["type"] not in REFERENCE_STYLE
    ]
    rte = [v for v in rte if math.isfinite(v) and v > 0]
    return bool(rte) and max(rte) / min(rte) > 10


def _div(page, css: InlineStyleSheet, text: str = "", **kw: Any) -> Div:
    """A Div with the page's and the overview's stylesheets; ``text`` must already be escaped HTML."""
    return Div(text=text, stylesheets=[page.widget_css, css], disable_math=True, **kw)


def _scatter(title: str, log_y: bool) -> Any:
    """One panel (named by its path, ov.fig1 / ov.fig2, when provided)."""
    p = figure(
        width=PLOT_W,
        height=PLOT_H,
        y_axis_type="log" if log_y else "linear",
        tools="",
        toolbar_location="right",
        title=title,
        min_border_left=40,
    )
    p.title.text_font_size = "12px"
    p.xaxis.axis_label_text_font_size = p.yaxis.axis_label_text_font_size = "10px"
    p.xaxis.axis_label_text_font_style = p.yaxis.axis_label_text_font_style = "normal"
    return p


def build(page) -> Tabs:
    data: SiteData = page.data
    audited = data.audit is not None
    css = InlineStyleSheet(css=OV_CSS)
    facts = ColumnDataSource(setting_facts(data))
    src = ColumnDataSource({k: [] for k in PLOT_SOURCE_FIELDS})
    front = ColumnDataSource({"x1": [], "y1": [], "x2": [], "y2": []})
    rings = ColumnDataSource({"x1": [], "y1": [], "x2": [], "y2": [], "color": []})
    log_cost = cost_is_log(data)
    left = _scatter("Forgetting vs. utility (lower-left is better)", False)
    left.xaxis.axis_label = "Forgetting gap |UA − UA retrained|"
    left.yaxis.axis_label = "Utility gap: mean of |RA − RA r.|, |TA − TA r.|"
    # tick labels of one width (gaps lie in [0, 1]): an axis that changes width with the forget set's range
    # makes BokehJS lay out the whole document again (~30 ms on a forget-set switch)
    # (a negative tick of the padded range is left blank: its minus sign would widen the axis)
    left.yaxis.formatter = CustomJSTickFormatter(
        code=ir.files("comparator_site").joinpath("js", "tick_gap.js").read_text(encoding="utf-8")
    )
    right = _scatter("Privacy vs. cost (lower-left is better)", log_cost)
    right.xaxis.axis_label = (
        "U-LiRA AUC (pooled; 0.5: like retraining)" if audited else "Privacy gap |PS − PS r.|"
    )
    right.yaxis.axis_label = "Cost: run time (s" + (", log)" if log_cost else ")")
    hovers = []
    for fig, (x, y) in ((left, ("x1", "y1")), (right, ("x2", "y2"))):
        # error bars: ± std over seeds (empty columns with one seed)
        fig.segment(f"{x}lo", y, f"{x}hi", y, source=src, line_color="#9CA3AF", line_width=1)
        fig.segment(x, f"{y}lo", x, f"{y}hi", source=src, line_color="#9CA3AF", line_width=1)
        fig.line(x, y, source=front, line_color="#111827", line_dash="dashed", line_width=1.5, alpha=0.7)
        fig.scatter(x, y, source=rings, size=20, fill_alpha=0, line_color="color", line_width=3)
        pts = fig.scatter(
            x,
            y,
            source=src,
            marker="marker",
            size="size",
            fill_color="color",
            line_color="line",
            fill_alpha=0.8,
            nonselection_fill_alpha=0.15,
            nonselection_line_alpha=0.3,
            selection_fill_alpha=0.95,
        )
        fig.add_layout(
            LabelSet(  # beside the point, towards the panel's middle (js/overview.js), never past its edge
                x=x,
                y=y,
                text="lab",
                source=src,
                x_offset=f"dx{x[1]}",
                text_align=f"al{x[1]}",
                text_baseline="middle",
                text_font_size="10px",
                text_color="#374151",
            )
        )
        fig.add_tools(BoxSelectTool(renderers=[pts], persistent=True))
        hover = HoverTool(renderers=[pts], tooltips=None, callback=page.app)
        fig.add_tools(hover)
        hovers.append(hover)
        page.on_event(fig, "tap", "mouseleave")
        fig.toolbar.logo = None
    page.name("ov_hover1", hovers[0])
    page.name("ov_hover2", hovers[1])
    brush = page.name("ov_brush", src.selected)
    page.on_change(brush, "indices")
    click = RadioButtonGroup(labels=["A", "B"], active=1, width=70, height=26, stylesheets=[page.widget_css])
    page.on_change(click, "active")
    clear = page.name(
        "ov_clear", Button(label="Clear brush", width=110, height=26, stylesheets=[page.widget_css])
    )
    page.on_event(clear, "button_click")
    side_note = _div(page, css, text="", width=WIDTH - 2 * PLOT_W - 30, css_classes=["ov"])
    side = column(
        row(page.div('<span class="uc-small">Click sets:</span>', width=70), click, spacing=4),
        clear,
        side_note,
        spacing=6,
    )
    trade = row(left, right, side, spacing=8)

    best_by = Select(
        title="Row per method",
        options=[("chosen", "Chosen setting (\u2605)")]
        + [(k, f"Best by {name}") for k, name in BEST_BY if audited or k != "ulira_auc"],
        value="chosen",
        width=240,
        stylesheets=[page.widget_css],
    )
    page.on_change(best_by, "value")
    best_div = _div(page, css, text="", width=WIDTH - 260)
    best = row(
        column(
            best_by,
            page.div(
                '<span class="uc-small">Click a row to set the model chosen by '
                '"Click sets" (Trade-off tab).</span>',
                width=240,
            ),
        ),
        best_div,
        spacing=12,
    )

    ms = data.methods
    sens_method = Select(
        title="Method",
        options=[(mid, name) for mid, name in ms] or [("", "(no methods)")],
        value=ms[0][0] if ms else "",
        width=220,
        stylesheets=[page.widget_css],
    )
    page.on_change(sens_method, "value")
    sens_div = _div(page, css, text="", width=WIDTH - 240)
    sens = row(sens_method, sens_div, spacing=12)

    across_metric = Select(
        title="Metric",
        options=[(k, name) for k, name in ACROSS if audited or k != "ulira_auc"],
        value="UA",
        width=200,
        stylesheets=[page.widget_css],
    )
    across_mode = RadioButtonGroup(
        labels=["Gap to retrained", "Raw"], active=0, width=200, height=26, stylesheets=[page.widget_css]
    )
    page.on_change(across_metric, "value")
    page.on_change(across_mode, "active")
    across_div = _div(page, css, text="", width=WIDTH - 230)
    across = row(column(across_metric, across_mode, spacing=6), across_div, spacing=12)

    tabs = Tabs(
        tabs=[
            TabPanel(child=trade, title="Trade-off"),
            TabPanel(child=best, title="Best of each method"),
            TabPanel(child=sens, title="Sensitivity"),
            TabPanel(child=across, title="Across forget sets"),
        ],
        width=WIDTH,
        height=400,
        stylesheets=[page.widget_css],
        css_classes=["uc-tabs"],
    )
    page.on_change(tabs, "active")
    page.provide(
        "ov",
        {
            "tabs": tabs,
            "facts": facts,
            "src": src,
            "front": front,
            "rings": rings,
            "fig1": left,
            "fig2": right,
            "note": side_note,
            "click": click,
            "best_by": best_by,
            "best": best_div,
            "sens_method": sens_method,
            "sens": sens_div,
            "across_metric": across_metric,
            "across_mode": across_mode,
            "across": across_div,
            "info": json.dumps(info(data)),
        },
    )
    return tabs

"""Attack simulation: A and B each against the retrained model of the forget set (of the model's own replicate
seed), after the original's (gnueaj/Machine-Unlearning-Comparator at commit 0e3ce99d,
frontend/src/views/Core/PrivacyAttack.tsx and
frontend/src/components/Core/PrivacyAttack/AttackPlot.tsx, AttackAnalytics.tsx, AttackSuccessFailure.tsx).

Per panel: the butterfly of per-instance values (retrained samples left in grey, the model's right in
its colour, stacked dots binned by 0.05 entropy / 0.25 confidence), the attack score / FPR / FNR
curves against the threshold (sharing the value axis), the privacy score at the threshold, and the
success / failure thumbnail grids. The metric, the strategy (custom, max attack score, max success
rate, common threshold), the worst-case buttons and the custom threshold (slider, or click / drag on
either chart) are shared. All computation is in ``js/attack.js``. With the privacy audit (audit.arrow), the
per-example audit figure follows the panels and a select orders the grids (views/audit.py, js/audit.js).
"""

from __future__ import annotations

from importlib import resources as ir
from typing import Any

from bokeh.layouts import column, row
from bokeh.models import (
    BoxAnnotation,
    Button,
    CheckboxGroup,
    ColumnDataSource,
    CustomJSTickFormatter,
    HoverTool,
    Label,
    RadioButtonGroup,
    Range1d,
    Select,
    Slider,
    Span,
    WheelPanTool,
)
from bokeh.plotting import figure

from .. import colors
from . import audit

DOT_FIELDS = ["x", "y", "color", "key", "inst"]
CURVE_FIELDS = ["thr", "score", "fpr", "fnr"]
STRATEGIES = ["Custom Threshold", "Max Attack Score", "Max Success Rate", "Common Threshold"]
SIZES = ["12", "16", "20", "24", "28", "42"]
# the original's curve colours: Tableau 10 red, blue and green (frontend/src/constants/privacyAttack.ts)
ATTACK_SCORE, FPR, FNR = "#E15759", "#4E79A7", "#59A14F"
# dots: packed RGBA (uint32, alpha included), decoded by BokehJS without parsing CSS strings


def dots_legend() -> str:
    """The four colour classes of the butterfly's dots (origin × predicted side)."""

    def dot(colour: str, alpha: float) -> str:
        return f'<i class="uc-dot" style="background:{colour};opacity:{alpha}"></i>'

    items = [
        (dot(colors.RETRAINED_LIGHT, 0.45), "From Retrained / Pred. Retrained"),
        (dot(colors.MODEL_A_LIGHT, 0.45) + dot(colors.MODEL_B_LIGHT, 0.45), "From Model / Pred. Retrained"),
        (dot(colors.RETRAINED, 1), "From Retrained / Pred. Model"),
        (dot(colors.MODEL_A, 1) + dot(colors.MODEL_B, 1), "From Model / Pred. Model"),
    ]
    return (
        '<div class="uc-legend">'
        + "".join(f'<span class="uc-legend-item">{d} {t}</span>' for d, t in items)
        + '<span class="uc-small">Dots on the side the attack calls “model” are opaque.</span></div>'
    )


def curve_legend() -> str:
    return (
        '<div class="uc-legend uc-curve-legend">'
        + "".join(
            '<span class="uc-legend-item">'
            f'<span class="uc-line" style="border-top:2px solid {c}"></span>{w}</span>'
            for c, w in ((ATTACK_SCORE, "Attack Score"), (FPR, "FPR"), (FNR, "FNR"))
        )
        + "</div>"
    )


def _abs_formatter() -> CustomJSTickFormatter:
    code = ir.files("comparator_site").joinpath("js", "tick_abs.js").read_text(encoding="utf-8")
    return CustomJSTickFormatter(code=code)


def _butterfly(page, ab: str, yr: Range1d, fmt: CustomJSTickFormatter) -> dict[str, Any]:
    """The butterfly of per-instance values: its chart, sources, threshold line and labels."""
    dots = ColumnDataSource({k: [] for k in DOT_FIELDS})
    hl = ColumnDataSource({"x": [], "y": []})
    xr = Range1d(-30, 30)
    b = figure(
        width=420,
        height=380,
        x_range=xr,
        y_range=yr,
        tools=[WheelPanTool(dimension="width")],
        toolbar_location=None,
        min_border_left=50,
    )
    b.toolbar.active_scroll = b.tools[0]
    b.grid.visible = False
    b.xaxis.formatter = fmt
    b.xaxis.axis_label = "Count"
    b.xaxis.axis_label_text_font_size = b.yaxis.axis_label_text_font_size = "10px"
    b.yaxis.axis_label = "Entropy"
    b.add_layout(Span(location=0, dimension="height", line_color="#D1D5DB"))
    r = b.scatter("x", "y", size=6.6, fill_color="color", line_color=None, source=dots)
    b.scatter("x", "y", size=11, fill_color=None, line_color="#000000", line_width=2, source=hl)
    b.add_tools(page.name(f"atk_{ab}_hover", HoverTool(renderers=[r], tooltips=None, callback=page.app)))
    span_b = Span(location=0, dimension="width", line_dash="dashed", line_color="#111827", line_width=1.5)
    b.add_layout(span_b)
    labels = {
        pos: Label(
            x=5,
            y=0,
            x_units="screen",
            text="",
            text_font_size="10px",
            text_color="#111827",
            y_offset=4 if pos == "up" else -14,
            background_fill_color="#ffffff",
            background_fill_alpha=0.7,
        )
        for pos in ("up", "dn")
    }
    for label in labels.values():
        b.add_layout(label)
    return {"bfly": b, "dots": dots, "hl": hl, "xr": xr, "yaxis": b.yaxis[0], "span_b": span_b, **labels}


def _curves(page, ab: str, yr: Range1d) -> tuple[Any, dict[str, Any]]:
    """Attack score / FPR / FNR against the threshold, on the butterfly's value axis: the chart (clicked and
    dragged, never read by the JavaScript) and the models js/attack.js updates on it."""
    curve = ColumnDataSource({k: [] for k in CURVE_FIELDS})
    c = figure(
        width=190,
        height=380,
        x_range=Range1d(0, 1.05),
        y_range=yr,
        tools="",
        toolbar_location=None,
        min_border_left=6,
    )
    page.name(f"atk_{ab}_curve", c)
    c.yaxis.major_label_text_font_size = "0px"
    c.xaxis.ticker = [0, 0.5, 1]
    for field, col in (("score", ATTACK_SCORE), ("fpr", FPR), ("fnr", FNR)):
        c.line(field, "thr", line_color=col, line_width=2, source=curve)
    dim = BoxAnnotation(bottom=0, top=0, fill_color="#ffffff", fill_alpha=0.65, line_alpha=0, level="overlay")
    span_c = Span(location=0, dimension="width", line_dash="dashed", line_color="#111827", line_width=1.5)
    c.add_layout(dim)
    c.add_layout(span_c)
    return c, {"cv": curve, "dim": dim, "span_c": span_c}


def _panel(page, ab: str, yr: Range1d, fmt: CustomJSTickFormatter) -> tuple[Any, dict[str, Any]]:
    """One model's panel (its layout, and the models js/attack.js updates on it)."""
    data = page.data
    first = page.first_models()
    # the first view's state, so that the first render needs no relayout
    original = data.runs[first["A" if ab == "a" else "B"]]["type"] == "original"
    colour = colors.MODEL_A if ab == "a" else colors.MODEL_B
    bfly = _butterfly(page, ab, yr, fmt)
    c, curves = _curves(page, ab, yr)
    for fig in (bfly["bfly"], c):
        page.on_event(fig, "tap", "pan", "mouseleave")
    title = page.div(text="", width=605)  # no fixed height: a long run id wraps
    # The page shows or hides the panel with CSS (js/util.js set_shown): toggling Bokeh's `visible`
    # re-lays out the whole document (~200 ms per switch to or from an original model). A panel hidden at
    # first is built right after the page is ready (js/main.js), to keep it out of the first render.
    please = '<div class="uc-empty">Please select an unlearned model to compare the attack results</div>'
    msg = page.div(text=please if original else "", width=605)
    # Divs have 5 px margins: each row below fits the panel's 615 px
    info = page.div(text="", width=295, height=56)
    ps = page.div(text="", width=295, height=56)
    caption = row(
        page.div(
            text=f'<div class="uc-caption">← Retrained Samples | <span style="color:{colour}">'
            f"Model {ab.upper()} Samples</span> →</div>",
            width=405,
            height=20,
        ),
        page.div(text=curve_legend(), width=190, height=20),
    )
    succ = page.div(text="", width=290, height=200, css_classes=["uc-grid-host"])
    fail = page.div(text="", width=290, height=200, css_classes=["uc-grid-host"])
    body = column(
        row(bfly["bfly"], c, spacing=0),
        caption,
        row(ps, info),
        row(succ, fail, spacing=10),
        spacing=2,
        visible=not original,
    )
    models = {
        **bfly,
        **curves,
        "title": title,
        "msg": msg,
        "info": info,
        "ps": ps,
        "succ": succ,
        "fail": fail,
        "body": body,
    }
    return column(title, msg, body, spacing=2, width=615), models


def build(page, audit_stores: dict[str, ColumnDataSource]) -> Any:
    yr = Range1d(0, 2.5)
    fmt = _abs_formatter()
    # the worst-case buttons are heard through their events only (js/main.js): named, not arguments
    worst_a = page.name(
        "atk_worst_a",
        Button(
            label="Model A Worst Case",
            width=150,
            height=30,
            stylesheets=[page.widget_css],
            css_classes=["uc-btn-a"],
        ),
    )
    worst_b = page.name(
        "atk_worst_b",
        Button(
            label="Model B Worst Case",
            width=150,
            height=30,
            stylesheets=[page.widget_css],
            css_classes=["uc-btn-b"],
        ),
    )
    metric = RadioButtonGroup(
        labels=["Output Entropy", "Top-1 Confidence"], active=0, height=30, stylesheets=[page.widget_css]
    )
    strategy = RadioButtonGroup(labels=STRATEGIES, active=0, height=30, stylesheets=[page.widget_css])
    thr = Slider(
        start=0,
        end=2.5,
        step=0.05,
        value=1.25,
        title="Custom threshold",
        width=220,
        stylesheets=[page.widget_css],
    )
    show = CheckboxGroup(
        labels=["retrained-model samples", "model samples"],
        active=[0, 1],
        inline=True,
        stylesheets=[page.widget_css],
    )
    size = Select(title="", options=SIZES, value="20", width=70, stylesheets=[page.widget_css])
    for w in (worst_a, worst_b):
        page.on_event(w, "button_click")
    page.on_change(metric, "active")
    page.on_change(strategy, "active")
    page.on_change(thr, "value")
    page.on_change(show, "active")
    page.on_change(size, "value")
    info = page.div(text="", width=520, height=30)
    legend = page.div(text=dots_legend(), width=1230, height=24)
    aud, order, aud_models = audit.attack(page, audit_stores)  # None, None and nulls without the audit
    controls = column(
        row(worst_a, worst_b, metric, thr, spacing=8),
        row(strategy, info, spacing=8),
        row(
            page.div(text='<span class="uc-small">Instance grids show:</span>', width=130),
            show,
            page.div(text='<span class="uc-small">thumbnail size (px)</span>', width=120),
            size,
            *([order] if order else []),
            spacing=6,
        ),
        legend,
        spacing=4,
    )
    (layout_a, panel_a), (layout_b, panel_b) = _panel(page, "a", yr, fmt), _panel(page, "b", yr, fmt)
    page.provide(
        "atk",
        {
            "yr": yr,
            "metric": metric,
            "strategy": strategy,
            "thr": thr,
            "show": show,
            "size": size,
            "strategy_info": info,
            "a": panel_a,
            "b": panel_b,
            **aud_models,
        },
    )
    return column(controls, row(layout_a, layout_b, spacing=10), *([aud] if aud else []), spacing=6)

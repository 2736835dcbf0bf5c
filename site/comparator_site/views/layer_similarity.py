"""Layer-wise similarity: diagonal CKA per layer group for A and B against the original or the retrained
model, retain (solid, circles) and forget (dashed, crosses) lines, Train/Test toggle; after the original's
(gnueaj/Machine-Unlearning-Comparator at commit 0e3ce99d,
frontend/src/components/MetricsView/LayerwiseSimilarity/LineChart.tsx)."""

from __future__ import annotations

from typing import Any

from bokeh.layouts import column, row
from bokeh.models import ColumnDataSource, FactorRange, HoverTool, RadioButtonGroup, Range1d
from bokeh.plotting import figure

from .. import colors
from ..data import SiteData

FIELDS = ["layer", "a_ret", "a_fgt", "b_ret", "b_fgt"]


def legend_html() -> str:
    items = []
    for ab, col in (("A", colors.MODEL_A), ("B", colors.MODEL_B)):
        for word, style in (("Retain", "solid"), ("Forget", "dashed")):
            items.append(
                f'<span class="uc-legend-item"><span class="uc-line" style="border-top:2px {style} {col}">'
                f"</span>{'●' if word == 'Retain' else '✖'} Model {ab} {word}</span>"
            )
    # no fixed height, tighter gaps: all four items show, wrapped if need be (issue 13)
    return '<div class="uc-legend" style="gap:4px 12px;padding:4px 0">' + "".join(items) + "</div>"


def build(page) -> Any:
    data: SiteData = page.data
    src = ColumnDataSource({k: [] for k in FIELDS})
    layers = list(dict.fromkeys(data.layers)) or ["-"]
    p = figure(
        width=470,
        height=270,
        x_range=FactorRange(*layers),
        y_range=Range1d(0, 1.02),
        toolbar_location=None,
        tools="",
    )
    # one invisible bar per layer to hover (the tooltip is drawn by js/tooltip.js)
    hot = p.vbar(x="layer", top=1.02, width=0.9, fill_alpha=0, line_alpha=0, source=src)
    for ab, col in (("a", colors.MODEL_A), ("b", colors.MODEL_B)):
        for sub, dash, marker in (("ret", "solid", "circle"), ("fgt", "dashed", "x")):
            p.line("layer", f"{ab}_{sub}", line_color=col, line_width=2, line_dash=dash, source=src)
            p.scatter(
                "layer",
                f"{ab}_{sub}",
                marker=marker,
                size=7 if marker == "circle" else 9,
                fill_color=col,
                line_color=col,
                line_width=2,
                source=src,
            )
    p.add_tools(page.name("sim_hover", HoverTool(renderers=[hot], tooltips=None, callback=page.app)))
    page.on_event(p, "mouseleave")
    p.xaxis.major_label_orientation = 0.785
    p.xaxis.major_label_text_font_size = "9px"
    p.xaxis.axis_label = f"{data.model_name or 'Model'} Layers"
    p.yaxis.axis_label = "CKA Value"
    p.xaxis.axis_label_text_font_size = p.yaxis.axis_label_text_font_size = "10px"
    p.yaxis.ticker = [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    # the toggles are read from their events (js/main.js), so they are named but not arguments
    ref = page.name(
        "sim_ref",
        RadioButtonGroup(
            labels=["Original", "Retrained"], active=0, height=26, stylesheets=[page.widget_css]
        ),
    )
    split = page.name(
        "sim_split",
        RadioButtonGroup(labels=["Train", "Test"], active=0, height=26, stylesheets=[page.widget_css]),
    )
    page.on_change(ref, "active")
    page.on_change(split, "active")
    head = page.div(text='<div class="uc-view-title">Layer-wise Similarity</div>', width=170)
    label = page.div(text='<span class="uc-small">Compare against:</span>', width=100)
    legend = page.name("sim_legend", page.div(text=legend_html(), width=470))  # named for the tests
    caption = page.div(text="", width=470)
    page.provide("sim", {"src": src, "fig": p, "caption": caption})
    return column(row(head, split, spacing=4), row(label, ref, spacing=4), legend, p, caption, spacing=0)

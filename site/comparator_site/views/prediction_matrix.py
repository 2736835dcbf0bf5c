"""Prediction matrices of A and B: split triangles (row proportion / mean confidence, in greys) or bubbles
(area ∝ proportion, colour = confidence on turbo), Train/Test toggle, shared hovered row; after the
original's (gnueaj/Machine-Unlearning-Comparator at commit 0e3ce99d,
frontend/src/components/MetricsView/PredictionMatrix/CorrelationMatrix.tsx and BubbleMatrix.tsx)."""

from __future__ import annotations

from typing import Any

from bokeh.layouts import column, row
from bokeh.models import BoxAnnotation, ColumnDataSource, FixedTicker, HoverTool, RadioButtonGroup, Range1d
from bokeh.plotting import figure

from ..data import SiteData, tick_labels

CELL_FIELDS = ["x", "y", "true_name", "pred_name", "prop_txt", "conf_txt", "size", "bub_color"]


def _triangles(C: int) -> dict[str, list]:
    xs, ys = [], []
    for t in range(C):
        for p in range(C):
            x, y = p, C - 1 - t
            xs.append([x - 0.5, x + 0.5, x - 0.5])  # lower-left: proportion
            ys.append([y - 0.5, y - 0.5, y + 0.5])
            xs.append([x + 0.5, x - 0.5, x + 0.5])  # upper-right: confidence
            ys.append([y + 0.5, y + 0.5, y - 0.5])
    return {"xs": xs, "ys": ys, "fill": ["#ffffff"] * len(xs)}


def legend_html() -> str:
    greys = "linear-gradient(to right, #f7f7f7, #d9d9d9, #969696, #525252, #000000)"
    turbo = "linear-gradient(to right, #30123b, #4686fb, #1ae4b6, #a2fc3c, #faba39, #e4460a, #7a0403)"
    return (
        '<div class="uc-mx-legend">'
        '<span class="uc-legend-item enc-tri">Row Proportion ↗ <span class="uc-tri-glyph"></span> '
        "↖ Row Confidence "
        '<span class="uc-tick">Low</span>'
        f'<span class="uc-ramp" style="background:{greys}"></span>'
        '<span class="uc-tick">High</span></span>'
        '<span class="uc-legend-item enc-bub">Proportion: '
        '<span class="uc-bub s"></span>small <span class="uc-bub l"></span>large · '
        'Confidence <span class="uc-tick">Low</span>'
        f'<span class="uc-ramp" style="background:{turbo}"></span>'
        '<span class="uc-tick">High</span></span>'
        "</div>"
    )


def _matrix(page, ab: str, tri: dict[str, list]) -> dict[str, Any]:
    """One model's matrix and the models js/matrix.js updates on it."""
    data: SiteData = page.data
    C = data.num_classes
    cells = ColumnDataSource({k: [] for k in CELL_FIELDS})
    tris = ColumnDataSource(dict(tri))
    p = figure(
        width=240 if ab == "a" else 200,
        height=280,  # the x labels are vertical: they do not overlap (issue 13)
        toolbar_location=None,
        tools="",
        x_range=Range1d(-0.5, C - 0.5),
        y_range=Range1d(-0.5, C - 0.5),
        min_border_left=4 if ab == "b" else None,
        min_border_right=4,
        match_aspect=False,
    )
    p.grid.visible = False
    p.outline_line_color = "#D1D5DB"
    tri_r = p.patches("xs", "ys", fill_color="fill", line_color="#ffffff", line_width=0.3, source=tris)
    bub_r = p.scatter(
        "x", "y", size="size", fill_color="bub_color", line_color=None, source=cells, visible=False
    )
    hot = p.rect("x", "y", width=1, height=1, fill_alpha=0, line_alpha=0, source=cells)
    band = BoxAnnotation(
        left=-0.5,
        right=C - 0.5,
        bottom=0,
        top=0,
        fill_alpha=0,
        line_color="#111827",
        line_width=1,
        line_dash="dotted",
        visible=False,
    )
    box = BoxAnnotation(
        left=0, right=0, bottom=0, top=0, fill_alpha=0, line_color="#111827", line_width=2, visible=False
    )
    p.add_layout(band)
    p.add_layout(box)
    p.add_tools(page.name(f"mx_{ab}_hover", HoverTool(renderers=[hot], callback=page.app, tooltips=None)))
    page.on_event(p, "mouseleave")
    p.xaxis.ticker = FixedTicker(ticks=list(range(C)))
    p.yaxis.ticker = FixedTicker(ticks=list(range(C)))
    p.xaxis.major_label_overrides = tick_labels(data, data.sets[0]["classes"], False)
    p.yaxis.major_label_overrides = tick_labels(data, data.sets[0]["classes"], True)
    p.xaxis.major_label_orientation = "vertical"
    p.xaxis.major_label_text_font_size = "9px"
    p.yaxis.major_label_text_font_size = "9px"
    p.xaxis.axis_label = "Predicted Class"
    p.xaxis.axis_label_text_font_size = "10px"
    if ab == "a":
        p.yaxis.axis_label = "True Class"
        p.yaxis.axis_label_text_font_size = "10px"
    else:
        p.yaxis.major_label_text_font_size = "0px"
    cap = page.div(text="", width=240 if ab == "a" else 200)  # no fixed height: long ids wrap
    return {
        "fig": p,
        "cell": cells,
        "tri": tris,
        "tri_r": tri_r,
        "bub_r": bub_r,
        "band": band,
        "box": box,
        "xaxis": p.xaxis[0],
        "yaxis": p.yaxis[0],
        "cap": cap,
    }


def build(page) -> Any:
    tri = _triangles(page.data.num_classes)
    mats = {ab: _matrix(page, ab, tri) for ab in ("a", "b")}
    # the toggles are read from their events (js/main.js), so they are named but not arguments
    split = page.name(
        "mx_split",
        RadioButtonGroup(labels=["Train", "Test"], active=0, height=26, stylesheets=[page.widget_css]),
    )
    enc = page.name(
        "mx_enc",
        RadioButtonGroup(
            labels=["Split triangles", "Bubbles"], active=0, height=26, stylesheets=[page.widget_css]
        ),
    )
    page.on_change(split, "active")
    page.on_change(enc, "active")
    legend = page.div(text=legend_html(), width=470, height=30, css_classes=["enc-0"])
    page.provide("mx", {"legend": legend, **mats})
    head = page.div(text='<div class="uc-view-title">Prediction Matrix</div>', width=150)
    caps = row(mats["a"]["cap"], mats["b"]["cap"])
    charts = row(mats["a"]["fig"], mats["b"]["fig"])
    return column(row(head, split, enc, spacing=6), caps, charts, legend, spacing=0)

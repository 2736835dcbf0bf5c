"""Embedding space: A and B panels side by side on the aligned 2-D embedding, after the original's
(gnueaj/Machine-Unlearning-Comparator at commit 0e3ce99d,
frontend/src/components/Core/Embeddings/ScatterPlot.tsx).

Circles are retain-class instances and crosses forget-class instances, filled with the predicted
class's colour. Both panels plot the same source (one row per subset instance, A's and B's
coordinates side by side), so hovering an instance in one panel marks it in the other; the line that
joins the two positions and the tooltip (thumbnail from the sprite sheet, both models' probabilities)
are drawn by ``js/embedding.js`` and ``js/tooltip.js`` over the page. With the privacy audit's per-image
scores a sixth highlight mode, "Vulnerability (U-LiRA)", colours the forget set's images by each panel's
own model's score (views/audit.py, js/audit.js).
"""

from __future__ import annotations

import html
from typing import Any

from bokeh.layouts import column, row
from bokeh.models import (
    ColumnDataSource,
    HoverTool,
    PanTool,
    RadioButtonGroup,
    Range1d,
    ResetTool,
    WheelZoomTool,
)
from bokeh.plotting import figure

from .. import colors
from ..data import SiteData
from . import audit

# colours are packed RGBA (uint32, alpha included): BokehJS decodes them without parsing CSS strings
FIELDS = ["pos", "marker", "size", "ax", "ay", "bx", "by", "a_fill", "b_fill", "a_line", "b_line"]
PANEL_WIDTH = 615  # two panels and their gap: the left column's 1240 px (page.py)
MODES = ["All", "Target to Forget", "Correctly Forgotten", "Not Forgotten", "Overly Forgotten"]


def legend_html(data: SiteData) -> str:
    cc = colors.class_colors(data.num_classes)
    # data-class: js/a11y.js recolours the swatches when the reader picks another palette
    swatches = "".join(
        f'<span class="uc-swatch"><i data-class="{k}" style="background:{c}"></i>{html.escape(n)}</span>'
        for k, (c, n) in enumerate(zip(cc, data.class_names))
    )
    return (
        '<div class="uc-emb-legend"><span class="uc-legend-item"><b>True Class</b> '
        '<span class="uc-glyph-circle"></span> Retain <span class="uc-glyph-x">✖</span> Forget</span>'
        '<span class="uc-legend-item"><b>Predicted Class</b> '
        f'<span class="uc-swatches">{swatches}</span></span></div>'
    )


def _panel(
    page, ab: str, src: ColumnDataSource, hl: ColumnDataSource, xr: Range1d, yr: Range1d
) -> dict[str, Any]:
    """One model's panel: its chart (sharing the view box with the other) and its title."""
    wheel = WheelZoomTool()
    p = figure(
        width=PANEL_WIDTH,
        height=560,
        x_range=xr,
        y_range=yr,
        tools=[PanTool(), wheel, ResetTool()],
        toolbar_location="above",
        active_scroll=wheel,
    )
    p.toolbar.logo = None
    p.axis.visible = False
    p.grid.visible = False
    p.outline_line_color = colors.MODEL_A if ab == "a" else colors.MODEL_B
    p.outline_line_width = 2
    r = p.scatter(
        f"{ab}x",
        f"{ab}y",
        marker="marker",
        size="size",
        fill_color=f"{ab}_fill",
        line_color=f"{ab}_line",
        line_width=1.6,
        source=src,
    )
    p.scatter(
        f"{ab}x",
        f"{ab}y",
        marker="marker",
        size=14,
        fill_color=None,
        line_color="#000000",
        line_width=2.5,
        source=hl,
    )
    p.add_tools(page.name(f"emb_{ab}_hover", HoverTool(renderers=[r], tooltips=None, callback=page.app)))
    page.on_event(p, "mouseleave")
    # no fixed height: a long run id wraps (widgets.css .uc-panel-title)
    return {"fig": p, "title": page.div(text="", width=PANEL_WIDTH - 10)}  # a Div has 5 px margins


def build(page) -> Any:
    data: SiteData = page.data
    src = ColumnDataSource({k: [] for k in FIELDS})
    hl = ColumnDataSource({"ax": [], "ay": [], "bx": [], "by": [], "marker": []})
    xr, yr = Range1d(0, 1), Range1d(0, 1)
    panels = {ab: _panel(page, ab, src, hl, xr, yr) for ab in ("a", "b")}
    vul, vul_models = audit.vulnerability(page)  # None and nulls without the audit's per-image scores
    labels = MODES + ([audit.VUL_MODE] if vul else [])
    mode = RadioButtonGroup(labels=labels, active=0, height=28, stylesheets=[page.widget_css])
    page.on_change(mode, "active")
    legend = page.div(text=legend_html(data), width=2 * PANEL_WIDTH)
    page.provide(
        "emb",
        {"src": src, "hl": hl, "xr": xr, "yr": yr, "mode": mode, "legend": legend, **panels, **vul_models},
    )
    hl_label = page.div(text='<div class="uc-small uc-mid"><b>Highlight</b></div>', width=64, height=28)
    a, b = panels["a"], panels["b"]
    # the buttons go under the legend, the vulnerability legend (shown in that mode) under them
    head = column(legend, row(hl_label, mode, spacing=6), *([vul] if vul else []), spacing=2)
    return column(
        head,
        row(a["title"], b["title"], spacing=10),
        row(a["fig"], b["fig"], spacing=10),
        spacing=2,
    )

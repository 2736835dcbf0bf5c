"""Class-wise accuracy (§7.5): diverging bars of B − A per class, training and test side by side."""

from __future__ import annotations

from typing import Any

from bokeh.layouts import column, row
from bokeh.models import BoxAnnotation, ColumnDataSource, FixedTicker, HoverTool, Label, Range1d, Span
from bokeh.plotting import figure

from ..data import SiteData, tick_labels

FIELDS = ["y", "name", "color"] + [f"{s}_{k}" for s in ("tr", "te") for k in ("left", "right", "a", "b", "d")]


def build(page) -> Any:
    data: SiteData = page.data
    C = data.num_classes
    src = page.add("cw_src", ColumnDataSource({k: [] for k in FIELDS}))
    figs = []
    for split, title in (("tr", "Training Dataset"), ("te", "Test Dataset")):
        p = figure(width=235, height=40 + 24 * C, title=title, toolbar_location=None, tools="",
                   x_range=page.add(f"cw_{split}_xr", Range1d(-1, 1)), y_range=Range1d(-0.6, C + 0.1),
                   min_border_left=4, min_border_right=8)
        p.title.text_font_size = "11px"
        p.grid.visible = False
        p.add_layout(Span(location=0, dimension="height", line_color="#9CA3AF", line_width=1))
        band = page.add(f"cw_{split}_band", BoxAnnotation(bottom=0, top=0, fill_color="#000000", fill_alpha=0.06,
                                                           line_alpha=0, visible=False))
        p.add_layout(band)
        r = p.hbar(y="y", left=f"{split}_left", right=f"{split}_right", height=0.55, fill_color="color",
                   line_color=None, source=src)
        p.add_layout(page.add(f"cw_{split}_avg", Span(location=0, dimension="height", line_dash="dashed",
                                                      line_color="#374151", line_width=1)))
        p.add_layout(page.add(f"cw_{split}_avg_label", Label(x=0, y=C - 0.4, text="", text_font_size="9px",
                                                             text_color="#374151", x_offset=3)))
        p.yaxis.ticker = FixedTicker(ticks=list(range(C)))
        p.yaxis.major_label_text_font_size = "10px"
        p.yaxis.major_label_overrides = tick_labels(data, data.forget_classes[0], True)
        p.xaxis.ticker = page.add(f"cw_{split}_ticker", FixedTicker(ticks=[-1, 0, 1]))
        p.xaxis.major_label_text_font_size = "9px"
        page.add(f"cw_{split}_yaxis", p.yaxis[0])
        # tooltips are drawn by js/tooltip.js (Bokeh's own tooltips force a page reflow on every render)
        p.add_tools(HoverTool(renderers=[r], callback=page.app, name=f"cw_hover_{split}", tooltips=None))
        page.on_event(p, "mouseleave")
        page.add(f"cw_fig_{split}", p)
        figs.append(p)
    head = page.div(text='<div class="uc-view-title">Class-wise Accuracy</div>', width=470)
    caption = page.div("cw_caption", text="", width=470, height=34)
    return column(head, row(*figs), caption, spacing=0)

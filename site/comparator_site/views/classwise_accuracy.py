"""Class-wise accuracy: diverging bars of B − A per class, training and test side by side, after the
original's (gnueaj/Machine-Unlearning-Comparator at commit 0e3ce99d,
frontend/src/components/MetricsView/ClasswiseAccuracy/VerticalBarChart.tsx).

It compares the settings A and B: with several replicate seeds, the bars are the difference of their mean
accuracies and the whiskers ± the spread of that difference, sqrt(std_A² + std_B²) from summary.arrow's
per-class sample standard deviations (the replicates of A and B taken as independent); none with one seed."""

from __future__ import annotations

from typing import Any

from bokeh.layouts import column, row
from bokeh.models import (
    BoxAnnotation,
    ColumnDataSource,
    FixedTicker,
    HoverTool,
    Label,
    Range1d,
    Span,
    Whisker,
)
from bokeh.plotting import figure

from ..data import SiteData, tick_labels

FIELDS = ["y", "name", "color"] + [
    f"{s}_{k}" for s in ("tr", "te") for k in ("left", "right", "a", "b", "d", "lo", "hi")
]


def _split_chart(page, split: str, title: str, src: ColumnDataSource) -> dict[str, Any]:
    """One split's chart and the models js/classwise.js updates on it."""
    data: SiteData = page.data
    C = data.num_classes
    xr = Range1d(-1, 1)
    p = figure(
        width=235,
        height=40 + 24 * C,
        title=title,
        toolbar_location=None,
        tools="",
        x_range=xr,
        y_range=Range1d(-0.6, C + 0.1),
        min_border_left=4,
        min_border_right=8,
    )
    p.title.text_font_size = "11px"
    p.grid.visible = False
    p.add_layout(Span(location=0, dimension="height", line_color="#9CA3AF", line_width=1))
    band = BoxAnnotation(bottom=0, top=0, fill_color="#000000", fill_alpha=0.06, line_alpha=0, visible=False)
    p.add_layout(band)
    r = p.hbar(
        y="y",
        left=f"{split}_left",
        right=f"{split}_right",
        height=0.55,
        fill_color="color",
        line_color=None,
        source=src,
    )
    # whiskers: NaN ends (one replicate) draw nothing
    whisker = Whisker(
        base="y",
        lower=f"{split}_lo",
        upper=f"{split}_hi",
        dimension="width",
        source=src,
        line_color="#374151",
        line_width=1,
    )
    whisker.upper_head.size = whisker.lower_head.size = 5
    p.add_layout(whisker)
    avg = Span(location=0, dimension="height", line_dash="dashed", line_color="#374151", line_width=1)
    avg_label = Label(x=0, y=C - 0.4, text="", text_font_size="9px", text_color="#374151", x_offset=3)
    p.add_layout(avg)
    p.add_layout(avg_label)
    p.yaxis.ticker = FixedTicker(ticks=list(range(C)))
    p.yaxis.major_label_text_font_size = "10px"
    p.yaxis.major_label_overrides = tick_labels(data, data.sets[0]["classes"], True)
    ticker = FixedTicker(ticks=[-1, 0, 1])
    p.xaxis.ticker = ticker
    p.xaxis.major_label_text_font_size = "9px"
    # tooltips are drawn by js/tooltip.js (Bokeh's own tooltips force a page reflow on every render)
    p.add_tools(page.name(f"cw_{split}_hover", HoverTool(renderers=[r], callback=page.app, tooltips=None)))
    page.on_event(p, "mouseleave")
    return {
        "fig": p,
        "xr": xr,
        "ticker": ticker,
        "band": band,
        "avg": avg,
        "avg_label": avg_label,
        "yaxis": p.yaxis[0],
    }


def build(page) -> Any:
    src = ColumnDataSource({k: [] for k in FIELDS})
    charts = {
        split: _split_chart(page, split, title, src)
        for split, title in (("tr", "Training Dataset"), ("te", "Test Dataset"))
    }
    caption = page.div(text="", width=470)
    page.provide("cw", {"src": src, "caption": caption, **charts})
    head = page.div(text='<div class="uc-view-title">Class-wise Accuracy</div>', width=470)
    return column(head, row(charts["tr"]["fig"], charts["te"]["fig"]), caption, spacing=0)

"""Header: experiment title, data set and model, the forget-set selector, the Model A / B choice and the
replicate seed, after the original's header (gnueaj/Machine-Unlearning-Comparator at commit 0e3ce99d,
frontend/src/components/Header/Header.tsx and ClassSelection.tsx).

The seed select chooses which replicate's models are A and B in the instance-level views (embedding,
attack, prediction matrices, layer similarity); it is shown only when the experiment has several seeds.
The "Colours" select (this project's) picks the class palette (colors.PALETTES; js/a11y.js)."""

from __future__ import annotations

import html
from typing import Any

from bokeh.layouts import column, row
from bokeh.models import RadioButtonGroup, Select

from .. import colors
from ..data import SiteData

BAR_WIDTH = 620  # with the Model A / B selects (long ids widen them): the left column's 1240 px, or they wrap


def header_facts(title: str, *facts: str | None) -> list[str]:
    """The data set and model names the header shows beside the title: those the title does not already
    name (titles such as "Fashion-MNIST · compact ResNet · CPU default" would otherwise say them twice)."""
    said = title.casefold()
    return [f for f in facts if f and f.casefold() not in said]


def build(page) -> Any:
    data: SiteData = page.data
    facts = " · ".join(html.escape(x) for x in header_facts(data.title, data.dataset_name, data.model_name))
    bar = page.name(
        "hdr_title",
        page.div(  # not read by the JavaScript; the tests check its text
            text=(
                f'<div class="uc-header" style="width:{BAR_WIDTH}px">'
                '<span class="uc-logo">Unlearning Comparator</span>'
                f'<span class="uc-title" title="{html.escape(data.title)}">{html.escape(data.title)}</span>'
                f'<span class="uc-facts">{facts}</span></div>'
            ),
            width=BAR_WIDTH,
            height=52,
        ),
    )
    # Button labels and <option>s are rendered as text by BokehJS, so the raw names are safe here.
    fc = RadioButtonGroup(
        labels=[f"Forget: {fs['name']}" for fs in data.sets],
        active=0,
        stylesheets=[page.widget_css],
        css_classes=["uc-fc"],
        height=34,
    )
    sel_a = Select(
        title="Model A",
        options=[],
        value="",
        width=230,
        stylesheets=[page.widget_css],
        css_classes=["uc-sel-a"],
    )
    sel_b = Select(
        title="Model B",
        options=[],
        value="",
        width=230,
        stylesheets=[page.widget_css],
        css_classes=["uc-sel-b"],
    )
    # a native <select> with its <label>: keyboard-operable and labelled; hidden with a single seed
    seed = Select(
        title="Replicate seed (models A, B)",
        options=[(str(i), f"seed {s}") for i, s in enumerate(data.seeds)],
        value="0",
        width=170,
        visible=len(data.seeds) > 1,
        stylesheets=[page.widget_css],
        css_classes=["uc-seed"],
    )
    # the categorical palette of the class colours (js/a11y.js); Model A/B keep their colours
    palette = page.name(
        "hdr_palette",
        Select(
            title="Colours",
            options=[(key, label) for key, (label, _) in colors.PALETTES.items()],
            value=colors.DEFAULT_PALETTE,
            width=150,
            stylesheets=[page.widget_css],
            css_classes=["uc-palette"],
        ),
    )
    page.on_change(palette, "value")
    page.on_change(fc, "active")
    page.on_change(sel_a, "value")
    page.on_change(sel_b, "value")
    page.on_change(seed, "value")
    page.provide("hdr", {"fc": fc, "sel_a": sel_a, "sel_b": sel_b, "seed": seed})
    label = page.div(text='<span class="uc-small"><b>Forget set</b></span>', width=80, height=30)
    # the rows wrap in narrow windows (and when js/header.js widens a select to its model's long id)
    wrap = dict(sizing_mode="stretch_width", stylesheets=[page.wrap_css])
    return column(
        row(bar, sel_a, sel_b, spacing=10, **wrap),
        row(label, fc, seed, palette, spacing=12, **wrap),
        spacing=4,
        sizing_mode="stretch_width",
    )

"""Export from the page (js/export.js): a "Download CSV" button for the experiments table's rows as shown,
and a "Save figure" select that downloads the chosen plot as a PNG (BokehJS's own export of its view).
Both are only heard from, so they are named (``tbl_csv``, ``exp_fig``), not provided; a run's JSON is a
link in the table's ID cells (views/experiments_table.py)."""

from __future__ import annotations

from typing import Any

from bokeh.layouts import row
from bokeh.models import Button, Select

# the plots that can be saved, by model name (page.py's contract), with their labels
FIGURES = (
    ("cw_tr_fig", "Class-wise accuracy (train)"),
    ("cw_te_fig", "Class-wise accuracy (test)"),
    ("mx_a_fig", "Prediction matrix A"),
    ("mx_b_fig", "Prediction matrix B"),
    ("emb_a_fig", "Embedding A"),
    ("emb_b_fig", "Embedding B"),
    ("sim_fig", "Layer similarity"),
    ("atk_a_bfly", "Attack A: scores"),
    ("atk_a_curve", "Attack A: curves"),
    ("atk_b_bfly", "Attack B: scores"),
    ("atk_b_curve", "Attack B: curves"),
)
AUDIT_FIGURE = ("aud_fig", "Privacy audit ROC")


def build(page) -> Any:
    csv = page.name(
        "tbl_csv",
        Button(
            label="Download CSV",
            width=120,
            stylesheets=[page.widget_css],
            html_attributes={"title": "The rows the table shows, in its order, with the raw numbers"},
        ),
    )
    page.on_event(csv, "button_click")
    figures = FIGURES + ((AUDIT_FIGURE,) if page.data.audit is not None else ())
    save = page.name(
        "exp_fig",
        Select(
            options=[("", "Save figure as PNG\u2026"), *figures],
            value="",
            width=220,
            stylesheets=[page.widget_css],
        ),
    )
    page.on_change(save, "value")
    return row(csv, save, spacing=8)

"""The privacy audit's views, built only when the tables have audit.arrow (the attack view's ``atk.aud_*``
and the embedding's ``emb.vul_*`` models are null otherwise, and the page is as it is without the audit).
They are flat keys of those views' arguments, not sub-dicts: ``atk[ab]`` stands for every sub-dict of
``atk`` (tests/test_js_contract.py).

* **Per-example audit** (attack tab): the ROC curves of A's and B's per-example attack (U-LiRA or offline
  RMIA, a select) on log-log axes, in A's and B's colours, with the retrained model's calibration curve (the
  forget set's retrained model of A's replicate seed: grey, dashed; AUC about 0.5 expected) and the chance
  diagonal. The caption gives each curve's AUC and TPR at 1 % FPR (audit.arrow's, not read off the grid).
* **Order** of the attack view's thumbnail grids: as without the audit, or by vulnerability (the grid's
  model's U-LiRA score of each image, descending).
* **Vulnerability (U-LiRA)**, the embedding's sixth highlight mode (with audit_instances.arrow): its colour
  bar (Viridis: sequential, colour-blind safe, and no grey in it, which marks images without a
  score) and the note on its range, the forget set's ``vul_range`` (data.py).

All computation is in ``js/audit.js``.
"""

from __future__ import annotations

from typing import Any

from bokeh.layouts import column, row
from bokeh.models import ColorBar, ColumnDataSource, LinearColorMapper, Range1d, Select
from bokeh.palettes import Viridis256
from bokeh.plotting import figure

from .. import colors

ATTACK_MODELS = ("aud_roc", "aud_vul", "aud_src", "aud_caption", "aud_metric", "aud_order")
EMBEDDING_MODELS = ("vul_row", "vul_note", "vul_mapper")
ROC_FIELDS = ["fpr", "a", "b", "r"]  # the FPR grid; the TPR of A, B and the retrained calibration
CURVES = [("0", "U-LiRA"), ("1", "RMIA")]  # js/audit.js AUD_CURVES
ORDERS = [("0", "Order: as without the audit"), ("1", "Order: vulnerability (U-LiRA)")]
VUL_MODE = "Vulnerability (U-LiRA)"  # the embedding's highlight mode (js/audit.js VUL_MODE: its position)
CHANCE = "#9CA3AF"

EXPLANATION = (
    '<div class="uc-small uc-aud-text">Each forget image is scored by a membership attack calibrated on '
    "shadow models (models of the other replicate seeds); the curve tells the model's forget images "
    "(positives) from the retrained model's of the same replicate (negatives). On the diagonal the model "
    "is as private as retraining; the low-FPR end is what the privacy literature reports. Log-log axes: "
    "a TPR of 0 (or below 10<sup>−4</sup>) is drawn at 10<sup>−4</sup>, the FPR grid's floor.</div>"
)


def _roc_figure(page, src: ColumnDataSource, floor: float) -> Any:
    """A's and B's ROC curves, the retrained calibration and the chance diagonal, log-log."""
    p = page.name(
        "aud_fig",
        figure(
            width=500,
            height=400,
            x_axis_type="log",
            y_axis_type="log",
            x_range=Range1d(floor, 1),
            y_range=Range1d(floor, 1),
            tools="",
            toolbar_location=None,
        ),
    )
    p.xaxis.axis_label = "False positive rate (log)"
    p.yaxis.axis_label = "True positive rate (log)"
    p.xaxis.axis_label_text_font_size = p.yaxis.axis_label_text_font_size = "10px"
    chance = p.line([floor, 1], [floor, 1], line_color=CHANCE, line_dash="dotted", line_width=1.5)
    page.name("aud_chance", chance)
    for key, colour, dash, width in (
        ("r", colors.RETRAINED, "dashed", 2),
        ("a", colors.MODEL_A, "solid", 2.5),
        ("b", colors.MODEL_B, "solid", 2.5),
    ):
        r = p.line("fpr", key, source=src, line_color=colour, line_dash=dash, line_width=width)
        page.name(f"aud_line_{key}", r)
    return p


def attack(page, stores: dict[str, ColumnDataSource]) -> tuple[Any, Any, dict[str, Any]]:
    """The attack tab's audit figure (its layout), the grids' order select, and the models js/audit.js
    reads (``atk.aud_*``): the ``roc`` and ``vul`` stores, the plotted ``src``, the ``caption``, the
    ``metric`` and ``order`` selects. Without the audit: no layout, no select, and the models null."""
    audit = page.data.audit
    if audit is None:
        return None, None, dict.fromkeys(ATTACK_MODELS)
    fpr = audit["fpr"]
    src = ColumnDataSource({"fpr": list(fpr), **{k: [float("nan")] * len(fpr) for k in ROC_FIELDS[1:]}})
    fig = _roc_figure(page, src, fpr[0])
    metric = Select(title="Attack", options=CURVES, value="0", width=140, stylesheets=[page.widget_css])
    # without per-image scores (no audit_instances.arrow) there is nothing to order by
    order = Select(
        options=ORDERS,
        value="0",
        width=230,
        disabled=not audit["instances"],
        stylesheets=[page.widget_css],
    )
    page.on_change(metric, "value")
    page.on_change(order, "value")
    caption = page.div(text="", width=640)
    layout = row(
        fig,
        column(
            page.div(text='<div class="uc-view-title">Per-example audit</div>', width=640),
            metric,
            caption,
            page.div(text=EXPLANATION, width=640),
            spacing=4,
        ),
        spacing=16,
    )
    models = (stores["roc"], stores["vul"], src, caption, metric, order)
    return layout, order, dict(zip(ATTACK_MODELS, models))


def vulnerability(page) -> tuple[Any, dict[str, Any]]:
    """The embedding's vulnerability legend (a row, shown in that mode only) and the models js/audit.js
    reads (``emb.vul_*``): the ``row``, its ``note`` and the colour ``mapper`` (whose palette colours the
    points, so that they and the bar agree). Without per-image scores: no legend, and the models null."""
    audit = page.data.audit
    if audit is None or not audit["instances"]:
        return None, dict.fromkeys(EMBEDDING_MODELS)
    mapper = LinearColorMapper(palette=Viridis256, low=-1, high=1)
    bar = ColorBar(
        color_mapper=mapper,
        orientation="horizontal",
        width=250,
        height=10,
        padding=4,
        title="U-LiRA score (log likelihood ratio)",
        title_text_font_size="10px",
        title_text_font_style="normal",
        major_label_text_font_size="9px",
        location=(0, 0),
    )
    # a plot only to hold the bar (a ColorBar lives in a plot); its frame is empty
    holder = page.name(
        "emb_vul_bar",
        figure(
            width=280,
            height=60,
            x_range=Range1d(0, 1),
            y_range=Range1d(0, 1),
            tools="",
            toolbar_location=None,
            min_border=0,
            outline_line_color=None,
        ),
    )
    holder.axis.visible = False
    holder.grid.visible = False
    holder.add_layout(bar, "center")
    holder.scatter([], [])  # a plot without renderers is reported by Bokeh's validation
    note = page.div(text="", width=880)
    legend = row(note, holder, spacing=10)
    return legend, dict(zip(EMBEDDING_MODELS, (legend, note, mapper)))

"""Assemble the views into one Bokeh document and write the static site.

The contract between the page's JavaScript and this Python
----------------------------------------------------------
All interaction runs in ONE ``CustomJS`` (``Page.app``) whose code is the concatenation of the files in
``js/`` (see :func:`comparator_site.jsbundle.app_code`). Its named arguments are everything the JavaScript
gets from Python. Each view puts its models into one dict and hands it over with ``Page.provide``:

* ``cfg`` (:func:`config`): static facts as a JSON string, parsed once into ``CFG`` (js/util.js);
* ``st`` (store.py): the data stores, never plotted: ``runs``, ``settings``, ``subset``, ``inst``, ``acc``,
  ``pred``, ``sim``, ``atk``, ``fgt``, ``sacc`` (js/state.js and each view's file);
* ``core_tabs`` (:func:`build_document`): the Embedding / Attack tabs (js/attack.js, js/main.js);
* ``hdr`` (views/header.py): ``fc`` (the forget set), ``sel_a``, ``sel_b``, ``seed`` (js/header.js,
  js/main.js); the palette select ``hdr_palette`` is only heard from (js/a11y.js), ``cfg`` ships its
  ``palettes``;
* ``tbl`` (views/experiments_table.py): ``src``, ``table``, ``filter``, ``best``, ``note``, ``method_ids``
  (js/table.js, js/main.js); the export widgets (views/export.py, js/export.js) are only heard from:
  ``tbl_csv`` (a button) and ``exp_fig`` (a select of plots by model name), and ``cfg`` lists the table's
  ``metrics`` and the experiment's ``name`` for them;
* ``cw`` (views/classwise_accuracy.py): ``src``, ``caption``, and per split ``tr`` / ``te``: ``fig``,
  ``xr``, ``ticker``, ``band``, ``avg``, ``avg_label``, ``yaxis`` (js/classwise.js);
* ``mx`` (views/prediction_matrix.py): ``legend``, and per model ``a`` / ``b``: ``fig``, ``cell``, ``tri``,
  ``tri_r``, ``bub_r``, ``band``, ``box``, ``xaxis``, ``yaxis``, ``cap`` (js/matrix.js);
* ``emb`` (views/embedding.py): ``src``, ``hl``, ``xr``, ``yr``, ``mode``, ``legend`` (its class swatches
  recoloured by js/a11y.js), and per model ``a`` / ``b``: ``fig``, ``title`` (js/embedding.js, js/main.js);
* ``sim`` (views/layer_similarity.py): ``src``, ``fig``, ``caption`` (js/similarity.js);
* ``ov`` (views/overview.py, js/overview.js): the overview's ``tabs``; the store ``facts`` (per setting:
  gaps, Pareto flags, hyperparameters) and ``info`` (JSON); the trade-off's plotted ``src`` (its selection,
  named ``ov_brush``, is the brush), ``front``, ``rings``, ``fig1``, ``fig2``, ``note`` and the ``click``
  toggle; the ``best_by``, ``sens_method``, ``across_metric``, ``across_mode`` widgets and the ``best``,
  ``sens``, ``across`` Divs; heard from only: ``ov_hover1`` / ``ov_hover2`` and ``ov_clear`` (a button);
* ``atk`` (views/attack.py): ``yr``, ``metric``, ``strategy``, ``thr``, ``show``, ``size``,
  ``strategy_info``, and per panel ``a`` / ``b``: the butterfly ``bfly`` with its ``dots``, ``hl``, ``xr``,
  ``yaxis``, ``span_b``, ``up``, ``dn``; the curves ``cv``, ``span_c``, ``dim``; the Divs ``title``,
  ``msg``, ``info``, ``ps``, ``succ``, ``fail``; and the panel's ``body`` (js/attack.js, js/main.js);
  and the privacy audit's (views/audit.py, js/audit.js; null without audit.arrow): the stores
  ``aud_roc`` and ``aud_vul``, the plotted ``aud_src``, the ``aud_caption``, and the ``aud_metric`` and
  ``aud_order`` selects, whose events js/audit.js handles (``dispatch`` passes on the names it does not
  know); the embedding's ``emb`` also has ``vul_row``, ``vul_note``, ``vul_mapper`` (the vulnerability
  legend; null without the audit's per-image scores).

The JavaScript reads them by path (``atk.a.dots``, ``st.runs.data``); a computed index picks one of a
view's panels (``atk[ab].dots`` stands for ``atk.a.dots`` and ``atk.b.dots``). Every model in an argument
is named after its path, ``_`` for ``.`` (``atk.a.dots`` is named ``atk_a_dots``): the browser tests find
models by these names. Models the JavaScript only hears from (widgets it reads through the event, hover
tools, charts that are clicked) are named with ``Page.name`` and are not arguments. Events arrive by the
triggering model's name (``dispatch`` in js/main.js). tests/test_js_contract.py checks, without a
browser, that the JavaScript reads only what is provided, that every provided model is read, and that
every name ``dispatch`` handles is a model wired to the app (and the other way round).

A dict argument reaches the JavaScript as a plain object: Bokeh serialises it as a map, and BokehJS
decodes a map with string keys into an object whose model references are resolved (Bokeh 3.9,
``CustomJS.args`` is ``Dict(String, AnyRef)``). The page's own state for whatever drives it
(``window.__uc_ready``, ``window.__uc_state``) is always set; its timings only with ``?instrument`` in the
URL (js/instrument.js, read by benchmarks/site_benchmark.py).

The reader's state (forget set, A and B by setting id, seed, tab, the views' toggles, the table's filter)
lives in the URL's hash (js/permalink.js): read before the first update, written after each event
(``dispatch`` calls it), restored on back / forward. To show a restored value it sets widgets that are
only named, not arguments (``mx_split``, ``mx_enc``, ``sim_ref``, ``sim_split``), through the Document's
``get_model_by_name``; ``dispatch`` therefore treats a widget event that matches the state as a no-op.
Other files add their own state with ``permalink_part(key, get, set)``.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from importlib import resources as ir
from pathlib import Path
from typing import Any, TypeVar

from bokeh.core.templates import get_env
from bokeh.document import Document
from bokeh.embed import file_html
from bokeh.events import DocumentReady
from bokeh.layouts import column, row
from bokeh.models import CustomJS, Div, InlineStyleSheet, Model, TabPanel, Tabs
from bokeh.resources import INLINE, Resources

from unlearning_comparator import atomic

from . import colors, store
from .data import AUDIT_METRICS, VUL_QUANTILE, SiteData, load
from .jsbundle import app_code

PACKAGE = ir.files("comparator_site")
AUDIT_STORES = ("roc", "vul")
M = TypeVar("M", bound=Model)
THUMBNAILS = "assets/thumbnails.png"
LEFT_WIDTH = 1240  # the table and the Embedding / Attack tabs: fits a 1280 px window (issue 13)
METRICS_WIDTH = 480


def read_asset(*parts: str) -> str:
    return PACKAGE.joinpath(*parts).read_text(encoding="utf-8")


class Page:
    """Collects the JavaScript's named arguments and wires events to the one app callback."""

    def __init__(self, data: SiteData, thumbnails_url: str | None) -> None:
        self.data = data
        self.thumbnails_url = thumbnails_url
        self.app = CustomJS(code="")
        self.args: dict[str, Any] = {}
        self.names: set[str] = set()
        self.widget_css = InlineStyleSheet(css=read_asset("css", "widgets.css"))
        # a row whose children wrap onto the next line when the window is too narrow for them (issue 13)
        self.wrap_css = InlineStyleSheet(css=":host { flex-wrap: wrap; }")

    def first_models(self) -> dict[str, int]:
        """The run rows shown as A and B when the page opens (the first forget set's defaults, first seed)."""
        first = config(self.data, None)["sets"][0]
        return {ab: self.data.settings[first[ab]]["rows"][0] for ab in ("A", "B")}

    def name(self, name: str, model: M) -> M:
        """Give a model its page-wide name: events are dispatched by it, the tests find the model by it."""
        if name in self.names:
            raise ValueError(f"two models named {name!r}")
        if model.name not in (None, name):
            raise ValueError(f"{name!r} is already named {model.name!r}")
        model.name = name
        self.names.add(name)
        return model

    def provide(self, arg: str, value: Any) -> None:
        """Make ``value`` (a model, a JSON value, or a dict of them) the app's named argument ``arg``."""
        if arg in self.args:
            raise ValueError(f"two arguments named {arg!r}")
        self._name_by_path(arg, value)
        self.args[arg] = value

    def _name_by_path(self, path: str, value: Any) -> None:
        if isinstance(value, Model):
            self.name(path, value)
        elif isinstance(value, dict):
            for key, sub in value.items():
                self._name_by_path(f"{path}_{key}", sub)

    def on_change(self, model: Model, *attrs: str) -> None:
        for attr in attrs:
            model.js_on_change(attr, self.app)

    def on_event(self, model: Model, *events: str) -> None:
        for event in events:
            model.js_on_event(event, self.app)

    def div(self, text: str = "", **kw: Any) -> Div:
        """A Div styled by the page's widget stylesheet; ``text`` must already be escaped HTML."""
        return Div(text=text, stylesheets=[self.widget_css], disable_math=True, **kw)


def set_config(data: SiteData, s: int) -> dict[str, Any]:
    """One forget set's facts for the JavaScript: its name, classes (✖-marked), members in the subset
    (``pos``), settings (rows of the settings store), the original's and retrained model's settings, the
    settings A and B open with, and the methods not run on it (``refused``)."""
    fs, settings = data.sets[s], data.settings
    rows = [k for k, st in enumerate(settings) if st["fs"] == s]
    ok = [k for k in rows if settings[k]["status"] == "ok"]
    orig = next((k for k in ok if settings[k]["type"] == "original"), None)
    retr = next((k for k in ok if settings[k]["type"] == "retrained"), None)
    a = orig if orig is not None else ok[0]
    b = retr if retr is not None and retr != a else next((k for k in ok if k != a), a)
    refused = [
        {"method": str(r.get("method", "")), "reason": str(r.get("reason", ""))}
        for r in data.refused
        if r.get("forget_set") == fs["id"]
    ]
    return {
        **{k: fs[k] for k in ("id", "name", "kind", "classes", "forget_class", "pos")},
        "rows": rows,
        "original": orig,
        "retrained": retr,
        "A": a,
        "B": b,
        "refused": refused,
        # the vulnerability colours' range ± vul_range (data.py); only with the audit
        **({"vul_range": fs.get("vul_range")} if data.audit is not None else {}),
    }


def config(data: SiteData, thumbnails_url: str | None) -> dict[str, Any]:
    """Static facts the JavaScript needs (shipped as a JSON string, parsed once)."""
    from .views import experiments_table

    out = {
        "name": data.name,
        "metrics": list(experiments_table.metrics_of(data)),  # the table's metric columns (js/export.js)
        # of them, those a setting shows as one figure over its replicates (the audit's pooled figures)
        "single_figures": list(AUDIT_METRICS) if data.audit is not None else [],
        "C": data.num_classes,
        "L": len(data.layers),
        "N": int(len(data.subset_index)),
        "T": data.thresholds,
        "emb_scale": data.embedding_scale,  # the inst store's quantized x, y: [lowest, step] per axis
        "class_names": data.class_names,
        "layers": data.layers,
        "forget_classes": data.forget_classes,
        "sets": [set_config(data, s) for s in range(len(data.sets))],
        "seeds": data.seeds,
        "class_colors": colors.class_colors(data.num_classes),
        # the header's palette select (js/a11y.js): its key -> the class colours in that palette
        "palettes": {key: colors.class_colors(data.num_classes, key) for key in colors.PALETTES},
        "colors": {
            "A": colors.MODEL_A,
            "A_light": colors.MODEL_A_LIGHT,
            "B": colors.MODEL_B,
            "B_light": colors.MODEL_B_LIGHT,
            "retrained": colors.RETRAINED,
            "retrained_light": colors.RETRAINED_LIGHT,
        },
        "thumbnails": thumbnails_url,
        "image_size": data.image_size,
        "sprite_columns": data.sprite_columns,
        "sprite_rows": int(
            data.meta.get("sprite_rows")
            or -(-max(1, int(data.subset_sprite.max()) + 1) // data.sprite_columns)
        ),
    }
    if data.audit is not None:  # the ROC's FPR grid, and what the vulnerability colours' range is
        out["audit"] = {**data.audit, "quantile": VUL_QUANTILE}
    return out


def build_document(data: SiteData, thumbnails_url: str | None = THUMBNAILS) -> Document:
    from .views import (
        attack,
        classwise_accuracy,
        embedding,
        experiments_table,
        header,
        layer_similarity,
        overview,
        prediction_matrix,
    )

    page = Page(data, thumbnails_url if data.sprite_png is not None else None)
    # store.build keys the stores by their model names (st_runs, ...), as tests/test_wiring_site.py reads them
    stores = {key.removeprefix("st_"): src for key, src in store.build(data).items()}
    # the audit's stores go with its views (atk.aud_roc, atk.aud_vul), which exist only with the audit
    audit_stores = {key: stores.pop(key) for key in AUDIT_STORES if key in stores}
    page.provide("st", stores)
    top = header.build(page)
    screen = experiments_table.build(page)
    core = embedding.build(page)
    atk = attack.build(page, audit_stores)
    tabs = Tabs(
        tabs=[TabPanel(child=core, title="Embedding Space"), TabPanel(child=atk, title="Attack Simulation")],
        stylesheets=[page.widget_css],
        css_classes=["uc-tabs"],
    )
    page.provide("core_tabs", tabs)
    page.on_change(tabs, "active")
    # The page fits windows 1280 … 2560 px wide: the left column is LEFT_WIDTH wide; the Metrics column
    # takes the rest of the line, at least METRICS_WIDTH, or wraps under it; its views wrap side by side.
    metrics = column(
        page.div(text='<div class="uc-section">Metrics View</div>', width=470),
        row(
            classwise_accuracy.build(page),
            prediction_matrix.build(page),
            layer_similarity.build(page),
            spacing=16,
            sizing_mode="stretch_width",
            stylesheets=[page.wrap_css],
        ),
        sizing_mode="stretch_width",
        min_width=METRICS_WIDTH,
    )
    overview_tabs = overview.build(page)  # the overview of the forget set's field (views/overview.py)
    layout = column(
        top,
        overview_tabs,
        row(
            column(screen, tabs, width=LEFT_WIDTH),
            metrics,
            spacing=16,
            sizing_mode="stretch_width",
            stylesheets=[page.wrap_css],
        ),
        spacing=8,
        sizing_mode="stretch_width",
        stylesheets=[page.widget_css],
    )
    page.provide("cfg", json.dumps(config(data, page.thumbnails_url)))
    page.app.args = page.args
    page.app.code = app_code()
    doc = Document()
    doc.add_root(layout)
    doc.title = data.title
    doc.js_on_event(DocumentReady, page.app)
    return doc


def render_html(doc: Document, data: SiteData, bokeh_js: str = "inline") -> tuple[str, list[str]]:
    """The page's HTML and the BokehJS files (relative paths) it loads from the site folder."""
    if bokeh_js == "inline":
        resources = INLINE
    elif bokeh_js == "shared":
        resources = Resources(mode="server", root_url="./")
    else:
        raise ValueError(f"bokeh_js must be 'inline' or 'shared', not {bokeh_js!r}")
    template = get_env().from_string(read_asset("templates", "page.html"))
    subtitle = " · ".join(x for x in (data.dataset_name, data.model_name) if x)
    out = file_html(
        doc,
        resources,
        title=data.title,
        template=template,
        template_variables={
            "page_css": read_asset("css", "site.css"),
            "noscript_title": html.escape(data.title),
            "noscript_subtitle": html.escape(subtitle),
        },
    )
    files = re.findall(r'<script src="\./(static/js/[^"?]+)"', out) if bokeh_js == "shared" else []
    return out, files


def build_site(tables_dir: str | Path, out_dir: str | Path, bokeh_js: str = "inline") -> Path:
    """Build ``out_dir/index.html`` (plus ``assets/``) from the tables in ``tables_dir``.

    ``bokeh_js="inline"`` (the default) puts BokehJS inside index.html; ``"shared"`` writes one copy to
    ``out_dir/static/js/`` and loads it with relative paths. benchmarks/site_benchmark.py measures both:
    the same total weight, and inline renders a little sooner from file:// (one file to read, not four).
    """
    tables_dir, out_dir = Path(tables_dir), Path(out_dir)
    data = load(tables_dir)
    doc = build_document(data)
    text, js_files = render_html(doc, data, bokeh_js)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "index.html").unlink(missing_ok=True)  # until the new one is written, the folder is not a site
    for sub in ("static", "assets"):
        if (out_dir / sub).exists():
            shutil.rmtree(out_dir / sub)
    if js_files:
        static = Path(ir.files("bokeh")) / "server" / "static"
        for rel in js_files:
            atomic.write_bytes(out_dir / rel, (static / Path(rel).relative_to("static")).read_bytes())
    if data.sprite_png is not None:
        atomic.write_bytes(out_dir / THUMBNAILS, data.sprite_png)
    atomic.write_text(out_dir / ".nojekyll", "")
    atomic.write_text(out_dir / "index.html", text)  # last: a complete index.html means a complete site
    return out_dir / "index.html"

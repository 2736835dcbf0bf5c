"""Static, interactive Bokeh site comparing two unlearned models side by side, built from an
experiment's tables.

``build_site(tables_dir, out_dir)`` writes ``out_dir/index.html`` (BokehJS inline, or one shared copy in
``static/`` with ``bokeh_js="shared"``) and ``assets/thumbnails.png``; ``python -m comparator_site build
--tables DIR --out DIR`` does the same from a shell.
"""

from .page import build_document, build_site

__all__ = ["build_document", "build_site"]

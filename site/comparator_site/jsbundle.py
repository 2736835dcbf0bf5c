"""The page's JavaScript: the files in ``js/``, concatenated in dependency order into one CustomJS body.

The files share one scope (a factory function run once per document, its result cached on the runs
store model ``st.runs``); ``main.js`` defines ``dispatch``, which every event of the page goes through.
They read what Python provides through the app's named arguments only: the contract in page.py's
docstring, checked by tests/test_js_contract.py. The only JavaScript written in Python is the glue below.
"""

from __future__ import annotations

from importlib import resources as ir

JS_FILES = (
    "util.js",
    "state.js",
    "permalink.js",
    "tooltip.js",
    "header.js",
    "table.js",
    "overview.js",
    "classwise.js",
    "matrix.js",
    "embedding.js",
    "similarity.js",
    "attack.js",
    "audit.js",
    "export.js",
    "instrument.js",
    "a11y.js",
    "main.js",
)

GLUE = (
    "const UC = (st.runs.__uc ??= (function () {\n%s\nreturn {dispatch};\n})());\n"
    "return UC.dispatch(cb_obj, cb_data, cb_context);"
)


def app_code() -> str:
    js = ir.files("comparator_site").joinpath("js")
    body = "\n".join(f"// ---- {name}\n" + js.joinpath(name).read_text(encoding="utf-8") for name in JS_FILES)
    return GLUE % body

"""The contract between the page's JavaScript (site/comparator_site/js/*.js) and its Python (page.py, whose
docstring describes it), checked without a browser:

* every path the JavaScript reads from the app's named arguments (``atk.a.dots``, ``cw[s].xr``) is one
  that Python provides, and every model Python provides is read by some JS file (no dead registrations);
* every other free identifier of the JavaScript is declared in it, a browser or language global, or one of
  CustomJS's own parameters (a misspelt function or argument name is caught here, not in a browser);
* the names ``dispatch`` (js/main.js) switches on are exactly the models (and ``model:event``s) wired to
  the app: no event goes unhandled, and no case waits for a model that does not exist.

The JavaScript is read by a small tokenizer (comments, strings, regular expressions and the text of
template literals dropped; the code inside ``${...}`` kept) rather than a parser: esprima 4.0.1, the JS
parser on PyPI, stops at ``??``, which the page uses. Names are resolved without scopes: a name declared
anywhere counts as declared everywhere, which is why a JS file may not declare a name the arguments use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources as ir
from typing import Any

import pytest
from bokeh.models import CustomJS, Div, Model

from comparator_site import build_document
from comparator_site.data import load
from comparator_site.jsbundle import GLUE, JS_FILES

from site_fixtures import write_experiment

KEYWORDS = {
    "async",
    "await",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "import",
    "in",
    "instanceof",
    "let",
    "new",
    "null",
    "of",
    "return",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "undefined",
    "var",
    "void",
    "while",
    "with",
    "yield",
}
# the browser and language globals the page uses: adding one is a deliberate step
GLOBALS = {
    "Array",
    "Error",
    "Float32Array",
    "Infinity",
    "Int32Array",
    "JSON",
    "Map",
    "Math",
    "MutationObserver",
    "NaN",
    "Number",
    "Object",
    "Set",
    "String",
    "URLSearchParams",
    "Uint32Array",
    "Uint8Array",
    "clearTimeout",
    "decodeURIComponent",
    "document",
    "encodeURIComponent",
    "parseInt",
    "performance",
    "requestAnimationFrame",
    "setTimeout",
    "window",
}
CALLBACK_PARAMS = {"cb_obj", "cb_data", "cb_context"}  # CustomJS's own, used by the glue (jsbundle.py)
COMPUTED = None  # the key of a computed index, view[expr]


# ---- tokens ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tok:
    kind: str  # name, punct, str (text: the literal's content), num, regex, tmpl (a template's edge), end
    text: str
    line: int


PUNCT = sorted(
    """{ } ( ) [ ] ; , < > + - * / % & | ^ ! ~ ? : = . ... => == != === !== <= >= && || ?? ?. ++ --
                  += -= *= /= %= &= |= ^= **= ** << >> >>> <<= >>= >>>= &&= ||= ??=""".split(),
    key=len,
    reverse=True,
)
NAME = re.compile(r"[A-Za-z_$][\w$]*")
NUMBER = re.compile(r"(?:0[xX][\da-fA-F]+|\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)n?")
# after these keywords a '/' starts a regular expression, not a division
EXPRESSION_KEYWORDS = {"return", "typeof", "case", "do", "else", "in", "of", "new", "delete", "void", "throw"}


class Lexer:
    def __init__(self, src: str) -> None:
        self.src, self.i, self.line, self.out = src, 0, 1, []

    def emit(self, kind: str, text: str) -> None:
        self.out.append(Tok(kind, text, self.line))

    def skip_to(self, j: int) -> None:
        self.line += self.src.count("\n", self.i, j)
        self.i = j

    def regex_allowed(self) -> bool:
        """A '/' is a regex after an operator or an expression keyword, a division after a value."""
        prev = self.out[-1] if self.out else None
        if prev is None:
            return True
        if prev.kind == "punct":
            return prev.text not in (")", "]", "}")
        return prev.kind == "name" and prev.text in EXPRESSION_KEYWORDS

    def code(self, in_template: bool = False) -> None:
        """Lex code; in a template's ``${``, up to its closing brace (nested braces counted)."""
        depth, src = 0, self.src
        while self.i < len(src):
            c = src[self.i]
            if c in " \t\r\n":
                self.skip_to(self.i + 1)
            elif src.startswith("//", self.i):
                end = src.find("\n", self.i)
                self.skip_to(len(src) if end < 0 else end)
            elif src.startswith("/*", self.i):
                self.skip_to(src.index("*/", self.i) + 2)
            elif c in "'\"":
                self.string(c)
            elif c == "`":
                self.template()
            elif c == "/" and self.regex_allowed():
                self.regex()
            elif m := NAME.match(src, self.i) or NUMBER.match(src, self.i):
                self.emit("name" if NAME.match(m.group()) else "num", m.group())
                self.i = m.end()
            elif in_template and c == "}" and depth == 0:
                self.emit("punct", "}")
                self.i += 1
                return
            else:
                depth += {"{": 1, "}": -1}.get(c, 0)
                self.punctuator()

    def punctuator(self) -> None:
        op = next(p for p in PUNCT if self.src.startswith(p, self.i))
        if op == "?." and self.src[self.i + 2 : self.i + 3].isdigit():
            op = "?"  # a ? .5 : b
        self.emit("punct", op)
        self.i += len(op)

    def string(self, quote: str) -> None:
        j = self.i + 1
        while self.src[j] != quote:
            j += 2 if self.src[j] == "\\" else 1
        self.emit("str", self.src[self.i + 1 : j])
        self.skip_to(j + 1)

    def regex(self) -> None:
        j, in_class = self.i + 1, False
        while in_class or self.src[j] != "/":
            if self.src[j] == "\\":
                j += 1
            elif self.src[j] in "[]":
                in_class = self.src[j] == "["
            j += 1
        flags = NAME.match(self.src, j + 1)
        self.emit("regex", "")
        self.skip_to(flags.end() if flags else j + 1)

    def template(self) -> None:
        """A template literal: its text is dropped, the code in each ``${...}`` is lexed."""
        self.emit("tmpl", "`")
        j = self.i + 1
        while self.src[j] != "`":
            if self.src[j] == "\\":
                j += 2
            elif self.src.startswith("${", j):
                self.skip_to(j)
                self.emit("punct", "${")
                self.i += 2
                self.code(in_template=True)
                j = self.i
            else:
                j += 1
        self.skip_to(j + 1)
        self.emit("tmpl", "`")


def tokenize(src: str) -> list[Tok]:
    """The file's tokens, and two empty ones at the end (so that a look-ahead never runs off it)."""
    lexer = Lexer(src)
    lexer.code()
    return lexer.out + [Tok("end", "", lexer.line)] * 2


# ---- declarations ------------------------------------------------------------------------------------------
def is_open(t: Tok) -> bool:
    return t.kind == "punct" and t.text in ("(", "[", "{", "${")


def is_close(t: Tok) -> bool:
    return t.kind == "punct" and t.text in (")", "]", "}")


def matching(toks: list[Tok], i: int, step: int = 1) -> int:
    """The index of the bracket that closes (step 1) or opens (step -1) the one at i."""
    depth = 0
    while True:
        depth += step if is_open(toks[i]) else -step if is_close(toks[i]) else 0
        if depth == 0:
            return i
        i += step


def skip_expression(toks: list[Tok], i: int, stops: tuple[str, ...]) -> int:
    """The index of the first of ``stops`` (or of an unmatched closing bracket) at this nesting level."""

    def stop(t: Tok) -> bool:
        return t.kind == "end" or is_close(t) or (t.kind in ("punct", "name") and t.text in stops)

    while not stop(toks[i]):
        i = matching(toks, i) + 1 if is_open(toks[i]) else i + 1
    return i


def pattern_names(toks: list[Tok], lo: int, hi: int) -> list[Tok]:
    """The names a binding pattern declares: ``a``, ``[a, b]``, ``{k: a, b = 1}``, parameter lists."""
    out, i = [], lo
    while i < hi:
        t = toks[i]
        if t.text == "=":  # a default value
            i = skip_expression(toks, i + 1, (",",))
            continue
        if t.kind == "name" and t.text not in KEYWORDS and toks[i + 1].text != ":":  # 'k:' is a key
            out.append(t)
        i += 1
    return out


def declarators(toks: list[Tok], i: int) -> list[Tok]:
    """The names of ``const|let|var pattern [= initializer], ...`` starting after the keyword at i."""
    out, j = [], i + 1
    while True:
        end = skip_expression(toks, j, ("=", ",", ";", "of", "in"))
        out += pattern_names(toks, j, end)
        if toks[end].text == "=":
            end = skip_expression(toks, end + 1, (",", ";"))
        if toks[end].text != ",":
            return out
        j = end + 1


def arrow_parameters(toks: list[Tok], i: int) -> list[Tok]:
    """The parameters of the arrow function whose ``=>`` is at i: ``x =>`` or ``(pattern, ...) =>``."""
    prev = toks[i - 1]
    return [prev] if prev.kind == "name" else pattern_names(toks, matching(toks, i - 1, -1) + 1, i - 1)


def declarations(toks: list[Tok]) -> list[Tok]:
    """Every name declared in the file: functions and their parameters, const/let/var, arrow parameters."""
    out = []
    for i, t in enumerate(toks):
        if t.text == "function":
            j = i + 1 + (toks[i + 1].kind == "name")  # the '(' of the parameters
            out += toks[i + 1 : j] + pattern_names(toks, j + 1, matching(toks, j))
        elif t.text in ("const", "let", "var"):
            out += declarators(toks, i)
        elif t.text == "=>":
            out += arrow_parameters(toks, i)
        elif t.text == "catch" and toks[i + 1].text == "(":
            out += pattern_names(toks, i + 2, matching(toks, i + 1))
    return out


# ---- reading the arguments ---------------------------------------------------------------------------------
def is_reference(toks: list[Tok], i: int) -> bool:
    """A name that is read: not a keyword, not a property (after '.'), not an object literal's key."""
    t, prev = toks[i], toks[i - 1]
    if t.kind != "name" or t.text in KEYWORDS or prev.text in (".", "?."):
        return False
    return not (prev.text in ("{", ",") and toks[i + 1].text == ":")


def is_declarator(toks: list[Tok], i: int) -> bool:
    """``const NAME =`` (or ``, NAME =`` further on in the same declaration)."""
    return toks[i + 1].text == "=" and toks[i - 1].text in ("const", "let", "var", ",")


def member_chain(toks: list[Tok], i: int) -> tuple[list[tuple[str | None, int]], int]:
    """The accesses after the name at i, as (key, line): ``.key``, ``["key"]``, or ``[expr]`` (COMPUTED);
    and the index of the token after them."""
    segs, j = [], i + 1
    while True:
        if toks[j].text in (".", "?.") and toks[j + 1].kind == "name":
            segs.append((toks[j + 1].text, toks[j + 1].line))
            j += 2
        elif toks[j].text == "[":
            close = matching(toks, j)
            inner = toks[j + 1 : close]
            literal = len(inner) == 1 and inner[0].kind == "str"
            segs.append((inner[0].text if literal else COMPUTED, toks[j].line))
            j = close + 1
        else:
            return segs, j


def leaves(value: Any, path: str) -> dict[str, Any]:
    """Every model (or JSON value) of an argument, by its path (``atk.a.dots``)."""
    if not isinstance(value, dict):
        return {path: value}
    return {p: v for key, sub in value.items() for p, v in leaves(sub, f"{path}.{key}").items()}


def panels(groups: list[tuple[str, dict]]) -> list[tuple[str, Any]]:
    """What ``group[expr]`` may be: any of the groups' sub-groups (``atk[ab]``: ``atk.a``, ``atk.b``)."""
    return [(f"{p}.{k}", sub) for p, group in groups for k, sub in group.items() if isinstance(sub, dict)]


def describe(leaf: Any) -> str:
    return f"the model {leaf.name}" if isinstance(leaf, Model) and leaf.name else type(leaf).__name__


class ContractCheck:
    """Reads the JS files in order, collecting errors as ``file:line: message``."""

    def __init__(self, args: dict[str, Any]) -> None:
        self.args, self.used, self.errors = args, set(), []

    def run(self, sources: dict[str, str]) -> list[str]:
        tokens = {file: tokenize(src) for file, src in sources.items()}
        declared = {}
        for file, toks in tokens.items():
            for t in declarations(toks):
                declared.setdefault(t.text, (file, t.line))
        for arg in sorted(self.args.keys() & declared.keys()):
            self.error(*declared[arg], f"declares {arg!r}, which hides the named argument {arg!r} of page.py")
        for file, toks in tokens.items():
            self.check_file(file, toks, declared)
        for arg, value in self.args.items():
            for path, leaf in leaves(value, arg).items():
                if path not in self.used:
                    self.errors.append(
                        f"page.py: {path} ({describe(leaf)}) is provided to the JavaScript "
                        f"but no JS file reads it"
                    )
        return self.errors

    def error(self, file: str, line: int, message: str) -> None:
        self.errors.append(f"{file}:{line}: {message}")

    def check_file(self, file: str, toks: list[Tok], declared: dict) -> None:
        aliases: dict[str, list[tuple[str, Any]]] = {}  # const P = atk[ab]: P stands for atk.a and atk.b
        for i, t in enumerate(toks):
            if t.kind == "name" and is_declarator(toks, i):
                aliases.pop(t.text, None)  # (re)declared: an alias only if its initializer says so
                continue
            if not is_reference(toks, i):
                continue
            if t.text in self.args or t.text in aliases:
                roots = [(t.text, self.args[t.text])] if t.text in self.args else aliases[t.text]
                self.check_chain(file, toks, i, roots, aliases)
            elif t.text not in declared and t.text not in GLOBALS | CALLBACK_PARAMS:
                self.error(
                    file,
                    t.line,
                    f"{t.text}: not declared in the JavaScript, not a known global, and "
                    f"not a named argument of page.py ({', '.join(sorted(self.args))})",
                )

    def check_chain(self, file: str, toks: list[Tok], i: int, roots, aliases) -> None:
        """Follow ``root.key[expr]...`` through the arguments' dicts, down to the models."""
        segs, end = member_chain(toks, i)
        nodes, shown = roots, toks[i].text
        for key, line in segs:
            self.used.update(p for p, v in nodes if not isinstance(v, dict))
            groups = [(p, v) for p, v in nodes if isinstance(v, dict)]
            if not groups:
                return  # a model (or JSON value): what follows is its own property
            shown += "[…]" if key is COMPUTED else f".{key}"
            if key is COMPUTED:
                nodes, missing = panels(groups), []
            else:
                nodes = [(f"{p}.{key}", g[key]) for p, g in groups if key in g]
                missing = [p for p, g in groups if key not in g]
            if missing:
                self.used.update(p for p, v in nodes if not isinstance(v, dict))  # the panels that have it
                self.error(
                    file,
                    line,
                    f"{shown}: page.py provides no {key!r} in {missing[0]} "
                    f"(it provides {', '.join(sorted(dict(groups)[missing[0]]))})",
                )
                return
            if not nodes:
                self.error(file, line, f"{shown}: {groups[0][0]} has no panels (sub-dicts) to index")
                return
        self.used.update(p for p, v in nodes if not isinstance(v, dict))
        if any(isinstance(v, dict) for _, v in nodes):
            if is_declarator(toks, i - 2) and toks[end].text in (";", ","):
                aliases[toks[i - 2].text] = nodes
            else:
                self.error(
                    file,
                    toks[i].line,
                    f"{shown} is a group of models: read one of them, or name the "
                    f"group with const (const P = {shown};)",
                )


def contract_errors(sources: dict[str, str], args: dict[str, Any]) -> list[str]:
    return ContractCheck(args).run(sources)


# ---- dispatch ----------------------------------------------------------------------------------------------
def case_labels(toks: list[Tok]) -> dict[str, int]:
    """The string cases of the file's switch statements, with their lines."""
    return {
        toks[i + 1].text: toks[i + 1].line
        for i, t in enumerate(toks[:-2])
        if t.text == "case" and toks[i + 1].kind == "str" and toks[i + 2].text == ":"
    }


def wired_keys(doc, app: CustomJS) -> dict[str, str]:
    """What ``dispatch`` sees for each model wired to the app: its name, ``name:event`` for an event."""

    def calls_app(callbacks: dict[str, list]) -> list[str]:
        return [key for key, cbs in callbacks.items() if any(cb is app for cb in cbs)]

    keys = {}
    for m in doc.models:
        if getattr(m, "callback", None) is app or calls_app(m.js_property_callbacks):
            keys[str(m.name)] = f"{type(m).__name__} {m.name}"  # a tool's callback or a property change
        for event in calls_app(m.js_event_callbacks):
            keys[f"{m.name}:{event}"] = f"{type(m).__name__} {m.name}, event {event}"
    return keys


def dispatch_errors(main_js: str, wired: dict[str, str]) -> list[str]:
    cases = case_labels(tokenize(main_js))
    errors = [
        f"js/main.js:{line}: case {key!r}: no model of that name is wired to the app"
        for key, line in cases.items()
        if key not in wired
    ]
    errors += [
        f"page.py: {what} is wired to the app, but dispatch (js/main.js) has no case {key!r}"
        for key, what in wired.items()
        if key not in cases
    ]
    return errors


# ---- the tests ---------------------------------------------------------------------------------------------
def js_sources() -> dict[str, str]:
    js = ir.files("comparator_site").joinpath("js")
    out = {f"js/{name}": js.joinpath(name).read_text(encoding="utf-8") for name in JS_FILES}
    out["jsbundle.py GLUE"] = GLUE % ""
    return out


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    tables = write_experiment(
        tmp_path_factory.mktemp("tables"), forget_classes=2, models_per_class=4, per_class=10
    )
    doc = build_document(load(tables))
    app = next(m for m in doc.models if isinstance(m, CustomJS) and "dispatch" in m.code)
    return doc, app


def test_the_javascript_reads_what_python_provides_and_all_of_it(page):
    args = dict(page[1].args)
    assert set(args) == {"st", "hdr", "tbl", "cw", "mx", "emb", "sim", "atk", "cfg", "core_tabs", "ov"}
    errors = contract_errors(js_sources(), args)
    assert not errors, "\n".join(errors)


def test_dispatch_handles_exactly_the_models_wired_to_the_app(page):
    wired = wired_keys(*page)
    assert "None" not in wired, wired["None"]  # a wired model without a name could not be dispatched
    errors = dispatch_errors(js_sources()["js/main.js"], wired)
    assert not errors, "\n".join(errors)


def line_of(text: str, needle: str) -> int:
    assert text.count(needle) == 1, needle
    return text[: text.index(needle)].count("\n") + 1


# (file, what the file says, a mistake, the error's start, where it points: a text on the mistaken line)
MISTAKES = [
    (
        "js/main.js",
        "const body = atk[ab].body;",
        "const body = atk.a.dotz;",
        "atk.a.dotz: page.py provides no 'dotz' in atk.a",
        "atk.a.dotz",
    ),
    (
        "js/attack.js",
        "P.dots.data = d;",
        "P.dotz.data = d;",
        "P.dotz: page.py provides no 'dotz' in atk.a",
        "P.dotz",
    ),
    (
        "js/main.js",
        "const body = atk[ab].body;",
        "const body = atk[ab].bdy;",
        "atk[…].bdy: page.py provides no 'bdy' in atk.a",
        "atk[ab].bdy",
    ),
    (
        "js/classwise.js",
        "[cw.tr.band, cw.te.band]",
        "[cw.tr.band, cw.te.bnd]",
        "cw.te.bnd: page.py provides no 'bnd' in cw.te",
        "cw.te.bnd",
    ),
    (
        "js/attack.js",
        "const P = atk[ab], ax =",
        "const P = atk, ax =",
        "P.title: page.py provides no 'title' in atk",
        "set_html(P.title",
    ),
    (
        "js/matrix.js",
        "mx.legend.css_classes",
        "mx_legend.css_classes",
        "mx_legend: not declared in the JavaScript",
        "mx_legend",
    ),
    (
        "js/embedding.js",
        "emb.src.data = d;",
        "emd.src.data = d;",
        "emd: not declared in the JavaScript",
        "emd.",
    ),
    (
        "js/table.js",
        "function table_update() {",
        "function table_update() {\n  const tbl = null;",
        "declares 'tbl', which hides the named argument 'tbl'",
        "const tbl",
    ),
]


@pytest.mark.parametrize("file, right, wrong, message, at", MISTAKES)
def test_a_mistake_in_the_javascript_is_named_with_its_file_and_line(page, file, right, wrong, message, at):
    sources = js_sources()
    assert sources[file].count(right) == 1
    sources[file] = sources[file].replace(right, wrong)
    errors = contract_errors(sources, dict(page[1].args))
    assert any(e.startswith(f"{file}:{line_of(sources[file], at)}: {message}") for e in errors), errors


def test_a_model_renamed_or_added_in_python_is_caught(page):
    args = dict(page[1].args)
    panel = dict(args["atk"]["a"])
    panel["points"] = panel.pop("dots")
    errors = contract_errors(js_sources(), {**args, "atk": {**args["atk"], "a": panel}})
    line = line_of(js_sources()["js/attack.js"], "P.dots.data = d;")
    assert any(
        e.startswith(f"js/attack.js:{line}: P.dots: page.py provides no 'dots' in atk.a") for e in errors
    ), errors
    assert (
        "page.py: atk.a.points (the model atk_a_dots) is provided to the JavaScript but no JS file reads it"
    ) in errors
    # a model provided and read nowhere
    errors = contract_errors(js_sources(), {**args, "sim": {**args["sim"], "spare": Div()}})
    assert errors == ["page.py: sim.spare (Div) is provided to the JavaScript but no JS file reads it"]


def test_a_case_without_a_wired_model_and_a_wired_model_without_a_case_are_caught(page):
    main = js_sources()["js/main.js"]
    line = line_of(main, 'case "atk_thr":')
    errors = dispatch_errors(main.replace('case "atk_thr":', 'case "atk_thrs":'), wired_keys(*page))
    assert errors == [
        f"js/main.js:{line}: case 'atk_thrs': no model of that name is wired to the app",
        "page.py: Slider atk_thr is wired to the app, but dispatch (js/main.js) has no case 'atk_thr'",
    ]


def test_the_tokenizer_drops_comments_strings_regexes_and_template_text():
    toks = tokenize('const a = "x.y // z"; // b.c\n/* d.e */ f(/[&<>"\']/g, `g ${h.i + `j ${k}`} l`, m / n);')
    assert [t.text for t in toks if t.kind == "name"] == ["const", "a", "f", "h", "i", "k", "m", "n"]
    assert [t.line for t in toks if t.text == "f"] == [2]

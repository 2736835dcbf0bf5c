"""The landing page of a site built from several experiments: ``OUT/index.html`` links to each experiment's
own page, ``OUT/<name>/index.html`` (built by :func:`comparator_site.page.build_site`).

A static page without JavaScript: relative links only, so it works from file:// and under a GitHub Pages
sub-path, like the experiment pages themselves.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bokeh.core.templates import get_env

from unlearning_comparator import atomic

from .data import SiteData, SiteDataError, load
from .page import build_site, read_asset

# the config schema's experiment name (workflow/schemas/config.schema.yaml): it becomes a folder name here
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Entry:
    """What the landing page shows of one experiment (plain strings, not yet escaped)."""

    tables: Path
    name: str
    title: str
    dataset: str
    model: str
    forget_sets: list[str]
    methods: list[str]
    seeds: list[int]
    models: int
    failed: int
    date: str


def entry(tables_dir: str | Path, data: SiteData) -> Entry:
    tables_dir = Path(tables_dir)
    trained = [r for r in data.runs if r["type"] not in ("original", "retrained")]
    # display names in the runs' order (forget set, type, setting): the order the page's table lists them
    methods = list(dict.fromkeys(str(r.get("method_name") or r.get("method") or "") for r in trained))
    mtime = (tables_dir / "runs.arrow").stat().st_mtime
    return Entry(
        tables=tables_dir,
        name=data.name,
        title=data.title,
        dataset=data.dataset_name,
        model=data.model_name,
        forget_sets=[str(fs["name"]) for fs in data.sets],
        methods=[m for m in methods if m],
        seeds=list(data.seeds),
        models=sum(r["status"] == "ok" for r in data.runs),
        failed=sum(r["status"] != "ok" for r in data.runs),
        date=datetime.fromtimestamp(mtime, UTC).date().isoformat(),
    )


def check_names(entries: list[Entry]) -> None:
    """Refuse a name that is not a safe folder name, and two experiments with one folder (names that differ
    only in case share a folder on case-insensitive file systems)."""
    seen: dict[str, Entry] = {}
    for e in entries:
        if not NAME.fullmatch(e.name):
            raise SiteDataError(
                f"experiment name {e.name!r} of {e.tables} is not a folder name "
                f"(letters, digits, '_', '.', '-'; starting with a letter or digit)"
            )
        other = seen.setdefault(e.name.casefold(), e)
        if other is not e:
            raise SiteDataError(
                f"two experiments named {e.name!r}: {other.tables} and {e.tables}; "
                f"each needs its own name (its folder in the site)"
            )


def render(entries: list[Entry]) -> str:
    """The landing page's HTML; every string from the tables is escaped here, the template adds none."""
    esc = html.escape
    rows = [
        {
            "href": esc(f"{e.name}/index.html"),
            "title": esc(e.title),
            "name": esc(e.name),
            "dataset": esc(e.dataset or "–"),
            "model": esc(e.model or "–"),
            "forget_sets": esc(", ".join(e.forget_sets)),
            "n_sets": len(e.forget_sets),
            "methods": esc(", ".join(e.methods) or "–"),
            "n_methods": len(e.methods),
            "seeds": esc(", ".join(str(s) for s in e.seeds)),
            "models": e.models,
            "failed": e.failed,
            "date": esc(e.date),
        }
        for e in entries
    ]
    template = get_env().from_string(read_asset("templates", "landing.html"))
    return template.render(rows=rows, count=len(rows), page_css=read_asset("css", "site.css"))


def build_landing(tables_dirs: list[str | Path], out_dir: str | Path, bokeh_js: str = "inline") -> Path:
    """Build each experiment's site into ``out_dir/<name>/`` and the landing page ``out_dir/index.html``.

    Every experiment is loaded and every name checked before anything is written, so a bad or duplicate
    name leaves ``out_dir`` as it was. (build_site loads each experiment once more; the landing page keeps
    only the small :class:`Entry`, not every experiment's stores at once.)
    """
    out_dir = Path(out_dir)
    entries = [entry(t, load(t)) for t in tables_dirs]
    check_names(entries)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "index.html").unlink(missing_ok=True)  # until the new one is written, the folder is not a site
    for e in entries:
        build_site(e.tables, out_dir / e.name, bokeh_js=bokeh_js)
    atomic.write_text(out_dir / ".nojekyll", "")
    atomic.write_text(out_dir / "index.html", render(entries))  # last: a complete index.html, a complete site
    return out_dir / "index.html"

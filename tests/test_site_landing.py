"""A site of several experiments: ``build --tables A --tables B`` writes each experiment's page to
``OUT/<name>/`` and a static landing page ``OUT/index.html`` listing them; one ``--tables`` is unchanged."""

from __future__ import annotations

import html
import os
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from comparator_site.__main__ import main
from comparator_site.data import load

from browser_support import driver, wait  # noqa: F401
from site_fixtures import EVIL_NAME, EVIL_TITLE, write_experiment

# 2021-03-04 23:30 UTC: a local date in a zone east of UTC would be the 5th
MTIME = datetime(2021, 3, 4, 23, 30, tzinfo=UTC).timestamp()


def tiny(path: Path, **kw) -> Path:
    tables = write_experiment(path, per_class=10, **kw)
    os.utime(tables / "runs.arrow", (MTIME, MTIME))
    return tables


@pytest.fixture(scope="module")
def two(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("exp")
    alpha = tiny(
        base / "a" / "tables", name="alpha", evil=True, forget_classes=2, models_per_class=5, seeds=[0, 1]
    )
    beta = tiny(
        base / "b" / "tables", name="beta", evil=False, forget_classes=[4], models_per_class=4, seeds=[3]
    )
    return alpha, beta


@pytest.fixture(scope="module")
def site(two, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    assert main(["build", "--tables", str(two[0]), "--tables", str(two[1]), "--out", str(out)]) == 0
    return out


class Tags(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def noscript_title(index: Path) -> str:
    return re.search(r"<noscript><h1>(.*?)</h1>", index.read_text(encoding="utf-8")).group(1)


def test_landing_page_lists_every_experiment_with_its_facts(site, two):
    text = (site / "index.html").read_text(encoding="utf-8")
    page = Tags(text)
    shown = html.unescape("".join(page.text))
    assert "Unlearning Comparator" in shown and "2 experiments" in shown
    # a static page: no script, nothing from the tables taken as markup
    assert [t for t, _ in page.tags if t in ("script", "b", "img")] == []
    assert html.escape(EVIL_TITLE) in text and html.escape(EVIL_NAME) in text
    links = [a["href"] for t, a in page.tags if t == "a"]
    assert links == ["alpha/index.html", "beta/index.html"]  # relative, in the order given
    assert all((site / href).is_file() for href in links)
    rows = re.findall(r'<tr class="uc-experiment">(.*?)</tr>', text, re.S)
    assert len(rows) == 2
    facts = [html.unescape(re.sub(r"<[^>]+>", " ", r)) for r in rows]
    for fact, tables in zip(facts, two, strict=True):
        data = load(tables)
        for s in (data.title, data.dataset_name, data.model_name, data.name, "2021-03-04"):
            assert s in fact
        assert ", ".join(fs["name"] for fs in data.sets) in fact
        assert ", ".join(str(s) for s in data.seeds) in fact
    assert "Fashion-MNIST" in facts[0] and "Compact ResNet" in facts[0]
    assert "T-shirt, Trouser" in facts[0] and "0, 1" in facts[0] and "Coat" in facts[1]
    # alpha: 2 sets × 2 seeds × 5 runs, one failed per set; the methods and their count
    assert re.search(r"\b18\s+2 failed\b", facts[0])
    for m in ("Fine-Tuning", "Gradient Ascent", EVIL_NAME):
        assert m in facts[0]
    assert "3 methods" in facts[0] and "2 methods" in facts[1]  # beta: Fine-Tuning, Gradient Ascent (failed)
    assert (site / ".nojekyll").is_file()


def test_each_experiment_page_is_its_one_folder_build(site, two, tmp_path):
    for name, tables in zip(("alpha", "beta"), two, strict=True):
        single = tmp_path / name
        assert main(["build", "--tables", str(tables), "--out", str(single)]) == 0
        index = site / name / "index.html"
        assert index.is_file()
        assert noscript_title(index) == noscript_title(single / "index.html")
        # the same files (Bokeh ids are random: not the same bytes)
        files = sorted(p.relative_to(site / name) for p in (site / name).rglob("*") if p.is_file())
        assert files == sorted(p.relative_to(single) for p in single.rglob("*") if p.is_file())
    assert noscript_title(site / "alpha" / "index.html") == html.escape(EVIL_TITLE)


def test_one_tables_folder_builds_the_experiment_page_itself(two, tmp_path):
    out = tmp_path / "one"
    assert main(["build", "--tables", str(two[1]), "--out", str(out)]) == 0
    assert noscript_title(out / "index.html") == "Synthetic experiment"
    assert not (out / "beta").exists()
    assert (out / "assets" / "thumbnails.png").is_file()


def test_duplicate_names_are_refused_before_anything_is_written(two, tmp_path, capsys):
    other = tiny(tmp_path / "again" / "tables", name="alpha", forget_classes=1, models_per_class=3)
    out = tmp_path / "out"
    assert main(["build", "--tables", str(two[0]), "--tables", str(other), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(two[0]) in err and str(other) in err and "'alpha'" in err
    assert not out.exists()


def test_a_name_that_is_not_a_folder_name_is_refused(two, tmp_path, capsys):
    bad = tiny(tmp_path / "bad" / "tables", name="../up", forget_classes=1, models_per_class=3)
    out = tmp_path / "out"
    assert main(["build", "--tables", str(two[1]), "--tables", str(bad), "--out", str(out)]) == 2
    assert str(bad) in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "up").exists()


@pytest.mark.browser
def test_landing_page_links_open_the_experiment_pages(driver, site):  # noqa: F811
    landing = (site / "index.html").as_uri()
    driver.get(landing)
    rows = driver.execute_script(
        "return Array.from(document.querySelectorAll('tr.uc-experiment'), (r) => r.innerText);"
    )
    assert len(rows) == 2
    assert EVIL_TITLE in rows[0] and "Synthetic experiment" in rows[1]
    assert driver.execute_script("return document.querySelector('b') === null")
    for k, name in enumerate(("alpha", "beta")):
        driver.get(landing)
        link = driver.execute_script(f"return document.querySelectorAll('tr.uc-experiment a')[{k}];")
        link.click()
        wait(driver, "window.__uc_ready", timeout=30)
        assert driver.current_url == (site / name / "index.html").as_uri()

"""Keyboard, screen-reader and colour-vision access to the page in headless Chromium (js/a11y.js): the
experiments table's A/B radios from the keyboard (Tab, arrows, Space/Enter, a visible focus ring, names
and aria-checked that follow the state, through a re-render and a sort), an accessible name on every form
control and chart, the Tabs' headers, and the header's colour-blind-safe palette."""

from __future__ import annotations

from pathlib import Path

import pytest

from comparator_site import build_site, colors

from browser_support import driver, load, model, set_value, severe, shot, source_data, wait  # noqa: F401
from site_fixtures import write_experiment

pytestmark = pytest.mark.browser

# the element that has the keyboard's focus, through the shadow roots, and how it looks
FOCUSED = """
let el = document.activeElement;
while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
if (!el || el === document.body) return null;
const cs = getComputedStyle(el);
return {tag: el.tagName, ab: el.dataset.ab || null, run: el.dataset.run || null,
        name: el.getAttribute("aria-label"), role: el.getAttribute("role"),
        checked: el.getAttribute("aria-checked"), disabled: el.getAttribute("aria-disabled"),
        outline: cs.outlineStyle === "none" ? 0 : parseFloat(cs.outlineWidth), shadow: cs.boxShadow};
"""
# the table's radios as a screen reader gets them
RADIOS = f"""
const root = Bokeh.index.find_one({model("tbl_table")}).shadow_el;
return Array.from(root.querySelectorAll("[data-ab]")).map((r) => ({{
  ab: r.dataset.ab, run: Number(r.dataset.run), role: r.getAttribute("role"),
  name: r.getAttribute("aria-label"),
  checked: r.getAttribute("aria-checked"), disabled: r.getAttribute("aria-disabled"), tab: r.tabIndex}}));
"""
# every visible form control, toggle, tab and chart of the page, with the name a screen reader reads
CONTROLS = """
const out = [];
function name_of(el) {
  const by = el.getAttribute("aria-labelledby");
  const root = el.getRootNode();
  if (by) return by.split(" ").map((id) => (root.getElementById(id) || {}).textContent || "").join(" ");
  if (el.getAttribute("aria-label")) return el.getAttribute("aria-label");
  if (el.labels && el.labels.length) return Array.from(el.labels).map((l) => l.textContent).join(" ");
  const role = el.getAttribute("role");
  if (el.tagName === "BUTTON" || role === "tab" || role === "button") return el.textContent || el.title;
  return el.title || "";
}
function walk(root) {
  for (const el of root.querySelectorAll("*")) {
    if (el.shadowRoot) walk(el.shadowRoot);
    const control = ["INPUT", "SELECT", "BUTTON", "TEXTAREA"].includes(el.tagName)
      || ["radio", "slider", "tab", "tablist", "img", "button", "group"].includes(el.getAttribute("role"));
    if (!control || el.type === "hidden" || el.getClientRects().length === 0) continue;
    if (el.tagName === "SELECT" && el.tabIndex < 0) continue;  // Choices.js's hidden <select>
    out.push({tag: el.tagName, role: el.getAttribute("role"), cls: String(el.className).slice(0, 60),
              name: name_of(el).trim()});
  }
}
walk(document);
return out;
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    tables = write_experiment(
        tmp_path_factory.mktemp("tables"),
        forget_classes=2,
        models_per_class=12,
        per_class=20,
        seeds=[0, 1, 2],
        audit=True,
    )
    out = tmp_path_factory.mktemp("site")
    build_site(tables, out)
    return out


def keys(driver, *sequence):
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(*sequence).perform()


def tab_to_radio(driver, limit=60):
    from selenium.webdriver.common.keys import Keys

    for _ in range(limit):
        keys(driver, Keys.TAB)
        f = driver.execute_script(FOCUSED)
        if f and f["ab"]:
            return f
    raise AssertionError("Tab never reached an A/B radio")


def state(driver):
    return driver.execute_script("return window.__uc_state")


def test_tab_reaches_the_radios_space_and_enter_select_and_focus_survives(driver, site):
    from selenium.webdriver.common.keys import Keys

    load(driver, (site / "index.html").as_uri())
    first = tab_to_radio(driver)
    # the column's tab stop is its checked radio, named after the setting, with a visible ring
    assert first["ab"] == "A" and first["role"] == "radio" and first["checked"] == "true"
    assert first["name"] == f"Model A: {state(driver)['A'].rsplit('-seed', 1)[0]}"
    assert first["outline"] >= 2 and first["shadow"] != "none"
    keys(driver, Keys.TAB)
    b = driver.execute_script(FOCUSED)
    assert b["ab"] == "B" and b["checked"] == "true" and b["name"].startswith("Model B: ")
    # ↓ to the next enabled, unchecked row of column B, then Space selects it
    for _ in range(10):
        keys(driver, Keys.ARROW_DOWN)
        f = driver.execute_script(FOCUSED)
        if f["checked"] == "false" and f["disabled"] == "false":
            break
    assert f["ab"] == "B", f
    before = state(driver)["B"]
    keys(driver, Keys.SPACE)
    wait(driver, f"window.__uc_state.B !== {before!r}")
    assert state(driver)["B"].startswith(f["name"].removeprefix("Model B: "))
    # the table was re-rendered: the same radio has the focus again, now checked
    f2 = wait(driver, "(() => {" + FOCUSED + "})()")
    assert (f2["ab"], f2["run"], f2["checked"]) == ("B", f["run"], "true")
    assert f2["outline"] >= 2
    shot(driver, "a11y-radio-focus")
    # Enter selects too
    for _ in range(10):
        keys(driver, Keys.ARROW_DOWN)
        f = driver.execute_script(FOCUSED)
        if f["checked"] == "false" and f["disabled"] == "false":
            break
    before = state(driver)["B"]
    keys(driver, Keys.ENTER)
    wait(driver, f"window.__uc_state.B !== {before!r}")
    assert not severe(driver)


def test_a_disabled_radio_does_nothing_and_aria_follows_the_state(driver, site):
    from selenium.webdriver.common.keys import Keys

    load(driver, (site / "index.html").as_uri())
    radios = driver.execute_script(RADIOS)
    assert radios and all(r["role"] == "radio" and r["name"].startswith(f"Model {r['ab']}: ") for r in radios)
    for ab in "AB":
        col = [r for r in radios if r["ab"] == ab]
        assert [r["checked"] for r in col].count("true") == 1
        assert sum(r["tab"] == 0 for r in col) >= 1  # the column is a tab stop
    # column A's radio of model B's row is disabled: Space and Enter on it change nothing
    b_run = next(r["run"] for r in radios if r["ab"] == "B" and r["checked"] == "true")
    dis = next(r for r in radios if r["ab"] == "A" and r["run"] == b_run)
    assert dis["disabled"] == "true" and dis["checked"] == "false"
    driver.execute_script(
        RADIOS.split("return")[0] + f'root.querySelector(\'[data-ab="A"][data-run="{b_run}"]\').focus();'
    )
    before = state(driver)
    keys(driver, Keys.SPACE)
    keys(driver, Keys.ENTER)
    driver.execute_script("return new Promise((r) => setTimeout(r, 300))")
    assert state(driver) == before
    # a change from elsewhere (the Model A select): aria-checked moves with it
    options = driver.execute_script(f"return {model('hdr_sel_a')}.options.map((o) => o[0])")
    current = next(r["run"] for r in radios if r["ab"] == "A" and r["checked"] == "true")
    new_a = next(int(k) for k in options if int(k) not in (b_run, current))
    set_value(driver, "hdr_sel_a", "value", str(new_a))
    wait(driver, f"window.__uc_state.A !== {before['A']!r}")
    radios = driver.execute_script(RADIOS)
    checked = {r["ab"]: r for r in radios if r["checked"] == "true"}
    assert checked["A"]["run"] == new_a and checked["B"]["run"] == b_run
    assert checked["A"]["name"] == f"Model A: {state(driver)['A'].rsplit('-seed', 1)[0]}"
    assert next(r for r in radios if r["ab"] == "B" and r["run"] == new_a)["disabled"] == "true"
    # a sort re-renders every row: the radios keep their names, states and a tab stop per column
    driver.execute_script(
        RADIOS.split("return")[0] + 'root.querySelectorAll(".slick-header-column")[1].click();'
    )
    sorted_radios = driver.execute_script(RADIOS)
    assert {(r["ab"], r["run"]) for r in sorted_radios if r["checked"] == "true"} == {
        ("A", new_a),
        ("B", b_run),
    }
    for ab in "AB":
        assert any(r["tab"] == 0 for r in sorted_radios if r["ab"] == ab)


def test_every_control_and_chart_has_an_accessible_name(driver, site):
    load(driver, (site / "index.html").as_uri())
    wait(driver, "window.__uc_ready")
    for tab in (0, 1):  # both core tabs: the attack tab's widgets and charts are laid out when shown
        set_value(driver, "core_tabs", "active", tab)
        driver.execute_script("return new Promise((r) => requestAnimationFrame(() => setTimeout(r, 200)))")
        controls = driver.execute_script(CONTROLS)
        unnamed = [c for c in controls if not c["name"]]
        assert not unnamed, unnamed
        charts = [c for c in controls if c["role"] == "img"]
        assert len(charts) >= 8, charts  # embedding or attack, class-wise, matrices, similarity
    names = {c["name"] for c in controls}
    assert {"Forget set", "Attack threshold strategy", "Custom threshold", "Thumbnail size (pixels)"} <= names
    assert "Filter the table by method" in names and "Save a figure as PNG" in names
    roles = {c["role"] for c in controls}
    assert {"radio", "slider", "tab", "img"} <= roles


def test_tabs_headers_work_from_the_keyboard(driver, site):
    from selenium.webdriver.common.keys import Keys

    load(driver, (site / "index.html").as_uri())
    tabs = f"Bokeh.index.find_one({model('core_tabs')}).shadow_el.querySelectorAll('.bk-tab')"
    assert driver.execute_script(
        f"return Array.from({tabs}).map((t) => t.getAttribute('aria-selected'))"
    ) == [
        "true",
        "false",
    ]
    driver.execute_script(f"{tabs}[0].focus()")
    keys(driver, Keys.ARROW_RIGHT)
    wait(driver, f"{model('core_tabs')}.active === 1")
    wait(driver, f"{tabs}[1].getAttribute('aria-selected') === 'true'")
    keys(driver, Keys.ARROW_LEFT, Keys.ENTER)
    wait(driver, f"{model('core_tabs')}.active === 0")


def rgb(hex_colour: str) -> str:
    return "rgb({}, {}, {})".format(*(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)))


def test_the_palette_select_recolours_the_class_colours_and_back(driver, site):
    load(driver, (site / "index.html").as_uri())
    swatches = f"""return Array.from(Bokeh.index.find_one({model("emb_legend")}).shadow_el
        .querySelectorAll("[data-class]")).map((i) => getComputedStyle(i).backgroundColor);"""
    # the fill colours of the embedding's points (packed RGBA) as #rrggbb
    fills = f"""return Array.from({model("emb_src")}.data.a_fill).map((v) =>
        "#" + (v >>> 8).toString(16).padStart(6, "0"));"""
    for key in ("cvd", "tableau10", "cvd"):
        palette = [c.lower() for c in colors.class_colors(10, key)]
        set_value(driver, "hdr_palette", "value", key)
        wait(driver, f"{model('cw_src')}.data.color[0].toLowerCase() === {palette[0]!r}")
        assert [c.lower() for c in source_data(driver, "cw_src")["color"]] == palette
        assert driver.execute_script(swatches) == [rgb(c) for c in palette]
        # the points are filled with their predicted class's colour (grey: no prediction)
        assert set(driver.execute_script(fills)) <= set(palette) | {"#9ca3af"}
        assert len(set(driver.execute_script(fills)) & set(palette)) >= 5
        if key == "cvd":
            shot(driver, "a11y-palette-cvd")
    assert not severe(driver)

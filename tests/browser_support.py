"""Shared helpers of the browser tests: headless Chromium through selenium, and small accessors of the
page's Bokeh models. Imported by test_site_browser.py and test_wiring_site_browser.py (import the
``driver`` fixture from here to get one browser per test module)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def make_driver():
    """Headless Chromium through selenium, with the browser and performance logs on."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing} not installed (CI=true: browser tests must run)")
        pytest.skip(
            f"{missing} not installed: apt-get install chromium chromium-driver to run the browser tests"
        )
    selenium = pytest.importorskip("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    del selenium
    options = Options()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="uc-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--window-size=1850,1900")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver._uc_profile = profile  # removed at teardown
    return driver


@pytest.fixture(scope="module")
def driver():
    d = make_driver()
    yield d
    d.quit()
    shutil.rmtree(d._uc_profile, ignore_errors=True)


def wait(driver, script, timeout=15.0, interval=0.05):
    """Poll a JavaScript expression until it is truthy (CustomJS callbacks run asynchronously)."""
    end = time.time() + timeout
    while time.time() < end:
        value = driver.execute_script(f"return ({script});")
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {script}")


def load(driver, url):
    driver.get("about:blank")
    driver.get_log("browser")
    driver.get_log("performance")
    driver.get(url)
    wait(driver, "window.__uc_ready")  # the page's ready signal (js/main.js): always set, unlike its timings


def model(name):
    return f"Bokeh.documents[0].get_model_by_name({json.dumps(name)})"


def set_value(driver, name, attr, value):
    driver.execute_script(f"{model(name)}.{attr} = arguments[0];", value)


def shadow_text(driver, name) -> str:
    """The text a Div (or other widget) shows, from its view's shadow DOM."""
    return driver.execute_script(f"return Bokeh.index.find_one({model(name)}).shadow_el.textContent")


def click_button(driver, name):
    driver.execute_script(f"Bokeh.index.find_one({model(name)}).shadow_el.querySelector('button').click()")


def source_data(driver, name) -> dict[str, list]:
    """A ColumnDataSource's columns as plain lists (typed arrays included)."""
    return driver.execute_script(f"""
      const d = {model(name)}.data; const out = {{}};
      for (const k of Object.keys(d)) out[k] = Array.from(d[k]);
      return out;""")


def requests(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    return urls


def severe(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def shot(driver, name):
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


# a short fingerprint of each plotted source, to see that it changed
SIGNATURE = """
const names = arguments[0];
const out = {};
for (const n of names) {
  const d = Bokeh.documents[0].get_model_by_name(n).data;
  out[n] = Object.keys(d).sort().map((k) => k + ':' + Array.from(d[k]).map(String).join(',')).join('|');
}
return out;
"""
A_VIEWS = ["tbl_src", "cw_src", "mx_a_cell", "mx_a_tri", "emb_src", "sim_src", "atk_a_dots", "atk_a_cv"]
B_VIEWS = ["tbl_src", "cw_src", "mx_b_cell", "mx_b_tri", "emb_src", "sim_src", "atk_b_dots", "atk_b_cv"]


def signatures(driver, names):
    return driver.execute_script(SIGNATURE, names)


def wait_changed(driver, names, before, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        now = signatures(driver, names)
        if all(now[n] != before[n] for n in names):
            return now
        time.sleep(0.05)
    unchanged = [n for n in names if signatures(driver, [n])[n] == before[n]]
    raise AssertionError(f"views did not change: {unchanged}")


def options(driver, name):
    return driver.execute_script(f"return {model(name)}.options.map((o) => o[0]);")


def quantization_tolerance(instances, axis: str) -> float:
    """How far a shipped embedding coordinate may be from the table's: the site quantizes them to 1/65534
    of their range (comparator_site.data._quantize), so half that step, plus float32 rounding."""
    values = [r[axis] for r in instances]
    return (max(values) - min(values)) / 65534 / 2 + 1e-5

"""Benchmark of the static site in headless Chromium: first render, A/B switch, forget-class switch, weight.

    .venv/bin/python benchmarks/site_benchmark.py [TABLES_DIR ...] [--loads 5] [--switches 12] [--json FILE]

Builds a synthetic experiment (3 forget classes × 22 models, 200 subset images per class, written by
tests/site_fixtures.py) plus every tables folder given, each with BokehJS as one shared copy in the
site folder (the default) and inline in index.html, and measures from file:// URLs, opened with
``?instrument`` (the page records its timings in ``window.__uc_prof`` only then: js/instrument.js):

* first render: navigation start → Bokeh document idle (``Bokeh.documents[0].is_idle``), and →
  page ready (``__uc_prof.ready``: every view filled with the default A/B pair and painted, two
  animation frames after the update);
* A/B switch: set Model A (or B) in its select, wait until the data of every view that follows it
  has changed (table, class-wise, matrices, embedding, similarity, attack panel) and two animation
  frames have passed; timed inside the page with performance.now(), once with each tab active;
* forget-set switch: the same for the forget-set selector (all views, both models);
* seed switch (with ``--replicates``, which adds a synthetic experiment with a forget set of each kind and
  three replicate seeds): the same for the seed select (the instance-level views of both models);
* weight: every file of the site folder, raw and gzip-compressed (as a web server would send it).

Targets (the README's "The site"): first render ≤ 2 s, A/B switch ≤ 300 ms on a 2-core machine with ≥ 20
models per forget class. Timings are medians (and maxima) of several runs; they vary with machine load.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from browser_support import FLAGS  # noqa: E402  (Chromium's flags for this machine, as the tests use)

TARGET_FIRST_RENDER_MS = 2000
TARGET_SWITCH_MS = 300

# recorded inside the page from its first script on: when Bokeh's document first reports idle
IDLE_PROBE = """
(function poll() {
  const d = window.Bokeh && window.Bokeh.documents && window.Bokeh.documents[0];
  if (d && d.is_idle) { window.__bench_idle = performance.now(); return; }
  requestAnimationFrame(poll);
})();
"""

SWITCH = (
    """
const [kind, target, names] = arguments;
const done = arguments[arguments.length - 1];
const doc = Bokeh.documents[0];
// a checksum of every value of every column
const sig = (n) => { const d = doc.get_model_by_name(n).data; let h = 0;
  for (const k of Object.keys(d).sort()) { const c = d[k]; h = (h * 31 + c.length) % 1e9;
    for (let i = 0; i < c.length; i++) { const v = c[i];
      const x = typeof v === 'number' ? (Number.isFinite(v) ? v : 7.7) """
    """: String(v).length + String(v).charCodeAt(0);
      h = (h * 1.000001 + x * ((i % 97) + 1)) % 1e9; } }
  return h; };
const before = names.map(sig);
const n0 = window.__uc_prof.updates;
const t0 = performance.now();
if (kind === 'fc') doc.get_model_by_name('hdr_fc').active = target;
else doc.get_model_by_name(kind).value = target;
// the page sets every view's data in one synchronous update and then counts it; wait for that, then
// two animation frames (the repaint); the checksums are compared afterwards, untimed
function poll() {
  if (performance.now() - t0 > 10000) { done({error: 'timeout'}); return; }
  if (window.__uc_prof.updates === n0) { requestAnimationFrame(poll); return; }
  const t1 = performance.now();
  requestAnimationFrame(() => requestAnimationFrame(() => {
    const total = performance.now() - t0;
    const unchanged = names.filter((n, i) => sig(n) === before[i]);
    done({data: t1 - t0, total, unchanged});
  }));
}
poll();
"""
)

A_VIEWS = ["tbl_src", "cw_src", "mx_a_cell", "mx_a_tri", "emb_src", "sim_src", "atk_a_dots", "atk_a_cv"]
B_VIEWS = ["tbl_src", "cw_src", "mx_b_cell", "mx_b_tri", "emb_src", "sim_src", "atk_b_dots", "atk_b_cv"]


def make_driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="uc-bench-")
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--window-size=1850,1900")
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": IDLE_PROBE})
    driver._bench_profile = profile
    return driver


def instrumented(site: Path) -> str:
    """The page's URL with the flag that makes it record its timings (js/instrument.js)."""
    return (site / "index.html").as_uri() + "?instrument"


def wait_ready(driver, timeout=30.0):
    end = time.time() + timeout
    while time.time() < end:
        if driver.execute_script("return !!(window.__uc_ready && window.__uc_prof && window.__bench_idle)"):
            return
        time.sleep(0.02)
    raise RuntimeError("the page did not become ready")


def first_render(driver, url, loads):
    idle, ready = [], []
    for _ in range(loads):
        driver.get("about:blank")
        driver.get(url)
        wait_ready(driver)
        i, r = driver.execute_script("return [window.__bench_idle, window.__uc_prof.ready]")
        idle.append(i)
        ready.append(r)
    return idle, ready


def wait_built(driver, timeout=30.0):
    """Wait until the page has built the panels it leaves out of the first render (js/main.js)."""
    end = time.time() + timeout
    while time.time() < end and not driver.execute_script("return !!window.__uc_prof.built"):
        time.sleep(0.02)


def switches(driver, url, n, tab):
    driver.get("about:blank")
    driver.get(url)
    wait_ready(driver)
    wait_built(driver)
    driver.execute_script(f"Bokeh.documents[0].get_model_by_name('core_tabs').active = {tab}")
    time.sleep(0.5)
    out = []
    for k in range(n):
        kind = "hdr_sel_a" if k % 2 == 0 else "hdr_sel_b"
        opts = driver.execute_script(
            f"return Bokeh.documents[0].get_model_by_name('{kind}').options.map((o) => o[0])"
        )
        current = driver.execute_script(f"return Bokeh.documents[0].get_model_by_name('{kind}').value")
        # an unlearned model (not the original) so the attack panel has data to change to
        choices = [o for o in opts[2:] if o != current] or [o for o in opts if o != current]
        if not choices:
            return []  # one model each for A and B: nothing to switch to
        target = choices[(k * 7) % len(choices)]
        r = driver.execute_async_script(SWITCH, kind, target, A_VIEWS if kind == "hdr_sel_a" else B_VIEWS)
        if "error" in r:
            raise RuntimeError(f"switch {kind} -> {target}: {r}")
        if r["unchanged"]:
            print(
                f"    note: after {kind} -> {target} these views hold the same data as before: "
                f"{r['unchanged']}"
            )
        out.append(r["total"])
        time.sleep(0.15)
    return out


def fc_switches(driver, url, n):
    driver.get("about:blank")
    driver.get(url)
    wait_ready(driver)
    wait_built(driver)
    nfc = driver.execute_script("return Bokeh.documents[0].get_model_by_name('hdr_fc').labels.length")
    if nfc < 2:
        return []
    out = []
    names = sorted(set(A_VIEWS + B_VIEWS) - {"atk_a_dots", "atk_a_cv"})  # A is the original: no attack panel
    for k in range(n):
        r = driver.execute_async_script(SWITCH, "fc", (k + 1) % nfc, names)
        if "error" in r:
            raise RuntimeError(f"forget-class switch: {r}")
        if r["unchanged"]:
            print(
                "    note: after the forget-class switch these views hold the same data as before: "
                f"{r['unchanged']}"
            )
        out.append(r["total"])
        time.sleep(0.15)
    return out


def seed_switches(driver, url, n):
    """Switch the replicate seed n times (the instance-level views of A and B change); [] with one seed."""
    driver.get("about:blank")
    driver.get(url)
    wait_ready(driver)
    wait_built(driver)
    seeds = driver.execute_script("return Bokeh.documents[0].get_model_by_name('hdr_seed').options.length")
    if seeds < 2:
        return []
    names = ["mx_a_cell", "mx_b_cell", "emb_src", "sim_src"]
    out = []
    for k in range(n):
        r = driver.execute_async_script(SWITCH, "hdr_seed", str((k + 1) % seeds), names)
        if "error" in r:
            raise RuntimeError(f"seed switch: {r}")
        out.append(r["total"])
        time.sleep(0.15)
    return out


def weight(site: Path) -> dict[str, float]:
    files = [p for p in site.rglob("*") if p.is_file()]
    raw = sum(p.stat().st_size for p in files)
    gz = sum(len(gzip.compress(p.read_bytes(), 6)) for p in files)
    index = site / "index.html"
    bokehjs = (
        sum(p.stat().st_size for p in (site / "static").rglob("*.js")) if (site / "static").exists() else 0
    )
    thumbs = sum(p.stat().st_size for p in (site / "assets").rglob("*")) if (site / "assets").exists() else 0
    return {
        "total_mb": raw / 1e6,
        "total_gzip_mb": gz / 1e6,
        "index_html_mb": index.stat().st_size / 1e6,
        "bokehjs_files_mb": bokehjs / 1e6,
        "thumbnails_mb": thumbs / 1e6,
    }


def stats(xs):
    return {"median": statistics.median(xs), "max": max(xs), "min": min(xs), "n": len(xs)} if xs else {}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tables", nargs="*", help="extra tables folders (results/<exp>/tables) to benchmark")
    parser.add_argument("--loads", type=int, default=8, help="page loads per site (first render)")
    parser.add_argument("--switches", type=int, default=12, help="A/B switches per tab")
    parser.add_argument("--no-switches", action="store_true", help="measure the first render and weight only")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--keep", help="build the sites into this folder and keep them")
    parser.add_argument(
        "--replicates",
        action="store_true",
        help="also a synthetic experiment with forget sets of every kind and three replicate seeds",
    )
    args = parser.parse_args(argv)

    from comparator_site import build_site
    from comparator_site.data import load

    from site_fixtures import write_experiment

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="uc-bench-sites-"))
    work.mkdir(parents=True, exist_ok=True)
    experiments = {
        "synthetic-3x22": write_experiment(
            work / "synthetic-tables", forget_classes=3, models_per_class=22, per_class=200
        )
    }
    if args.replicates:
        experiments["synthetic-sets-3seeds"] = write_experiment(
            work / "synthetic-sets-tables",
            forget_classes=[4],
            forget_sets=[{"classes": [2, 8]}, {"random": 0.1, "seed": 1}],
            seeds=[0, 1, 2],
            models_per_class=22,
            per_class=200,
        )
    for t in args.tables:
        experiments[Path(t).resolve().parent.name or Path(t).name] = Path(t)

    driver = make_driver()
    results = {}
    try:
        print(
            f"Chromium headless, {os.cpu_count()} CPU cores; "
            f"targets: first render <= {TARGET_FIRST_RENDER_MS} ms, "
            f"A/B switch <= {TARGET_SWITCH_MS} ms\n"
        )
        for name, tables in experiments.items():
            data = load(tables)
            per_fc = max(sum(1 for s in data.settings if s["fs"] == k) for k in range(len(data.sets)))
            print(
                f"== {name}: {len(data.runs)} runs, {len(data.sets)} forget sets, "
                f"{len(data.seeds)} seed(s), up to {per_fc} "
                f"models per forget set, {len(data.subset_index)} subset instances"
            )
            sites, builds, loads = {}, {}, {}
            for mode in ("shared", "inline"):
                site = work / f"{name}-{mode}"
                t0 = time.perf_counter()
                build_site(tables, site, bokeh_js=mode)
                builds[mode] = time.perf_counter() - t0
                sites[mode] = site
                loads[mode] = ([], [])
            # first render: the two modes interleaved, so that machine noise hits both alike
            for _ in range(args.loads):
                for mode in ("shared", "inline"):
                    idle, ready = first_render(driver, instrumented(sites[mode]), 1)
                    loads[mode][0].extend(idle)
                    loads[mode][1].extend(ready)
            for mode in ("shared", "inline"):
                site, build_s = sites[mode], builds[mode]
                url = instrumented(site)
                idle, ready = loads[mode]
                n_sw = 0 if args.no_switches else args.switches
                sw_emb = switches(driver, url, n_sw, 0) if n_sw else []
                sw_atk = switches(driver, url, n_sw, 1) if n_sw else []
                fc = fc_switches(driver, url, max(4, n_sw // 3)) if n_sw else []
                seed = seed_switches(driver, url, max(4, n_sw // 3)) if n_sw else []
                w = weight(site)
                r = {
                    "build_s": build_s,
                    "bokeh_idle_ms": stats(idle),
                    "ready_ms": stats(ready),
                    "ab_switch_embedding_tab_ms": stats(sw_emb),
                    "ab_switch_attack_tab_ms": stats(sw_atk),
                    "fc_switch_ms": stats(fc),
                    "seed_switch_ms": stats(seed),
                    "weight": w,
                    "models_per_forget_class": per_fc,
                }
                results[f"{name}/{mode}"] = r
                med_ready = r["ready_ms"]["median"]
                if not sw_emb:
                    why = (
                        "not measured (--no-switches)"
                        if not n_sw
                        else "no A/B switch possible (two models per forget class)"
                    )
                    fcs = f"; forget-set switch {r['fc_switch_ms']['median']:.0f} ms" if fc else ""
                    print(
                        f"  BokehJS {mode:6s}: first render: "
                        f"Bokeh idle {r['bokeh_idle_ms']['median']:.0f} ms, page ready "
                        f"{r['ready_ms']['median']:.0f} ms (max {r['ready_ms']['max']:.0f}); {why}{fcs}; "
                        f"weight {w['total_mb']:.2f} MB ({w['total_gzip_mb']:.2f} MB gzip), "
                        f"index.html {w['index_html_mb']:.2f} MB"
                    )
                    continue
                med_sw = max(
                    r["ab_switch_embedding_tab_ms"]["median"], r["ab_switch_attack_tab_ms"]["median"]
                )
                print(
                    f"  BokehJS {mode:6s}: build {build_s:.1f} s | first render: "
                    f"Bokeh idle {r['bokeh_idle_ms']['median']:.0f} ms, "
                    f"page ready {med_ready:.0f} ms (max {r['ready_ms']['max']:.0f}) = "
                    f"{med_ready / TARGET_FIRST_RENDER_MS:.2f} x target"
                )
                print(
                    "                  A/B switch: "
                    f"embedding tab {r['ab_switch_embedding_tab_ms']['median']:.0f} ms "
                    f"(max {r['ab_switch_embedding_tab_ms']['max']:.0f}), "
                    f"attack tab {r['ab_switch_attack_tab_ms']['median']:.0f} ms "
                    f"(max {r['ab_switch_attack_tab_ms']['max']:.0f}) = "
                    f"{med_sw / TARGET_SWITCH_MS:.2f} x target"
                    + (f" | forget-set switch {r['fc_switch_ms']['median']:.0f} ms" if fc else "")
                    + (f" | seed switch {r['seed_switch_ms']['median']:.0f} ms" if seed else "")
                )
                print(
                    f"                  weight: {w['total_mb']:.2f} MB ({w['total_gzip_mb']:.2f} MB gzip): "
                    f"index.html {w['index_html_mb']:.2f} MB, BokehJS files {w['bokehjs_files_mb']:.2f} MB, "
                    f"thumbnails {w['thumbnails_mb']:.2f} MB"
                )
            s, i = results[f"{name}/shared"], results[f"{name}/inline"]
            print(
                f"  inline / shared: first render {i['ready_ms']['median'] / s['ready_ms']['median']:.2f}, "
                f"weight {i['weight']['total_mb'] / s['weight']['total_mb']:.2f}\n"
            )
    finally:
        driver.quit()
        shutil.rmtree(driver._bench_profile, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

// Timings for benchmarks/site_benchmark.py, off unless the page is opened with ?instrument (e.g.
// index.html?instrument). Then window.__uc_prof holds when the page became ready and when it built the
// panels left out of the first render (performance.now(): ms from navigation start), how many model
// updates have run, and each view's time in the last one. Without the flag nothing is timed or recorded.

const PROF = new URLSearchParams(window.location.search).has("instrument")
  ? (window.__uc_prof = {ready: null, built: null, updates: 0, views: {}})
  : null;

function timed(view, update) {
  if (PROF === null) return update();
  const t0 = performance.now();
  update();
  PROF.views[view] = performance.now() - t0;
}

function mark(moment) {
  if (PROF !== null) PROF[moment] = performance.now();
}

function count_update() {
  if (PROF !== null) PROF.updates++;
}

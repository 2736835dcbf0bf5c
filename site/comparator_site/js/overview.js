// The overview (views/overview.py): the current forget set's whole field in four tabs. Trade-off: two
// linked scatter panels of the ok settings (ov.src, its selection the brush that filters the experiments
// table through S.brush), the Pareto fronts (flags from Python) and A/B rings; Best of each method;
// Sensitivity (SVG small multiples); Across forget sets. Static figures per setting are in ov.facts.
// Called by update_models (js/main.js) as ov_update(); ov_state()/ov_restore(obj) for a permalink.
// Strings from the tables go through esc() (HTML) or textContent (the tooltip, js/tooltip.js).

const OV_INFO = JSON.parse(ov.info);
const OVF = ov.facts.data;
const OV_TABS = ["tradeoff", "best", "sensitivity", "across"];
const OV_REF = {original: ["square_pin", "#111827", "Original"], retrained: ["diamond", COL.retrained, "Retrained"]};
// the metrics the "Best of each method" select ranks by (its options, views/overview.py): where the figure
// is (the settings store SET or the overview's facts OVF) and which way is better (-1 lower, 1 higher,
// 0.5: closest to 0.5)
const OV_BEST = {
  avg_gap: {from: "SET", dir: -1}, ugap: {from: "OVF", dir: -1}, util: {from: "OVF", dir: -1},
  RA: {from: "SET", dir: 1}, TA: {from: "SET", dir: 1}, PS: {from: "SET", dir: 1}, RTE: {from: "SET", dir: -1},
  ulira_auc: {from: "SET", dir: 0.5},
};
const OV_METRIC_NAMES = {
  UA: "UA", RA: "RA", TA: "TA", PS: "PS", RTE: "RTE (s)", avg_gap: "Avg. Gap", ulira_auc: "U-LiRA AUC",
};
const OV_SCALE = ["#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c"];

const OV = {
  fs: -1,              // the forget set the scatter was built for
  dirty: [true, true, true, true],  // tabs to redraw when shown
  pending: null,       // a permalink's brushed setting ids, applied once the points exist
};
S.brush = null;        // the brushed settings (a Set of SET rows) or null: js/table.js table_shows()

function ov_method_name(k) {
  const mi = OVF.mi[k];
  return mi >= 0 ? OV_INFO.names[mi] : SET.method_name[k];
}

function ov_color(k) {
  const ref = OV_REF[SET.type[k]];
  return ref ? ref[1] : category_color(Math.max(0, OVF.mi[k]));
}

function ov_marker(k) {
  const ref = OV_REF[SET.type[k]];
  if (ref) return ref[0];
  const mi = Math.max(0, OVF.mi[k]);
  return OV_INFO.markers[mi % OV_INFO.markers.length];
}

function ov_spread(v, sd) {
  return CFG.seeds.length > 1 && Number.isFinite(v) && Number.isFinite(sd) ? [v - sd, v + sd] : [NaN, NaN];
}

// the cost axis is logarithmic: no place for a time of 0
function ov_cost(v) {
  return OV_INFO.log_cost && !(v > 0) ? NaN : v;
}

// the trade-off panels' points: the forget set's ok settings
function ov_plot() {
  const rows = ok_settings(S.fs);
  const d = {};
  for (const f of Object.keys(ov.src.data)) d[f] = new Array(rows.length);
  rows.forEach((k, j) => {
    d.k[j] = k;
    d.x1[j] = OVF.ugap[k]; d.y1[j] = OVF.util[k];
    d.x2[j] = OVF.priv[k]; d.y2[j] = ov_cost(OVF.cost[k]);
    [d.x1lo[j], d.x1hi[j]] = ov_spread(OVF.ugap[k], OVF.ugap_sd[k]);
    [d.y1lo[j], d.y1hi[j]] = ov_spread(OVF.util[k], OVF.util_sd[k]);
    [d.x2lo[j], d.x2hi[j]] = ov_spread(OVF.priv[k], OVF.priv_sd[k]);
    const [lo, hi] = ov_spread(OVF.cost[k], OVF.cost_sd[k]);
    // on a log axis a bar reaching 0 or below stops at a tenth of the value
    d.y2lo[j] = OV_INFO.log_cost && lo <= 0 ? d.y2[j] / 10 : lo; d.y2hi[j] = hi;
    const c = ov_color(k);
    d.color[j] = c;
    d.line[j] = darker(c, 1);
    d.marker[j] = ov_marker(k);
    const ref = OV_REF[SET.type[k]];
    d.size[j] = ref ? 13 : 9;
    d.lab[j] = ref ? ref[2] : "";
  });
  // a reference's label goes beside its point on the side of the panel's middle, so that it stays inside
  for (const i of ["1", "2"]) {
    const xs = d["x" + i].filter(Number.isFinite), lo = Math.min(...xs), hi = Math.max(...xs);
    d["x" + i].forEach((x, j) => {
      const right = xs.length > 1 && x > lo + 0.6 * (hi - lo);
      d["al" + i][j] = right ? "right" : "left";
      d["dx" + i][j] = right ? -10 : 10;
    });
  }
  ov.src.data = d;
  // the Pareto fronts, sorted by x (the shorter padded with NaN: one source for both panels)
  const front = (f, x, y) => rows.filter((k) => OVF[f][k] === 1)
    .map((k) => [OVF[x][k], y === "cost" ? ov_cost(OVF[y][k]) : OVF[y][k]])
    .sort((p, q) => p[0] - q[0] || p[1] - q[1]);
  const f1 = front("f1", "ugap", "util"), f2 = front("f2", "priv", "cost");
  const n = Math.max(f1.length, f2.length);
  const col = (pts, i) => Array.from({length: n}, (_, j) => (j < pts.length ? pts[j][i] : NaN));
  ov.front.data = {x1: col(f1, 0), y1: col(f1, 1), x2: col(f2, 0), y2: col(f2, 1)};
}

// the rings of the settings chosen as A and B
function ov_rings() {
  const d = {x1: [], y1: [], x2: [], y2: [], color: []};
  for (const [k, c] of [[S.sa, COL.A], [S.sb, COL.B]]) {
    if (k < 0 || SET.fs[k] !== S.fs) continue;
    d.x1.push(OVF.ugap[k]); d.y1.push(OVF.util[k]);
    d.x2.push(OVF.priv[k]); d.y2.push(ov_cost(OVF.cost[k]));
    d.color.push(c);
  }
  ov.rings.data = d;
}

function ov_side_note() {
  const rows = ok_settings(S.fs);
  const methods = new Set(rows.map((k) => OVF.mi[k]).filter((mi) => mi >= 0));
  const legend = [...methods].sort((a, b) => a - b).map((mi) =>
    `<span><span class="ov-sw" style="background:${category_color(mi)}"></span>` +
    `${esc(OV_INFO.names[mi])} <span class="uc-tick">(${esc(OV_INFO.markers[mi % OV_INFO.markers.length])})</span></span>`);
  const brush = S.brush ? `<b>${S.brush.size}</b> setting(s) brushed: the experiments table shows them and the ` +
    `references.` : "Drag a box (box select) to filter the experiments table.";
  const seeds = CFG.seeds.length > 1 ? ` Bars: \u00b1 std over ${CFG.seeds.length} seeds.` : "";
  set_html(ov.note, `<div class="ov-note"><div class="ov-legend">${legend.join("")}</div>` +
    `<p>Dashed: the Pareto front of the unlearned settings (minimising both). Rings: ` +
    `<b style="color:${COL.A}">Model A</b>, <b style="color:${COL.B}">Model B</b>. ${seeds}</p>` +
    `<p>${brush}</p></div>`);
}

// everything that follows the forget set, A and B; replot: the points too (a new forget set redraws them
// anyway; the palette's switch asks for it, their colours being read afresh), else only A's and B's rings
function ov_update(replot = false) {
  const fs_changed = OV.fs !== S.fs;
  OV.fs = S.fs;
  if (fs_changed) {
    const had = S.brush != null;
    S.brush = null;  // a forget-set switch clears the brush
    if (ov.src.selected.indices.length) ov.src.selected.indices = [];
    if (had) table_update();
  }
  if (!fs_changed && !replot) {
    ov_rings();
    OV.dirty = [false, true, true, OV.dirty[3]];  // Best and Sensitivity ring A and B; Across does not
    return ov_draw_tab();
  }
  ov_plot();
  if (OV.pending != null) {  // a permalink's brush, on load
    const ids = OV.pending;
    OV.pending = null;
    ov_apply_brush(ids);
  }
  ov_rings();
  ov_side_note();
  OV.dirty = [false, true, true, true];
  ov_draw_tab();
}

function ov_draw_tab() {
  const t = ov.tabs.active;
  if (!OV.dirty[t]) return;
  OV.dirty[t] = false;
  if (t === 1) ov_best();
  if (t === 2) ov_sensitivity();
  if (t === 3) ov_across();
}

// the brush: ov.src's selection (a box select, or set by a script)
function ov_brush_changed() {
  const t0 = performance.now();
  const idx = ov.src.selected.indices, ks = ov.src.data.k;
  const next = idx.length ? new Set(Array.from(idx, (i) => ks[i]).filter((k) => k != null)) : null;
  S.brush = next;
  table_update();
  window.__uc_brush_ms = performance.now() - t0;  // for the browser tests and benchmarks
  ov_side_note();
}

function ov_clear() {
  S.brush = null;
  if (ov.src.selected.indices.length) ov.src.selected.indices = [];
  table_update();
  ov_side_note();
}

function ov_click_side() {
  return ov.click.active === 0 ? "A" : "B";
}

// make setting k Model A or B, by the "Click sets" toggle (js/table.js pick_model)
function ov_pick(k) {
  return pick_model(k, ov_click_side());
}

// a click on a panel: the nearest point within 12 px
function ov_tap(fig, ev) {
  const v = view_of(fig);
  if (v == null) return;
  const d = ov.src.data, [x, y] = fig === ov.fig1 ? [d.x1, d.y1] : [d.x2, d.y2];
  let best = -1, bd = 144;
  for (let i = 0; i < d.k.length; i++) {
    if (!Number.isFinite(x[i]) || !Number.isFinite(y[i])) continue;
    const dx = v.frame.x_scale.compute(x[i]) - ev.sx, dy = v.frame.y_scale.compute(y[i]) - ev.sy;
    if (dx * dx + dy * dy < bd) { bd = dx * dx + dy * dy; best = i; }
  }
  if (best >= 0) ov_pick(d.k[best]);
}

function ov_hp_text(k) {
  const out = [];
  for (const f of Object.keys(OVF)) {
    if (f.startsWith("h_") && Number.isFinite(OVF[f][k])) out.push(`${f.slice(2)}=${OVF[f][k]}`);
  }
  return out.join(", ");
}

function ov_pm(v, sd, digits = 3) {
  return Number.isFinite(v) && Number.isFinite(sd) && CFG.seeds.length > 1
    ? `${fmt(v, digits)} \u00b1 ${fmt(sd, digits)}` : fmt(v, digits);
}

// the same in a table cell: the spread on a second, smaller line, so that the tables fit their width
function ov_pm_cell(v, sd, digits = 3) {
  return Number.isFinite(v) && Number.isFinite(sd) && CFG.seeds.length > 1
    ? `${fmt(v, digits)}<span class="ov-sd"> \u00b1 ${fmt(sd, digits)}</span>` : fmt(v, digits);
}

function ov_hover(fig, data) {
  const idx = data.index.indices;
  if (!idx.length) { tip_hide(); return; }
  const k = ov.src.data.k[idx[0]];
  const at = client_of_screen(fig, data.geometry.sx, data.geometry.sy);
  if (at == null) return;
  const priv = OV_INFO.audit ? "U-LiRA AUC" : "Privacy gap |PS \u2212 PS r.|";
  tip_text(at[0], at[1], SET.id[k], [
    ["Method", ov_method_name(k) || SET.type_label[k], ov_color(k)],
    ["Hyperparameters", ov_hp_text(k) || "-"],
    ["Forgetting gap", ov_pm(OVF.ugap[k], OVF.ugap_sd[k])],
    ["Utility gap", ov_pm(OVF.util[k], OVF.util_sd[k])],
    [priv, ov_pm(OVF.priv[k], OVF.priv_sd[k])],
    ["Run time (s)", ov_pm(OVF.cost[k], OVF.cost_sd[k], 1)],
    ["Click sets", `Model ${ov_click_side()}`],
  ]);
}

// ---- Best of each method ----
function ov_value(m, k) {
  const from = OV_BEST[m] ? OV_BEST[m].from : "SET";
  return from === "OVF" ? OVF[m][k] : (SET[m] ? SET[m][k] : NaN);
}

function ov_score(m, k) {
  const v = ov_value(m, k), dir = OV_BEST[m].dir;
  if (!Number.isFinite(v)) return Infinity;
  return dir === 0.5 ? Math.abs(v - 0.5) : -dir * v;
}

// per method of the forget set: its chosen setting, or the best by metric m
function ov_best_rows(fs, m) {
  const by = new Map();
  for (const k of ok_settings(fs)) {
    if (OVF.mi[k] < 0) continue;
    const cur = by.get(OVF.mi[k]);
    const better = m === "chosen"
      ? SET.chosen[k] === 1 && (cur === undefined || SET.chosen[cur] !== 1)
      : cur === undefined || ov_score(m, k) < ov_score(m, cur);
    if (better || (cur === undefined && m === "chosen")) by.set(OVF.mi[k], k);
  }
  return [...by.entries()].sort((a, b) => a[0] - b[0]);
}

function ov_cell(m, k) {
  const sd = SET[m + "_std"] ? SET[m + "_std"][k] : NaN;
  return ov_pm_cell(SET[m][k], sd, m === "RTE" ? 1 : 3);
}

function ov_best() {
  const m = ov.best_by.value in OV_BEST ? ov.best_by.value : "chosen";
  const metrics = ["UA", "RA", "TA", "PS", "RTE", "avg_gap"].concat(OV_INFO.audit ? ["ulira_auc"] : []);
  const head = ["Method", "Setting", "\u2605", "Epochs", "LR", "BS"].concat(metrics.map((x) => OV_METRIC_NAMES[x]))
    .concat(["UA gap", "Utility gap"]);
  const rows = ov_best_rows(S.fs, m).map(([mi, k]) => {
    const cls = "ov-row" + (k === S.sa ? " ov-a" : "") + (k === S.sb ? " ov-b" : "");
    const cells = [
      `<span class="ov-sw" style="background:${category_color(mi)}"></span>${esc(OV_INFO.names[mi])}`,
      esc(SET.id[k]), SET.chosen[k] === 1 ? "\u2605" : "", esc(SET.epochs_txt[k]), esc(SET.lr_txt[k]), esc(SET.bs_txt[k]),
    ].concat(metrics.map((x) => ov_cell(x, k)))
      .concat([ov_pm_cell(OVF.ugap[k], OVF.ugap_sd[k]), ov_pm_cell(OVF.util[k], OVF.util_sd[k])]);
    return `<tr class="${cls}" data-ovk="${k}" title="Click: set Model ${ov_click_side()}">` +
      cells.map((c, i) => `<td${i === 1 ? ' class="ov-id"' : ""}>${c}</td>`).join("") + "</tr>";
  });
  const what = m === "chosen" ? "its chosen setting (\u2605; a method without one: its first ok setting)"
    : `its best setting by ${esc(m)}`;
  set_html(ov.best, `<div class="ov-note">One row per method of ${esc(set_info(S.fs).name)}: ${what}. ` +
    `${CFG.seeds.length > 1 ? "Mean \u00b1 std over seeds." : ""}</div><div class="ov-scroll"><table class="ov-tbl">` +
    `<tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr>${rows.join("")}</table></div>`);
}

// clicks on the best-of-method rows (inside a Div's shadow DOM: found through the composed path)
// a click on a row of the overview's tables (js/main.js listens); true if it changed A or B
function ov_row_click(ev) {
  const path = ev.composedPath ? ev.composedPath() : [];
  const target = path.find((n) => n && n.dataset && n.dataset.ovk !== undefined);
  return target ? ov_pick(Number(target.dataset.ovk)) : false;
}

// ---- Sensitivity ----
function ov_scale(lo, hi, log, a, b) {
  if (log) { lo = Math.log10(lo); hi = Math.log10(hi); }
  const span = hi - lo || 1;
  return (v) => a + ((log ? Math.log10(v) : v) - lo + (hi === lo ? span / 2 : 0)) / span * (b - a);
}

function ov_panel(method, key, log, m, rows, retr) {
  const W = 170, H = 118, L = 34, Rm = 6, T = 14, B = 22;
  const xs = rows.map((k) => OVF["h_" + key][k]);
  const sd = (k) => (SET[m + "_std"] ? SET[m + "_std"][k] : NaN);
  const ys = [];
  rows.forEach((k) => {
    ys.push(SET[m][k]);
    const s = sd(k);
    if (Number.isFinite(s)) ys.push(SET[m][k] - s, SET[m][k] + s);
  });
  const ref = retr != null ? SET[m][retr] : NaN;
  if (Number.isFinite(ref)) ys.push(ref);
  const fx = xs.filter(Number.isFinite), fy = ys.filter(Number.isFinite);
  if (!fx.length || !fy.length) return "";
  const sx = ov_scale(Math.min(...fx), Math.max(...fx), log, L + 6, W - Rm - 6);
  const ylo = Math.min(...fy), yhi = Math.max(...fy);
  const sy = ov_scale(ylo, yhi, false, H - B, T);
  const parts = [`<svg width="${W}" height="${H}">`,
    `<text x="${L}" y="10" font-size="10" font-weight="600">${esc(OV_METRIC_NAMES[m])} vs ${esc(key)}${log ? " (log)" : ""}</text>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#9CA3AF"/>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - Rm}" y2="${H - B}" stroke="#9CA3AF"/>`,
    `<text x="${L - 3}" y="${T + 4}" font-size="9" text-anchor="end">${fmt(yhi, m === "RTE" ? 1 : 2)}</text>`,
    `<text x="${L - 3}" y="${H - B}" font-size="9" text-anchor="end">${fmt(ylo, m === "RTE" ? 1 : 2)}</text>`,
    `<text x="${L + 6}" y="${H - 8}" font-size="9">${esc(String(Math.min(...fx)))}</text>`,
    `<text x="${W - Rm - 6}" y="${H - 8}" font-size="9" text-anchor="end">${esc(String(Math.max(...fx)))}</text>`];
  if (Number.isFinite(ref)) {
    parts.push(`<line x1="${L}" y1="${sy(ref)}" x2="${W - Rm}" y2="${sy(ref)}" stroke="${COL.retrained}" ` +
      `stroke-dasharray="4 3"><title>Retrained: ${fmt(ref)}</title></line>`);
  }
  const colour = category_color(Math.max(0, OV_INFO.methods.indexOf(method)));
  rows.forEach((k, j) => {
    const x = xs[j], y = SET[m][k], s = sd(k);
    if (!Number.isFinite(x) || !Number.isFinite(y)) return;
    if (Number.isFinite(s) && CFG.seeds.length > 1) {
      parts.push(`<line x1="${sx(x)}" y1="${sy(y - s)}" x2="${sx(x)}" y2="${sy(y + s)}" stroke="#9CA3AF"/>`);
    }
    const ring = k === S.sa ? COL.A : k === S.sb ? COL.B : SET.chosen[k] === 1 ? "#111827" : "none";
    parts.push(`<circle cx="${sx(x)}" cy="${sy(y)}" r="3.5" fill="${colour}" stroke="${ring}" stroke-width="1.5">` +
      `<title>${esc(SET.id[k])}: ${esc(key)}=${esc(String(x))}, ${esc(OV_METRIC_NAMES[m])} ${ov_pm(y, s)}</title></circle>`);
  });
  parts.push("</svg>");
  return parts.join("");
}

function ov_sensitivity() {
  const method = ov.sens_method.value;
  const mi = OV_INFO.methods.indexOf(method);
  const name = mi >= 0 ? OV_INFO.names[mi] : method;
  const grid = OV_INFO.axes[S.fs][method];
  const set_name = esc(set_info(S.fs).name);
  if (grid === undefined) {
    set_html(ov.sens, `<div class="ov-note">${esc(name)} has no ok setting on ${set_name}.</div>`);
    return;
  }
  if (!grid.axes.length) {
    set_html(ov.sens, `<div class="ov-note">${esc(name)} has a single grid point on ${set_name} ` +
      `(${grid.n} setting${grid.n === 1 ? "" : "s"} with the same hyperparameters): no hyperparameter varies, ` +
      `so there is nothing to show here.</div>`);
    return;
  }
  const rows = ok_settings(S.fs).filter((k) => SET.method[k] === method);
  const retr = set_info(S.fs).retrained;
  const metrics = ["UA", "RA", "TA", "PS", "RTE"].concat(OV_INFO.audit ? ["ulira_auc"] : []);
  const panels = [];
  for (const m of metrics) for (const ax of grid.axes) panels.push(ov_panel(method, ax.key, ax.log, m, rows, retr));
  set_html(ov.sens, `<div class="ov-note">${esc(name)} on ${set_name}: each metric against each hyperparameter ` +
    `that varies in its grid (${grid.axes.map((a) => esc(a.key)).join(", ")}); dashed: the retrained model; ` +
    `rings: <b style="color:${COL.A}">A</b>, <b style="color:${COL.B}">B</b>, black: chosen (\u2605)` +
    `${CFG.seeds.length > 1 ? "; whiskers \u00b1 std over seeds" : ""}.</div>` +
    `<div class="ov-grid" data-panels="${panels.length}" style="display:grid;grid-template-columns:repeat(` +
    `${Math.min(6, Math.max(grid.axes.length, Math.floor(6 / grid.axes.length) * grid.axes.length))}, 172px)">` +
    `${panels.join("")}</div>`);
}

// ---- Across forget sets ----
// the setting shown for a method on forget set fs: its chosen one, else its lowest Avg. Gap
function ov_pick_of(fs, method) {
  const mine = ok_settings(fs).filter((k) => SET.method[k] === method);
  const chosen = mine.find((k) => SET.chosen[k] === 1);
  if (chosen !== undefined) return [chosen, true];
  let best = -1;
  for (const k of mine) if (best < 0 || SET.avg_gap[k] < SET.avg_gap[best]) best = k;
  return [best, false];
}

function ov_across() {
  const m = SET[ov.across_metric.value] ? ov.across_metric.value : "UA";
  const gap = ov.across_mode.active === 0 && m !== "avg_gap";
  const sets = CFG.sets.map((_, fs) => fs);
  const cells = OV_INFO.methods.map((method) => sets.map((fs) => {
    const [k, chosen] = ov_pick_of(fs, method);
    if (k < 0) return null;
    const r = set_info(fs).retrained;
    let v = SET[m][k];
    if (gap) v = r != null ? Math.abs(v - SET[m][r]) : NaN;
    const sd = SET[m + "_std"] ? SET[m + "_std"][k] : NaN;
    return {k, v, sd, chosen};
  }));
  const vals = cells.flat().filter((c) => c && Number.isFinite(c.v)).map((c) => c.v);
  const lo = Math.min(...vals), hi = Math.max(...vals);
  const colour = (v) => {
    if (!Number.isFinite(v) || !vals.length) return ["transparent", "#111827"];
    const t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
    return [ramp(OV_SCALE, t), t > 0.6 ? "#ffffff" : "#111827"];
  };
  const head = `<tr><th>Method</th>${sets.map((fs) => `<th>${esc(set_info(fs).name)}</th>`).join("")}</tr>`;
  const body = OV_INFO.methods.map((method, mi) => {
    const tds = cells[mi].map((c) => {
      if (c == null) return '<td class="uc-tick">not run</td>';
      const [bg, fg] = colour(c.v);
      return `<td style="background:${bg};color:${fg}" title="${esc(SET.id[c.k])}${c.chosen ? " (\u2605)" : " (lowest Avg. Gap)"}">` +
        `${ov_pm_cell(c.v, c.sd, m === "RTE" ? 1 : 3)}${c.chosen ? "" : " \u2020"}</td>`;
    });
    return `<tr><td><span class="ov-sw" style="background:${category_color(mi)}"></span>${esc(OV_INFO.names[mi])}</td>${tds.join("")}</tr>`;
  });
  const one = sets.length === 1 ? " This experiment has a single forget set: one column." : "";
  const what = gap ? `|${esc(OV_METRIC_NAMES[m])} \u2212 the set's retrained model's|` : esc(OV_METRIC_NAMES[m]);
  set_html(ov.across, `<div class="ov-note">Each method's chosen setting (\u2605; \u2020: none chosen, its lowest ` +
    `Avg. Gap) per forget set: ${what}${CFG.seeds.length > 1 ? ", mean \u00b1 std over seeds" : ""}; darker: larger.` +
    `${one}</div><div class="ov-scroll"><table class="ov-tbl">${head}${body.join("")}</table></div>`);
}

// ---- events (dispatch, js/main.js) ----
function ov_tab_changed() {
  tip_hide();
  ov_draw_tab();
}

function ov_redraw(tab) {
  OV.dirty[tab] = true;
  ov_draw_tab();
}

// ---- a permalink's part (js/permalink.js: fields that differ from the defaults; strings back) ----
function ov_state() {
  const ks = ov.src.data.k;
  const brush = OV.pending != null ? OV.pending : Array.from(ov.src.selected.indices, (i) => SET.id[ks[i]]);
  const out = {};
  if (ov.tabs.active !== 0) out.tab = OV_TABS[ov.tabs.active];
  if (ov.click.active !== 1) out.click = "A";
  if (ov.best_by.value !== "chosen") out.best = ov.best_by.value;
  if (ov.sens_method.value !== OV_INFO.methods[0]) out.sens = ov.sens_method.value;
  if (ov.across_metric.value !== "UA") out.across = ov.across_metric.value;
  if (ov.across_mode.active !== 0) out.mode = "raw";
  if (brush.length) out.brush = brush;
  return out;
}

// obj: the fields (strings, or arrays for the brush); missing or unknown values take the defaults.
// initial: before the page's first update (the brush is applied by ov_update, once the points exist)
function ov_restore(obj, initial = false) {
  if (obj == null || typeof obj !== "object") obj = {};
  const has = (sel, v) => sel.options.some((o) => (Array.isArray(o) ? o[0] : o) === v);
  const put = (model, attr, v) => { if (model[attr] !== v) model[attr] = v; };
  put(ov.tabs, "active", OV_TABS.includes(obj.tab) ? OV_TABS.indexOf(obj.tab) : 0);
  put(ov.click, "active", obj.click === "A" ? 0 : 1);
  put(ov.best_by, "value", has(ov.best_by, obj.best) ? obj.best : "chosen");
  put(ov.sens_method, "value", has(ov.sens_method, obj.sens) ? obj.sens : (OV_INFO.methods[0] ?? ""));
  put(ov.across_metric, "value", has(ov.across_metric, obj.across) ? obj.across : "UA");
  put(ov.across_mode, "active", obj.mode === "raw" ? 1 : 0);
  const raw = obj.brush;
  const ids = Array.isArray(raw) ? raw.map(String) : typeof raw === "string" && raw ? raw.split(",") : [];
  if (initial) {
    OV.pending = ids.length ? ids : null;
    return;
  }
  ov_apply_brush(ids);
  OV.dirty = [false, true, true, true];
  ov_draw_tab();
}

// brush the current forget set's points whose setting ids are given (others ignored)
function ov_apply_brush(ids) {
  const ks = ov.src.data.k, want = new Set(ids);
  const idx = [];
  for (let i = 0; i < ks.length; i++) if (want.has(SET.id[ks[i]])) idx.push(i);
  const now = Array.from(ov.src.selected.indices);
  if (now.length !== idx.length || now.some((v, j) => v !== idx[j])) ov.src.selected.indices = idx;
  ov_brush_changed();
}

permalink_part("ov", ov_state, ov_restore, ["tab", "brush"]);

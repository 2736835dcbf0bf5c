// Attack simulation: A and B each against the retrained model of the forget set, of the model's own
// replicate seed. Values and curves come from the stores (fgt: per-instance entropy/confidence of the
// forget set's instances in the evaluation subset; atk: the attack curves of the same instances, scope
// "subset").

const ATK_AXIS = [
  {lo: 0, hi: 2.5, step: 0.05, dflt: 1.25, label: "Entropy", field: "entropy"},
  {lo: -2.5, hi: 10, step: 0.25, dflt: 3.75, label: "Top-1 Confidence", field: "confidence"},
];

const ATK_LABEL_ROOM = 0.34;  // share of the butterfly's frame, at its left, for the threshold labels

const _combined = new Map();

// the run's curve of one metric, per threshold the direction with the higher attack score
function atk_combined(k, metric) {
  const key = k * 2 + metric;
  if (_combined.has(key)) return _combined.get(key);
  let out = null;
  const off = k >= 0 ? R.off_atk[k] : -1;
  if (off >= 0) {
    const D = st.atk.data;
    const u = off + (metric * 2) * T, r = off + (metric * 2 + 1) * T;
    out = {thr: [], score: [], fpr: [], fnr: [], dir: []};
    for (let i = 0; i < T; i++) {
      const su = D.score[u + i], sr = D.score[r + i];
      const d = Number.isFinite(sr) && !(sr <= su) && (sr > su || !Number.isFinite(su)) ? 1 : 0;
      const b = d === 1 ? r : u;
      if (!Number.isFinite(D.thr[b + i])) continue;
      out.thr.push(D.thr[b + i]);
      out.score.push(D.score[b + i]);
      out.fpr.push(D.fpr[b + i]);
      out.fnr.push(D.fnr[b + i]);
      out.dir.push(d);
    }
    if (!out.thr.length) out = null;
  }
  _combined.set(key, out);
  return out;
}

function atk_nearest(comb, t) {
  let best = 0, bd = Infinity;
  for (let i = 0; i < comb.thr.length; i++) {
    const d = Math.abs(comb.thr[i] - t);
    if (d < bd - 1e-9) { bd = d; best = i; }
  }
  return best;
}

function atk_values(k, metric) {
  const off = k >= 0 ? R.off_fgt[k] : -1;
  if (off < 0) return null;
  const F = forget_positions(S.fs).length;
  const arr = st.fgt.data[ATK_AXIS[metric].field];
  // a plain view: subarray() on BokehJS's typed-array subclasses returns the whole buffer
  return new Float32Array(arr.buffer, arr.byteOffset + off * 4, F);
}

function atk_clip(v, ax) {
  return clamp(Number.isFinite(v) ? v : ax.lo, ax.lo, ax.hi);
}

// correctly attributed samples at t, as the original's Max Success Rate (ties count for both sides)
function atk_success(rv, mv, t, dir, ax) {
  let n = 0;
  for (const v0 of rv) { const v = atk_clip(v0, ax); if (dir === 0 ? v <= t : v >= t) n++; }
  for (const v0 of mv) { const v = atk_clip(v0, ax); if (dir === 0 ? v >= t : v <= t) n++; }
  return n;
}

function atk_max_success(comb, rv, mv, ax) {
  const cands = new Set();
  for (const arr of [rv, mv]) {
    for (const v0 of arr) {
      const v = atk_clip(v0, ax);
      const c0 = Math.floor(v / ax.step + 1e-9) * ax.step;
      for (const c of [c0, c0 + ax.step]) cands.add(Math.round(clamp(c, ax.lo, ax.hi) / ax.step));
    }
  }
  let best = null, bn = -1;
  for (const q of [...cands].sort((x, y) => x - y)) {
    const t = q * ax.step;
    const n = atk_success(rv, mv, t, comb.dir[atk_nearest(comb, t)], ax);
    if (n > bn) { bn = n; best = t; }
  }
  return best;
}

function atk_max_score(comb) {
  return comb.thr[argmax(comb.score)];
}

function atk_common(ca, cb) {
  const base = ca || cb;
  if (!base) return null;
  let best = 0, bv = -Infinity;
  for (let i = 0; i < base.thr.length; i++) {
    const t = base.thr[i];
    const v = (ca ? ca.score[atk_nearest(ca, t)] : 0) + (cb ? cb.score[atk_nearest(cb, t)] : 0);
    if (v > bv) { bv = v; best = i; }
  }
  return base.thr[best];
}

function atk_context(ab) {
  const k = model_of(ab), m = S.atk.metric;
  const rs = set_info(S.fs).retrained;
  const retr = rs == null || k < 0 ? null : run_of(rs, R.seed_pos[k]);
  return {k, retr, comb: atk_combined(k, m), rv: retr == null ? null : atk_values(retr, m), mv: atk_values(k, m)};
}

function atk_recompute() {
  const ax = ATK_AXIS[S.atk.metric];
  const ctx = {a: atk_context("a"), b: atk_context("b")};
  const th = {1: {}, 2: {}, 3: {}};
  for (const ab of ["a", "b"]) {
    const c = ctx[ab];
    th[1][ab] = c.comb ? atk_max_score(c.comb) : null;
    th[2][ab] = c.comb && c.rv && c.mv ? atk_max_success(c.comb, c.rv, c.mv, ax) : null;
  }
  const common = atk_common(ctx.a.comb, ctx.b.comb);
  th[3] = {a: common, b: common};
  const s = S.atk.strategy;
  for (const ab of ["a", "b"]) {
    const t = s === 0 ? S.atk.custom : th[s][ab];
    S.atk.thr[ab] = t == null ? S.atk.custom : t;
  }
  const f = (t) => (t == null ? "-" : t.toFixed(2));
  set_html(atk.strategy_info, '<div class="uc-small uc-strat">' +
                              `Max Attack Score (A: ${f(th[1].a)}, B: ${f(th[1].b)}) \u00b7 ` +
                              `Max Success Rate (A: ${f(th[2].a)}, B: ${f(th[2].b)}) \u00b7 Common (${f(common)})</div>`);
  atk.thr.disabled = s !== 0;
  atk.yr.setv({start: ax.lo, end: ax.hi});
  for (const ab of ["a", "b"]) atk_panel(ab, ctx[ab]);
}

function atk_panel(ab, c) {
  const P = atk[ab], ax = ATK_AXIS[S.atk.metric];
  const colour = ab === "a" ? COL.A : COL.B, light = ab === "a" ? COL.A_light : COL.B_light;
  const name = `Model ${ab.toUpperCase()}`;
  set_html(P.title, `<div class="uc-panel-title">Retrained Model (${esc(c.retr == null ? "none" : R.id[c.retr])}) vs. ` +
                    `${model_tag(ab, c.k)}</div>`);
  let why = null;
  if (is_original(c.k)) why = "Please select an unlearned model to compare the attack results";
  else if (c.retr == null || c.retr < 0) why = "This forget set has no retrained model to attack against";
  else if (!c.comb || !c.rv || !c.mv) why = "No attack data for this model";
  if (why) {
    set_html(P.msg, `<div class="uc-empty">${esc(why)}</div>`);
    set_shown(P.body, false);
    S.atk.drawn[ab] = null;
    P.dots.data = {x: [], y: [], color: [], key: [], inst: []};
    P.cv.data = {thr: [], score: [], fpr: [], fnr: []};
    P.hl.data = {x: [], y: []};
    return;
  }
  set_html(P.msg, "");
  set_shown(P.body, true);
  const t = S.atk.thr[ab];
  const i = atk_nearest(c.comb, t);
  const dir = c.comb.dir[i], score = c.comb.score[i];
  const nb = Math.round((ax.hi - ax.lo) / ax.step);
  const bin = (v) => clamp(Math.floor((atk_clip(v, ax) - ax.lo) / ax.step + 1e-9), 0, nb - 1);
  const pred_model = (v) => (atk_clip(v, ax) >= t) === (dir === 0);
  const F = c.rv.length, pos = forget_positions(S.fs);
  const d = {x: new Float32Array(2 * F), y: new Float32Array(2 * F), color: new Uint32Array(2 * F),
             key: new Array(2 * F), inst: new Int32Array(2 * F)};
  const cnt = [new Int32Array(nb), new Int32Array(nb)];
  const items = [];
  let success = 0, max_count = 0;
  for (const [side, vals] of [[0, c.rv], [1, c.mv]]) {
    for (let j = 0; j < F; j++) {
      const v = vals[j], b = bin(v), q = side * F + j;
      const stack = cnt[side][b]++;
      max_count = Math.max(max_count, stack + 1);
      const pm = pred_model(v);
      d.x[q] = side === 0 ? -(stack + 0.5) : stack + 0.5;
      d.y[q] = ax.lo + (b + 0.5) * ax.step;
      d.color[q] = rgba32(side === 0 ? (pm ? COL.retrained : COL.retrained_light) : (pm ? colour : light), pm ? 1 : 0.45);
      d.key[q] = (side === 0 ? "r" : "m") + j;
      d.inst[q] = pos[j];
      const ok = side === 0 ? !pm : pm;
      if (ok) success++;
      items.push({key: d.key[q], inst: pos[j], side, ok, v});
    }
  }
  P.dots.data = d;
  P.hl.data = {x: [], y: []};
  const half = Math.max(10, Math.min(max_count + 2, 60));
  // the left ATK_LABEL_ROOM of the frame is kept free of dots for the threshold's labels (issue 13)
  P.xr.setv({start: -half - 2 * half * ATK_LABEL_ROOM / (1 - ATK_LABEL_ROOM), end: half});
  P.yaxis.axis_label = ax.label;
  P.span_b.location = t;
  P.span_c.location = t;
  const above = dir === 0 ? name : "Retrained", below = dir === 0 ? "Retrained" : name;
  // both labels stay inside the frame: at the bottom (threshold 0) both go above the line, at the top below
  const near = 0.07 * (ax.hi - ax.lo);
  const [up_off, dn_off] = t - ax.lo < near ? [18, 4] : ax.hi - t < near ? [-14, -28] : [4, -14];
  P.up.setv({y: t, y_offset: up_off, text: `\u2191 Pred as ${above}`});
  P.dn.setv({y: t, y_offset: dn_off, text: `\u2193 Pred as ${below}`});
  P.dim.setv(dir === 0 ? {bottom: ax.lo, top: t} : {bottom: t, top: ax.hi});
  P.cv.data = {thr: c.comb.thr.slice(), score: c.comb.score.slice(), fpr: c.comb.fpr.slice(), fnr: c.comb.fnr.slice()};
  const red = (cond) => (cond ? ' class="uc-red"' : "");
  set_html(P.info, `<div class="uc-atk-info"><span${red(S.atk.strategy === 3)}>Threshold: <b>${t.toFixed(2)}</b></span>` +
                   `<span${red(S.atk.strategy === 1)}>Attack Score: <b>${fmt(score)}</b></span>` +
                   `<span>FPR: <b>${fmt(c.comb.fpr[i])}</b></span><span>FNR: <b>${fmt(c.comb.fnr[i])}</b></span></div>`);
  // this view scores the evaluation subset's forget images at one threshold; the table's PS is the worst
  // threshold over every forget-class training image: both are shown, so that the two numbers are not confused
  set_html(P.ps, `<div class="uc-ps">Privacy Score = 1 \u2212 ${fmt(score)} = <b style="color:${colour}">${fmt(1 - score)}</b></div>` +
                 `<div class="uc-small" title="The experiments table's PS: the worst threshold over every forget-class training image">` +
                 `Table PS (all forget images, worst threshold): <b>${fmt(R.PS[c.k])}</b></div>`);
  S.atk.drawn[ab] = {items, success, total: 2 * F, retr: c.retr, k: c.k};
  atk_grids(ab);
}

// the thumbnail grids are plain HTML: built only while the attack tab is shown (on showing it otherwise)
function atk_grids(ab) {
  const drawn = S.atk.drawn[ab];
  if (!drawn) return;
  if (core_tabs.active !== 1) { S.atk.stale[ab] = true; return; }
  S.atk.stale[ab] = false;
  const size = Number(atk.size.value) || 20;
  const show = new Set(atk.show.active);
  const colour = ab === "a" ? COL.A : COL.B, light = ab === "a" ? COL.A_light : COL.B_light;
  const cols = CFG.sprite_columns, rows = CFG.sprite_rows;
  const img = CFG.thumbnails ? `--img:url('${CFG.thumbnails}');` : "";
  const items = aud_grid_items(drawn);  // in the audit's order when there is one (js/audit.js)
  const grid = (ok) => {
    const parts = [];
    let n = 0;
    for (const it of items) {
      if (it.ok !== ok) continue;
      n++;
      if (!show.has(it.side)) continue;
      const border = it.side === 0 ? (ok ? COL.retrained_light : COL.retrained) : (ok ? colour : light);
      const s = SUB.sprite[it.inst];
      const where = s >= 0 ? `--c:${s % cols};--r:${Math.floor(s / cols)};` : "";
      parts.push(`<span class="th${s < 0 ? " none" : ""}" data-p="${ab}" data-k="${it.key}" style="${where}border-color:${border}"></span>`);
    }
    const pct = drawn.total ? (100 * n / drawn.total).toFixed(1) : "0";
    const head = `<div class="uc-grid-head${S.atk.strategy === 2 ? " uc-red" : ""}">${ok ? "Success" : "Failure"} ` +
                 `<b>${pct}%</b> <span class="uc-small">(${n} of ${drawn.total})</span></div>`;
    return head + `<div class="uc-grid" style="--s:${size}px;--cols:${cols};--rows:${rows};${img}">${parts.join("")}</div>`;
  };
  set_html(atk[ab].succ, grid(true));
  set_html(atk[ab].fail, grid(false));
}

function atk_sync_widgets() {
  const ax = ATK_AXIS[S.atk.metric];
  if (atk.metric.active !== S.atk.metric) atk.metric.active = S.atk.metric;
  if (atk.strategy.active !== S.atk.strategy) atk.strategy.active = S.atk.strategy;
  atk.thr.setv({start: ax.lo, end: ax.hi, step: ax.step, value: S.atk.custom});
}

function atk_reset() {
  S.atk.metric = 0;
  S.atk.strategy = 0;
  S.atk.custom = ATK_AXIS[0].dflt;
  atk_redraw();
}

// the widgets and both panels from S.atk as it is
function atk_redraw() {
  atk_sync_widgets();
  atk_recompute();
}

// a threshold on the metric's slider: snapped to its step, inside its range
function atk_snap(t, ax) {
  return Number(clamp(ax.lo + Math.round((t - ax.lo) / ax.step) * ax.step, ax.lo, ax.hi).toFixed(4));
}

function atk_set_metric(m) {
  if (m === S.atk.metric) return;
  S.atk.metric = m;
  S.atk.custom = ATK_AXIS[m].dflt;
  atk_redraw();
}

function atk_set_strategy(s) {
  if (s === S.atk.strategy) return;
  S.atk.strategy = s;
  atk_recompute();
}

function atk_set_custom(t) {
  const ax = ATK_AXIS[S.atk.metric];
  t = atk_snap(t, ax);
  if (S.atk.strategy !== 0 || t === S.atk.custom) return;
  S.atk.custom = t;
  if (atk.thr.value !== t) atk.thr.value = t;
  atk_recompute();
}

function atk_worst(ab) {
  const k = model_of(ab);
  let best = {score: -1, metric: S.atk.metric};
  for (const m of [0, 1]) {
    const c = atk_combined(k, m);
    if (!c) continue;
    const s = c.score[argmax(c.score)];
    if (s > best.score) best = {score: s, metric: m};
  }
  if (best.metric !== S.atk.metric) S.atk.custom = ATK_AXIS[best.metric].dflt;
  S.atk.metric = best.metric;
  S.atk.strategy = 1;
  atk_redraw();
}

// ---- linked hover between dots and thumbnails
function atk_grid_el(ab, key) {
  for (const div of [atk[ab].succ, atk[ab].fail]) {
    const v = view_of(div);
    const root = v && v.shadow_el;
    const e = root ? root.querySelector(`[data-k="${key}"]`) : null;
    if (e) return e;
  }
  return null;
}

function atk_hover_key(ab, key, cx, cy) {
  const P = atk[ab], drawn = S.atk.drawn[ab];
  if (!drawn) return;
  if (S.atk.hover && (S.atk.hover.ab !== ab || S.atk.hover.key !== key)) atk_unhover();
  const q = P.dots.data.key.indexOf(key);
  if (q < 0) return;
  P.hl.data = {x: [P.dots.data.x[q]], y: [P.dots.data.y[q]]};
  const e = atk_grid_el(ab, key);
  if (e) {
    e.classList.add("hl");
    e.parentElement.classList.add("dim");
  }
  S.atk.hover = {ab, key, el: e};
  const i = P.dots.data.inst[q], side = key[0] === "r" ? 0 : 1;
  const it = drawn.items[q], ax = ATK_AXIS[S.atk.metric];
  const who = side === 0 ? "Retrained" : `Model ${ab.toUpperCase()}`;
  const extra = [[`${ax.label} (${who})`, fmt(it.v, 2)],
                 [it.ok ? "Attack succeeds" : "Attack fails", it.ok ? "correctly attributed" : "misattributed",
                  it.ok ? "#16A34A" : "#DC2626"], ...aud_tip_rows(i)];
  tip_show(cx, cy, i, [
    {name: "Retrained", color: COL.retrained, probs: probs_of(drawn.retr, i), pred: pred_of(drawn.retr, i),
     emphasis: side === 0},
    {name: `Model ${ab.toUpperCase()}`, color: ab === "a" ? COL.A : COL.B, probs: probs_of(drawn.k, i),
     pred: pred_of(drawn.k, i), hatched: true, emphasis: side === 1},
  ], extra);
}

function atk_unhover() {
  const h = S.atk.hover;
  if (h) {
    atk[h.ab].hl.data = {x: [], y: []};
    if (h.el) {
      h.el.classList.remove("hl");
      if (h.el.parentElement) h.el.parentElement.classList.remove("dim");
    }
  }
  S.atk.hover = null;
  tip_hide();
}

function atk_hover_dot(ab, data) {
  const idx = data.index.indices;
  if (!idx.length) { atk_unhover(); return; }
  const P = atk[ab];
  const q = Math.max(...idx);
  const at = client_of_screen(P.bfly, data.geometry.sx, data.geometry.sy);
  atk_hover_key(ab, P.dots.data.key[q], at ? at[0] : 0, at ? at[1] : 0);
}

function atk_grid_over(ev) {
  const path = ev.composedPath ? ev.composedPath() : [];
  const t = path.find((n) => n && n.dataset && n.dataset.k && n.dataset.p);
  if (t) atk_hover_key(t.dataset.p, t.dataset.k, ev.clientX, ev.clientY);
  else if (S.atk.hover && S.atk.hover.from_grid) atk_unhover();
  if (t && S.atk.hover) S.atk.hover.from_grid = true;
}

// Embedding space: A | B panels, highlight modes, linked hover with a connecting line and a tooltip.

const _emb_cache = {};

// the inst store's coordinates are uint16 (data.py _quantize): value = lowest + q × step, 65535: none
const EMB_SX = CFG.emb_scale.x, EMB_SY = CFG.emb_scale.y;
function emb_x(q) { return q === 65535 ? NaN : EMB_SX[0] + q * EMB_SX[1]; }
function emb_y(q) { return q === 65535 ? NaN : EMB_SY[0] + q * EMB_SY[1]; }

// row order of emb_src for a forget set (its members last, so their crosses are drawn on top) and the
// shared view box of all its models (every seed's: they share one frame)
function emb_layout(fs) {
  if (_emb_cache[fs] === undefined) {
    const order = [], member = member_mask(fs);
    for (let i = 0; i < N; i++) if (!member[i]) order.push(i);
    for (let i = 0; i < N; i++) if (member[i]) order.push(i);
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    const X = st.inst.data.x, Y = st.inst.data.y;
    for (const k of set_runs(fs)) {
      const off = R.off_inst[k];
      if (off < 0) continue;
      for (let i = 0; i < N; i++) {
        const x = emb_x(X[off + i]), y = emb_y(Y[off + i]);
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
    if (!Number.isFinite(x0)) { x0 = 0; x1 = 1; y0 = 0; y1 = 1; }
    const px = (x1 - x0) * 0.04 || 1, py = (y1 - y0) * 0.04 || 1;
    _emb_cache[fs] = {order, box: [x0 - px, x1 + px, y0 - py, y1 + py]};
  }
  return _emb_cache[fs];
}

// is an instance (true class `label`, prediction `pred`, in the forget set or not: f) highlighted in the
// current mode?
function emb_highlighted(mode, label, pred, f) {
  switch (mode) {
    case 1: return f;                              // Target to Forget
    case 2: return f && pred !== label;            // Correctly Forgotten
    case 3: return f && pred === label;            // Not Forgotten
    case 4: return !f && pred >= 0 && pred !== label;  // Overly Forgotten
    default: return true;
  }
}

function emb_update(ranges) {
  const lay = emb_layout(S.fs), order = lay.order, n = order.length, member = member_mask(S.fs);
  const X = st.inst.data.x, Y = st.inst.data.y, P = st.inst.data.pred;
  const d = {pos: new Int32Array(n), marker: new Array(n), size: new Float32Array(n)};
  S.emb_on = {a: new Uint8Array(n), b: new Uint8Array(n)};
  for (const ab of ["a", "b"]) {
    const k = model_of(ab), off = k >= 0 ? R.off_inst[k] : -1;
    const vul = S.emb_mode === VUL_MODE ? aud_vulnerability(k) : null;  // js/audit.js
    const xs = new Float32Array(n), ys = new Float32Array(n);
    const fill = new Uint32Array(n), line = new Uint32Array(n), on = S.emb_on[ab];
    for (let j = 0; j < n; j++) {
      const i = order[j], label = SUB.label[i], f = member[i] === 1;
      let pred = -1;
      if (off >= 0) {
        xs[j] = emb_x(X[off + i]);
        ys[j] = emb_y(Y[off + i]);
        pred = P[off + i] === 255 ? -1 : P[off + i];
      } else {
        xs[j] = NaN;
        ys[j] = NaN;
      }
      if (S.emb_mode === VUL_MODE) {
        [fill[j], line[j]] = aud_vul_rgba(vul, i, f);
        on[j] = f ? 1 : 0;
        continue;
      }
      const colour = pred >= 0 ? CLASS_COLORS[pred] : "#9CA3AF";
      const dark = pred >= 0 ? CLASS_DARK[pred] : "#4B5563";
      const hl = emb_highlighted(S.emb_mode, label, pred, f);
      on[j] = hl ? 1 : 0;
      const fa = hl ? (f || S.emb_mode === 4 ? 0.85 : 0.6) : 0.05;
      const la = f ? (hl ? 1 : 0.05) : 0;
      fill[j] = rgba32(colour, fa);
      line[j] = rgba32(f ? dark : colour, la);
    }
    d[`${ab}x`] = xs;
    d[`${ab}y`] = ys;
    d[`${ab}_fill`] = fill;
    d[`${ab}_line`] = line;
  }
  for (let j = 0; j < n; j++) {
    const f = member[order[j]] === 1;
    d.pos[j] = order[j];
    d.marker[j] = f ? "x" : "circle";
    d.size[j] = f ? 9 : 7;
  }
  emb.src.data = d;
  if (ranges) {
    const [x0, x1, y0, y1] = lay.box;
    emb.xr.setv({start: x0, end: x1, reset_start: x0, reset_end: x1});
    emb.yr.setv({start: y0, end: y1, reset_start: y0, reset_end: y1});
  }
  set_html(emb.a.title, `<div class="uc-panel-title">${model_tag("a", S.A)}</div>`);
  set_html(emb.b.title, `<div class="uc-panel-title">${model_tag("b", S.B)}</div>`);
  aud_vul_legend();
  emb_clear();
}

function emb_hover(ab, data) {
  const on = S.emb_on ? S.emb_on[ab] : null;
  const idx = data.index.indices.filter((j) => on == null || on[j] === 1);
  if (!idx.length) { emb_clear(); return; }
  const j = Math.max(...idx);  // the last drawn is on top
  const d = emb.src.data;
  if (j !== S.emb_row) {
    S.emb_row = j;
    emb.hl.data = {ax: [d.ax[j]], ay: [d.ay[j]], bx: [d.bx[j]], by: [d.by[j]], marker: [d.marker[j]]};
  }
  link_show(client_xy(emb.a.fig, d.ax[j], d.ay[j]), client_xy(emb.b.fig, d.bx[j], d.by[j]));
  const i = d.pos[j];
  const at = client_of_screen(emb[ab].fig, data.geometry.sx, data.geometry.sy);
  if (at) {
    tip_show(at[0], at[1], i, [
      {name: "Model A", color: COL.A, probs: probs_of(S.A, i), pred: pred_of(S.A, i), emphasis: ab === "a"},
      {name: "Model B", color: COL.B, probs: probs_of(S.B, i), pred: pred_of(S.B, i), hatched: true, emphasis: ab === "b"},
    ], aud_tip_rows(i));
  }
}

function emb_clear() {
  if (S.emb_row !== -1 || emb.hl.data.ax.length) {
    S.emb_row = -1;
    emb.hl.data = {ax: [], ay: [], bx: [], by: [], marker: []};
  }
  link_hide();
  tip_hide();
}

// Prediction matrices of A and B: split triangles (greys) or bubbles (turbo), train/test, shared row.

// the pred store's shares are uint16 steps of 1/65534, 65535 where there is none (data.py _unit_uint16)
function mx_share(q) {
  return q === 65535 ? NaN : q / 65534;
}

function mx_fill(ab, k) {
  const off = k >= 0 ? R.off_pred[k] : -1, classes = set_classes();
  const base = off + S.mx_split * C * C;
  const cells = {x: [], y: [], true_name: [], pred_name: [], prop_txt: [], conf_txt: [], size: [], bub_color: new Uint32Array(C * C)};
  const fill = new Uint32Array(2 * C * C);
  for (let t = 0; t < C; t++) {
    for (let p = 0; p < C; p++) {
      const prop = off >= 0 ? mx_share(st.pred.data.prop[base + t * C + p]) : NaN;
      const conf = off >= 0 ? mx_share(st.pred.data.conf[base + t * C + p]) : NaN;
      cells.x.push(p);
      cells.y.push(C - 1 - t);
      cells.true_name.push(class_name(t, classes));
      cells.pred_name.push(class_name(p, classes));
      cells.prop_txt.push(fmt(prop));
      cells.conf_txt.push(fmt(conf));
      const v = Number.isFinite(prop) ? prop : 0;
      // diameter ≤ 16 px: inside its cell (≥ 17 px), so the corner bubbles are not clipped by the frame
      cells.size.push(1.6 * Math.sqrt(1 + 99 * v));
      const q = t * C + p;
      cells.bub_color[q] = rgba32(turbo(0.05 + 0.95 * (Number.isFinite(conf) ? conf : 0)), v < 0.002 ? 0 : 0.7);
      fill[2 * q] = rgba32(Number.isFinite(prop) ? greys(0.05 + 0.95 * prop) : "#ffffff");
      fill[2 * q + 1] = rgba32(Number.isFinite(conf) ? greys(0.05 + 0.95 * conf) : "#ffffff");
    }
  }
  const mat = mx[ab];
  mat.cell.data = cells;
  mat.tri.data = {xs: mat.tri.data.xs, ys: mat.tri.data.ys, fill};
}

function mx_update() {
  mx_fill("a", S.A);
  mx_fill("b", S.B);
  const labels = tick_labels(set_classes(), false);
  const labels_rev = tick_labels(set_classes(), true);
  for (const ab of ["a", "b"]) {
    const mat = mx[ab];
    mat.xaxis.major_label_overrides = labels;
    mat.yaxis.major_label_overrides = labels_rev;
    set_html(mat.cap, `<div class="uc-caption">${model_tag(ab, model_of(ab))}</div>`);
  }
}

function mx_encoding() {
  const bub = S.mx_enc === 1;
  for (const r of [mx.a.tri_r, mx.b.tri_r]) r.visible = !bub;
  for (const r of [mx.a.bub_r, mx.b.bub_r]) r.visible = bub;
  mx.legend.css_classes = [bub ? "enc-1" : "enc-0"];
}

function mx_hover(ab, data) {
  const idx = data.index.indices;
  if (!idx.length) { mx_clear(); return; }
  const src = mx[ab].cell;
  const i = idx[idx.length - 1];
  const x = src.data.x[i], y = src.data.y[i];
  const at = client_of_screen(mx[ab].fig, data.geometry.sx, data.geometry.sy);
  const colour = ab === "a" ? COL.A : COL.B;
  if (at) tip_text(at[0], at[1], `Model ${ab.toUpperCase()}`, [
    ["True Class", src.data.true_name[i]], ["Predicted Class", src.data.pred_name[i]],
    ["Proportion", src.data.prop_txt[i], colour], ["Avg. Confidence", src.data.conf_txt[i], colour]]);
  for (const b of [mx.a.band, mx.b.band]) b.setv({bottom: y - 0.5, top: y + 0.5, visible: true});
  mx[ab].box.setv({left: x - 0.5, right: x + 0.5, bottom: y - 0.5, top: y + 0.5, visible: true});
  mx[other_side(ab)].box.visible = false;
}

function mx_clear() {
  tip_hide();
  for (const b of [mx.a.band, mx.b.band, mx.a.box, mx.b.box]) b.visible = false;
}

// Prediction matrices of A and B: split triangles (greys) or bubbles (turbo), train/test, shared row.

function mx_fill(ab, k) {
  const off = R.off_pred[k];
  const base = off + S.mx_split * C * C;
  const cells = {x: [], y: [], true_name: [], pred_name: [], prop_txt: [], conf_txt: [], size: [], bub_color: new Uint32Array(C * C)};
  const fill = new Uint32Array(2 * C * C);
  for (let t = 0; t < C; t++) {
    for (let p = 0; p < C; p++) {
      const prop = off >= 0 ? st_pred.data.prop[base + t * C + p] : NaN;
      const conf = off >= 0 ? st_pred.data.conf[base + t * C + p] : NaN;
      cells.x.push(p);
      cells.y.push(C - 1 - t);
      cells.true_name.push(class_name(t, S.fc));
      cells.pred_name.push(class_name(p, S.fc));
      cells.prop_txt.push(fmt(prop));
      cells.conf_txt.push(fmt(conf));
      const v = Number.isFinite(prop) ? prop : 0;
      cells.size.push(2 * Math.sqrt(1 + 89 * v));
      const q = t * C + p;
      cells.bub_color[q] = rgba32(turbo(0.05 + 0.95 * (Number.isFinite(conf) ? conf : 0)), v < 0.002 ? 0 : 0.7);
      fill[2 * q] = rgba32(Number.isFinite(prop) ? greys(0.05 + 0.95 * prop) : "#ffffff");
      fill[2 * q + 1] = rgba32(Number.isFinite(conf) ? greys(0.05 + 0.95 * conf) : "#ffffff");
    }
  }
  const cell_src = ab === "a" ? mx_a_cell : mx_b_cell;
  const tri_src = ab === "a" ? mx_a_tri : mx_b_tri;
  cell_src.data = cells;
  tri_src.data = {xs: tri_src.data.xs, ys: tri_src.data.ys, fill};
}

function mx_update() {
  mx_fill("a", S.A);
  mx_fill("b", S.B);
  const labels = tick_labels(S.fc, false);
  const labels_rev = tick_labels(S.fc, true);
  for (const ax of [mx_a_xaxis, mx_b_xaxis]) ax.major_label_overrides = labels;
  for (const ax of [mx_a_yaxis, mx_b_yaxis]) ax.major_label_overrides = labels_rev;
  set_html(mx_a_cap, `<div class="uc-caption">${model_tag("a", S.A)}</div>`);
  set_html(mx_b_cap, `<div class="uc-caption">${model_tag("b", S.B)}</div>`);
}

function mx_encoding() {
  const bub = S.mx_enc === 1;
  for (const r of [mx_a_tri_r, mx_b_tri_r]) r.visible = !bub;
  for (const r of [mx_a_bub_r, mx_b_bub_r]) r.visible = bub;
  mx_legend.css_classes = [bub ? "enc-1" : "enc-0"];
}

function mx_hover(ab, data) {
  const idx = data.index.indices;
  if (!idx.length) { mx_clear(); return; }
  const src = ab === "a" ? mx_a_cell : mx_b_cell;
  const i = idx[idx.length - 1];
  const x = src.data.x[i], y = src.data.y[i];
  const at = client_of_screen(ab === "a" ? mx_fig_a : mx_fig_b, data.geometry.sx, data.geometry.sy);
  const colour = ab === "a" ? COL.A : COL.B;
  if (at) tip_text(at[0], at[1], `Model ${ab.toUpperCase()}`, [
    ["True Class", src.data.true_name[i]], ["Predicted Class", src.data.pred_name[i]],
    ["Proportion", src.data.prop_txt[i], colour], ["Avg. Confidence", src.data.conf_txt[i], colour]]);
  for (const b of [mx_a_band, mx_b_band]) b.setv({bottom: y - 0.5, top: y + 0.5, visible: true});
  (ab === "a" ? mx_a_box : mx_b_box).setv({left: x - 0.5, right: x + 0.5, bottom: y - 0.5, top: y + 0.5, visible: true});
  (ab === "a" ? mx_b_box : mx_a_box).visible = false;
}

function mx_clear() {
  tip_hide();
  for (const b of [mx_a_band, mx_b_band, mx_a_box, mx_b_box]) b.visible = false;
}

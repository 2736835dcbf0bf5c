// Class-wise accuracy: B − A per class, training and test, retain-average line.

function model_tag(ab, k) {
  const col = ab === "a" ? COL.A : COL.B;
  return `<span style="color:${col};font-weight:600">Model ${ab.toUpperCase()}</span> (${esc(run_caption(k))})`;
}

function cw_update() {
  const fc = S.fc, oa = R.off_acc[S.A], ob = R.off_acc[S.B];
  const d = {y: [], name: [], color: []};
  for (const s of ["tr", "te"]) for (const k of ["left", "right", "a", "b", "d"]) d[`${s}_${k}`] = [];
  let max_gap = 0;
  const avg = {tr: 0, te: 0};
  for (let c = 0; c < C; c++) {
    d.y.push(C - 1 - c);
    d.name.push(class_name(c, fc));
    d.color.push(CLASS_COLORS[c]);
    for (const [s, col] of [["tr", "train"], ["te", "test"]]) {
      const a = oa >= 0 ? st.acc.data[col][oa + c] : NaN;
      const b = ob >= 0 ? st.acc.data[col][ob + c] : NaN;
      const g = b - a;
      d[`${s}_left`].push(Number.isFinite(g) ? Math.min(0, g) : 0);
      d[`${s}_right`].push(Number.isFinite(g) ? Math.max(0, g) : 0);
      d[`${s}_a`].push(fmt(a));
      d[`${s}_b`].push(fmt(b));
      d[`${s}_d`].push(Number.isFinite(g) ? (g >= 0 ? "+" : "") + g.toFixed(3) : "-");
      if (Number.isFinite(g)) {
        max_gap = Math.max(max_gap, Math.abs(g));
        if (c !== fc) avg[s] += g / Math.max(1, C - 1);
      }
    }
  }
  cw.src.data = d;
  const m = max_gap > 0 ? max_gap : 0.01;
  const labels = tick_labels(fc, true);
  for (const s of ["tr", "te"]) {
    const chart = cw[s];
    chart.xr.setv({start: -m * 1.08, end: m * 1.08});
    chart.ticker.ticks = [-Number(m.toFixed(3)), 0, Number(m.toFixed(3))];
    chart.avg.location = avg[s];
    // the label goes on the side of the line with more room
    const right = avg[s] <= 0;
    chart.avg_label.setv({x: avg[s], text: `avg (retain): ${avg[s].toFixed(3)}`,
                          text_align: right ? "left" : "right", x_offset: right ? 3 : -3});
    chart.yaxis.major_label_overrides = labels;
  }
  set_html(cw.caption, `<div class="uc-caption">\u2190 Model A High | Model B High \u2192</div>` +
                       `<div class="uc-caption">${model_tag("a", S.A)} &nbsp; ${model_tag("b", S.B)}</div>`);
}

function cw_hover(split, data) {
  const idx = data.index.indices;
  if (!idx.length) { cw_band(null); return; }
  const i = idx[0], d = cw.src.data;
  cw_band(d.y[i]);
  const at = client_of_screen(cw[split].fig, data.geometry.sx, data.geometry.sy);
  if (at) tip_text(at[0], at[1], `${d.name[i]} \u00b7 ${split === "tr" ? "training" : "test"}`, [
    ["Model A Acc", d[`${split}_a`][i], COL.A], ["Model B Acc", d[`${split}_b`][i], COL.B],
    ["Difference (B \u2212 A)", d[`${split}_d`][i]]]);
}

function cw_band(y) {
  if (y == null) tip_hide();
  for (const b of [cw.tr.band, cw.te.band]) {
    if (y == null) b.visible = false;
    else b.setv({bottom: y - 0.45, top: y + 0.45, visible: true});
  }
}

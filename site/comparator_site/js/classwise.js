// Class-wise accuracy: B − A per class, training and test, retain-average line. It compares the settings
// A and B: with several replicate seeds the means (st.sacc), with whiskers ± sqrt(std_A² + std_B²).

function model_tag(ab, k) {
  const col = ab === "a" ? COL.A : COL.B;
  return `<span style="color:${col};font-weight:600">Model ${ab.toUpperCase()}</span> (${esc(run_caption(k))})`;
}

// a setting's caption: its run's with one replicate, else the setting and how many seeds it averages
function setting_tag(ab, s) {
  if (SET.n[s] <= 1) return model_tag(ab, run_of(s, S.seed));
  const col = ab === "a" ? COL.A : COL.B;
  return `<span style="color:${col};font-weight:600">Model ${ab.toUpperCase()}</span> ` +
         `(${esc(SET.label[s])}, mean of ${SET.n[s]} seeds)`;
}

function cw_update() {
  const classes = set_classes(), oa = SET.off_sacc[S.sa], ob = SET.off_sacc[S.sb];
  const A = st.sacc.data;
  const d = {y: [], name: [], color: []};
  for (const s of ["tr", "te"]) for (const k of ["left", "right", "a", "b", "d", "lo", "hi"]) d[`${s}_${k}`] = [];
  let max_gap = 0;
  const avg = {tr: 0, te: 0};
  const others = Math.max(1, C - classes.length);
  for (let c = 0; c < C; c++) {
    d.y.push(C - 1 - c);
    d.name.push(class_name(c, classes));
    d.color.push(CLASS_COLORS[c]);
    for (const [s, col] of [["tr", "train"], ["te", "test"]]) {
      const a = oa >= 0 ? A[col][oa + c] : NaN;
      const b = ob >= 0 ? A[col][ob + c] : NaN;
      const g = b - a;
      // the spread of the difference; a missing std (one replicate) counts as none
      const sa = oa >= 0 ? A[col + "_sd"][oa + c] : NaN, sb = ob >= 0 ? A[col + "_sd"][ob + c] : NaN;
      const e = Math.sqrt((Number.isFinite(sa) ? sa * sa : 0) + (Number.isFinite(sb) ? sb * sb : 0));
      const whisker = Number.isFinite(g) && (Number.isFinite(sa) || Number.isFinite(sb));
      d[`${s}_left`].push(Number.isFinite(g) ? Math.min(0, g) : 0);
      d[`${s}_right`].push(Number.isFinite(g) ? Math.max(0, g) : 0);
      d[`${s}_lo`].push(whisker ? g - e : NaN);
      d[`${s}_hi`].push(whisker ? g + e : NaN);
      d[`${s}_a`].push(fmt(a) + (Number.isFinite(sa) ? ` \u00b1 ${fmt(sa)}` : ""));
      d[`${s}_b`].push(fmt(b) + (Number.isFinite(sb) ? ` \u00b1 ${fmt(sb)}` : ""));
      d[`${s}_d`].push(Number.isFinite(g) ? (g >= 0 ? "+" : "") + g.toFixed(3) + (whisker ? ` \u00b1 ${e.toFixed(3)}` : "") : "-");
      if (Number.isFinite(g)) {
        max_gap = Math.max(max_gap, Math.abs(g) + (whisker ? e : 0));
        if (!classes.includes(c)) avg[s] += g / others;
      }
    }
  }
  cw.src.data = d;
  const m = max_gap > 0 ? max_gap : 0.01;
  const labels = tick_labels(classes, true);
  for (const s of ["tr", "te"]) {
    const chart = cw[s];
    chart.xr.setv({start: -m * 1.08, end: m * 1.08});
    chart.ticker.ticks = [-Number(m.toFixed(3)), 0, Number(m.toFixed(3))];
    chart.avg.location = avg[s];
    // the label goes on the side of the line with more room
    const right = avg[s] <= 0;
    chart.avg_label.setv({x: avg[s], text: `avg (${classes.length ? "retain" : "all classes"}): ${avg[s].toFixed(3)}`,
                          text_align: right ? "left" : "right", x_offset: right ? 3 : -3});
    chart.yaxis.major_label_overrides = labels;
  }
  set_html(cw.caption, `<div class="uc-caption">\u2190 Model A High | Model B High \u2192</div>` +
                       `<div class="uc-caption">${setting_tag("a", S.sa)} &nbsp; ${setting_tag("b", S.sb)}</div>`);
}

// one run's accuracy of class c (st.acc): the chosen seed's model, shown beside the means
function run_acc(k, col, c) {
  const off = k >= 0 ? R.off_acc[k] : -1;
  return off >= 0 ? st.acc.data[col][off + c] : NaN;
}

function cw_hover(split, data) {
  const idx = data.index.indices;
  if (!idx.length) { cw_band(null); return; }
  const i = idx[0], d = cw.src.data;
  cw_band(d.y[i]);
  const rows = [["Model A Acc", d[`${split}_a`][i], COL.A], ["Model B Acc", d[`${split}_b`][i], COL.B],
                ["Difference (B \u2212 A)", d[`${split}_d`][i]]];
  if (SET.n[S.sa] > 1 || SET.n[S.sb] > 1) {
    const c = C - 1 - d.y[i], col = split === "tr" ? "train" : "test", seed = CFG.seeds[S.seed];
    rows.push([`Model A, seed ${seed}`, fmt(run_acc(S.A, col, c)), COL.A],
              [`Model B, seed ${seed}`, fmt(run_acc(S.B, col, c)), COL.B]);
  }
  const at = client_of_screen(cw[split].fig, data.geometry.sx, data.geometry.sy);
  if (at) tip_text(at[0], at[1], `${d.name[i]} \u00b7 ${split === "tr" ? "training" : "test"}`, rows);
}

function cw_band(y) {
  if (y == null) tip_hide();
  for (const b of [cw.tr.band, cw.te.band]) {
    if (y == null) b.visible = false;
    else b.setv({bottom: y - 0.45, top: y + 0.45, visible: true});
  }
}

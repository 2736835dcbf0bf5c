// The privacy audit (views/audit.py), only with audit.arrow: CFG.audit is undefined and the models
// atk.aud_* and emb.vul_* are null otherwise, and every function here then does nothing. The per-example
// ROC figure of the attack tab, the order of its thumbnail grids, and the embedding's vulnerability
// highlight (the emb.vul_* models exist only with per-image scores, CFG.audit.instances).
// Stores: atk.aud_roc, per run G rows (the FPR grid CFG.audit.fpr): columns ulira, rmia (TPR);
// atk.aud_vul, per run one row per subset image of its forget set (forget_positions order): columns ulira,
// rmia, epsilon.

const AUDITED = CFG.audit != null;
const VULNERABLE = AUDITED && CFG.audit.instances;
const VUL_MODE = 5;  // the position of "Vulnerability (U-LiRA)" among the embedding's highlight modes
const AUD_CURVES = [{key: "ulira", name: "U-LiRA"}, {key: "rmia", name: "RMIA"}];  // the metric select's

// run k's ROC curve at the FPR grid; a log axis has no 0, so a TPR below the grid's floor sits on it
function aud_tpr(k, curve) {
  const fpr = CFG.audit.fpr, floor = fpr[0];
  const out = new Array(fpr.length).fill(NaN);
  const off = k >= 0 ? R.off_roc[k] : -1;
  if (off < 0) return out;
  const col = atk.aud_roc.data[curve];
  for (let i = 0; i < fpr.length; i++) {
    const v = col[off + i];
    out[i] = Number.isFinite(v) ? Math.max(v, floor) : NaN;
  }
  return out;
}

// the forget set's retrained model of A's replicate seed: the calibration curve
function aud_calibration() {
  const rs = set_info(S.fs).retrained;
  return rs == null || S.A < 0 ? -1 : run_of(rs, R.seed_pos[S.A]);
}

// one caption line: the curve's swatch, whose it is, and its AUC and TPR at 1 % FPR (audit.arrow's)
function aud_item(who, colour, dash, k, c) {
  const swatch = `<span class="uc-line" style="border-top:2px ${dash} ${colour}"></span>`;
  const auc = k >= 0 ? R[`${c.key}_auc`][k] : NaN, tpr = k >= 0 ? R[`${c.key}_tpr_1pct`][k] : NaN;
  const note = k >= 0 && R.audit_note[k] ? `: ${esc(R.audit_note[k])}` : "";
  const figures = Number.isFinite(auc)
    ? `AUC <b>${fmt(auc)}</b> \u00b7 TPR@1% FPR <b>${fmt(tpr)}</b>`
    : `<span class="uc-red">no ${c.name} figures${note}</span>`;
  return `<div class="uc-aud-item">${swatch}<b style="color:${colour}">${who}</b> ` +
         `<span class="uc-aud-id">${k >= 0 ? esc(R.id[k]) : "none"}</span>: ${figures}</div>`;
}

function aud_update() {
  if (!AUDITED) return;
  const c = AUD_CURVES[Number(atk.aud_metric.value) || 0];
  const cal = aud_calibration();
  atk.aud_src.data = {fpr: CFG.audit.fpr.slice(), a: aud_tpr(S.A, c.key), b: aud_tpr(S.B, c.key), r: aud_tpr(cal, c.key)};
  set_html(atk.aud_caption, '<div class="uc-aud-legend">' +
    aud_item("Model A", COL.A, "solid", S.A, c) +
    aud_item("Model B", COL.B, "solid", S.B, c) +
    aud_item("Retrained (calibration)", COL.retrained, "dashed", cal, c) +
    `<div class="uc-aud-item"><span class="uc-line" style="border-top:2px dotted #9CA3AF"></span>` +
    `Chance (the diagonal): AUC 0.500 \u00b7 TPR@1% FPR 0.010</div></div>`);
}

const _vul = new Map();
// run k's U-LiRA scores by subset position (NaN outside its forget set), null without any
function aud_vulnerability(k) {
  if (!AUDITED || k < 0) return null;
  if (!_vul.has(k)) {
    const off = R.off_vul[k];
    let out = null;
    if (off >= 0) {
      const pos = forget_positions(R.fs[k]), col = atk.aud_vul.data.ulira;
      out = new Float32Array(N).fill(NaN);
      for (let j = 0; j < pos.length; j++) out[pos[j]] = col[off + j];
    }
    _vul.set(k, out);
  }
  return _vul.get(k);
}

function aud_span() {
  return set_info(S.fs).vul_range || 1;
}

// the colour bar's colour of a score, as its LinearColorMapper maps it (−span … span, clamped)
function aud_vul_color(u) {
  const pal = emb.vul_mapper.palette, span = aud_span();
  const t = (u + span) / (2 * span);
  return pal[clamp(Math.floor(t * pal.length), 0, pal.length - 1)];
}

// [fill, line] (packed RGBA) of subset image i in the vulnerability highlight: the forget set's images
// (crosses: drawn by their line) by the panel's model's score, grey without one; the others faded grey
function aud_vul_rgba(vul, i, member) {
  if (!member) return [rgba32("#D1D5DB", 0.25), 0];
  const u = vul ? vul[i] : NaN;
  const colour = Number.isFinite(u) ? aud_vul_color(u) : "#9CA3AF";
  return [rgba32(colour, 0.95), rgba32(colour, 1)];
}

// the vulnerability legend: shown in that mode only (with CSS: see set_shown), with the set's range
function aud_vul_legend() {
  if (!VULNERABLE) return;
  const on = S.emb_mode === VUL_MODE;
  set_shown(emb.vul_row, on);
  if (!on) return;
  const span = aud_span(), mapper = emb.vul_mapper;
  if (mapper.low !== -span || mapper.high !== span) mapper.setv({low: -span, high: span});
  set_html(emb.vul_note, `<div class="uc-small uc-aud-text">Forget images coloured by the U-LiRA score of each ` +
    `panel's own model (above 0: looks unlearned rather than retrained, i.e. vulnerable), clamped to ` +
    `\u00b1${span.toFixed(2)}, the ${CFG.audit.quantile}th percentile of |score| over this forget set's ` +
    `models; other images grey.</div>`);
}

// the order of a panel's thumbnail grids: as a site without the audit draws them (the default), or by
// vulnerability (the grid's model's U-LiRA score, descending; images without a score last, ties as drawn)
function aud_grid_items(drawn) {
  if (!AUDITED || atk.aud_order.value !== "1") return drawn.items;
  const vul = aud_vulnerability(drawn.k);
  const key = (it) => (vul ? vul[it.inst] : NaN);
  const keyed = drawn.items.map((it, q) => [key(it), q, it]);
  keyed.sort((x, y) => {
    const fx = Number.isFinite(x[0]), fy = Number.isFinite(y[0]);
    if (fx !== fy) return fx ? -1 : 1;
    return (fx && x[0] !== y[0]) ? y[0] - x[0] : x[1] - y[1];
  });
  return keyed.map((e) => e[2]);
}

// tooltip rows: a forget image's U-LiRA score under A and B
function aud_tip_rows(i) {
  if (!AUDITED || !member_mask(S.fs)[i]) return [];
  const rows = [];
  for (const [ab, k, colour] of [["A", S.A, COL.A], ["B", S.B, COL.B]]) {
    const vul = aud_vulnerability(k);
    if (vul && Number.isFinite(vul[i])) rows.push([`U-LiRA (Model ${ab})`, fmt(vul[i], 2), colour]);
  }
  return rows;
}

// the audit's widgets: dispatch (js/main.js) passes on the names it does not handle
function aud_event(key) {
  switch (key) {
    case "atk_aud_metric": return aud_update();
    case "atk_aud_order": atk_grids("a"); atk_grids("b"); return;
    default: return null;
  }
}

// Header: the forget-set selector, the Model A / Model B selects (of settings) and the seed select.

function option_label(k) {
  const m = SET.method_name[k];
  return `${SET.type_label[k]} \u00b7 ${SET.id[k]}` + (m && m !== "-" ? ` \u00b7 ${m}` : "");
}

function header_update() {
  const rows = ok_settings(S.fs);
  if (hdr.fc.active !== S.fs) hdr.fc.active = S.fs;
  if (hdr.seed.value !== String(S.seed)) hdr.seed.value = String(S.seed);
  // <option> labels are set as text by BokehJS, so the raw names are safe here
  const choices = (other) => rows.filter((k) => k !== other).map((k) => [String(k), option_label(k)]);
  hdr.sel_a.setv({options: choices(S.sb), value: String(S.sa)});
  hdr.sel_b.setv({options: choices(S.sa), value: String(S.sb)});
  fit_select(hdr.sel_a);
  fit_select(hdr.sel_b);
}

let _measure = null;

// Widen a Model A / B select to its chosen label, up to its row's width, so that a long run id is not cut
// off (its row wraps instead); the full label is also the select's tooltip (issue 13). The host's inline
// style is set, not the model's width: that would re-lay out the whole document.
function fit_select(sel) {
  const v = view_of(sel);
  const el = v && v.shadow_el ? v.shadow_el.querySelector("select") : null;
  if (el == null) return;
  const opt = sel.options.find((o) => o[0] === sel.value);
  const text = opt ? opt[1] : "";
  if (el.title === text && text !== "") return;  // the same label in the same element: the same width
  el.title = text;
  const cs = window.getComputedStyle(el);
  if (_measure == null) _measure = document.createElement("canvas").getContext("2d");
  _measure.font = `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
  // the padding, the borders and the drop-down arrow
  const extra = Number.parseFloat(cs.paddingLeft) + Number.parseFloat(cs.paddingRight) + el.offsetWidth - el.clientWidth + 28;
  const w = Math.max(sel.width ?? 0, Math.ceil(_measure.measureText(text).width + extra));
  Object.assign(v.el.style, {width: `${w}px`, flex: `0 1 ${w}px`, maxWidth: "100%"});
}

// Shared helpers. These files are concatenated into one factory function (see jsbundle.py) that reads
// what Python provides through the app's named arguments only (cfg, st, core_tabs, hdr, tbl, cw, mx, emb,
// sim, atk: the contract in page.py's docstring, checked by tests/test_js_contract.py).

const CFG = JSON.parse(cfg);
const C = CFG.C, L = CFG.L, N = CFG.N, T = CFG.T;
const COL = CFG.colors;
// The categorical palette (classes; methods in the overview). Its entries are replaced in place when the
// reader picks another palette, so every view reads them through this array or category_color().
const CLASS_COLORS = CFG.class_colors;
const FORGET_MARK = " (\u2716)";

// Every string that came from a config, a method module or a table goes through esc() before it is
// put into HTML (or is set with textContent).
function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}

function fmt(v, digits = 3) {
  return Number.isFinite(v) ? v.toFixed(digits) : "-";
}

function clamp(v, lo, hi) {
  return Math.min(hi, Math.max(lo, v));
}

function hex_rgb(h) {
  return [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)];
}

function rgb_hex(r, g, b) {
  const h = (v) => clamp(Math.round(v), 0, 255).toString(16).padStart(2, "0");
  return "#" + h(r) + h(g) + h(b);
}

// the i-th colour of the categorical palette (methods outnumber its colours: the overview adds markers)
function category_color(i) {
  return CLASS_COLORS[i % CLASS_COLORS.length];
}

// d3.color(c).darker(k): each channel times 0.7^k
function darker(hex, k = 1) {
  const f = Math.pow(0.7, k);
  const [r, g, b] = hex_rgb(hex);
  return rgb_hex(r * f, g * f, b * f);
}

const CLASS_DARK = CLASS_COLORS.map((c) => darker(c, 2));

// Replace the categorical palette in place (CLASS_COLORS and its darker shades): every reader of the
// arrays sees the new colours; the views are redrawn by the caller (js/a11y.js)
function set_class_colors(colours) {
  for (let c = 0; c < CLASS_COLORS.length; c++) {
    CLASS_COLORS[c] = colours[c % colours.length];
    CLASS_DARK[c] = darker(CLASS_COLORS[c], 2);
  }
}

function ramp(scheme, t) {
  t = clamp(t, 0, 1);
  const x = t * (scheme.length - 1);
  const i = Math.min(Math.floor(x), scheme.length - 2);
  const f = x - i;
  const a = hex_rgb(scheme[i]), b = hex_rgb(scheme[i + 1]);
  return rgb_hex(a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f);
}

const GREYS = ["#ffffff", "#f0f0f0", "#d9d9d9", "#bdbdbd", "#969696", "#737373", "#525252", "#252525", "#000000"];

function greys(t) {
  return ramp(GREYS, t);
}

// The polynomial approximation of the Turbo colour map (Mikhail, 2019), as d3.interpolateTurbo
function turbo(t) {
  t = clamp(t, 0, 1);
  const r = 34.61 + t * (1172.33 - t * (10793.56 - t * (33300.12 - t * (38394.49 - t * 14825.05))));
  const g = 23.31 + t * (557.33 + t * (1225.33 - t * (3574.96 - t * (1073.77 + t * 707.56))));
  const b = 27.2 + t * (3211.1 - t * (15327.97 - t * (27814.0 - t * (22569.18 - t * 6838.66))));
  return rgb_hex(r, g, b);
}

// a class's name, marked ✖ when it is one of the forget set's classes
function class_name(c, classes) {
  const n = CFG.class_names[c] ?? String(c);
  return classes.includes(c) ? n + FORGET_MARK : n;
}

// axis label overrides: BokehJS looks them up by the numeric tick, so a Map with number keys
function tick_labels(classes, reversed) {
  const out = new Map();
  for (let c = 0; c < C; c++) {
    out.set(reversed ? C - 1 - c : c, class_name(c, classes));
  }
  return out;
}

function argmax(arr) {
  let best = -1, bv = -Infinity;
  for (let i = 0; i < arr.length; i++) {
    if (arr[i] > bv) { bv = arr[i]; best = i; }
  }
  return best;
}

// Set a Div's HTML without Bokeh re-rendering it: a Div's text change makes BokehJS recompute the
// layout of the whole page synchronously (tens of ms each). The model is updated silently, so a later
// re-render by Bokeh shows the same content; the DOM is written directly.
function set_html(div, html) {
  if (div.text === html) return;
  const v = view_of(div);
  if (v != null && v.markup_el != null) {
    div.setv({text: html}, {silent: true});
    v.markup_el.innerHTML = html;
  } else {
    div.text = html;
  }
}

// Show or hide a model's element with CSS: toggling Bokeh's `visible` re-lays out the whole document
// (~200 ms); hidden this way the element keeps its place and its views stay built. A model that Bokeh has
// not built yet (visible: false at load) is made visible once.
function set_shown(model, shown) {
  if (shown && !model.visible) model.visible = true;
  const v = view_of(model);
  if (v != null && v.el != null) v.el.style.visibility = shown ? "" : "hidden";
}

// packed RGBA (0xRRGGBBAA) for colour columns: BokehJS decodes integers without parsing CSS strings
function rgba32(hex, alpha = 1) {
  const [r, g, b] = hex_rgb(hex);
  return ((r << 24) | (g << 16) | (b << 8) | Math.round(clamp(alpha, 0, 1) * 255)) >>> 0;
}

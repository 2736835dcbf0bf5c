// Keyboard and screen-reader access, and the colour-blind-safe palette (issue 13).
//
// * The experiments table's A/B radios (views/experiments_table.py's template: role="radio", aria-checked,
//   aria-disabled, aria-label "Model A: <setting id>") form one roving-tabindex group per column (WAI-ARIA
//   Authoring Practices, "Radio Group" pattern): Tab reaches the column's checked radio, ↑/↓ (Home/End)
//   move between rows, Space/Enter select. SlickGrid renders only the rows in view and re-renders them
//   on every change, so the column keeps a tab stop and a re-rendered radio gets its focus back.
// * Every widget gets an accessible name where its view has none (LABELS, by model name), button groups
//   say which button is on (aria-pressed), the Tabs' headers are tabs (role, aria-selected, Enter/Space
//   and ←/→), and each chart's canvas is an image with a one-line description (FIGURES).
// * The header's "Colours" select rewrites the class palette in place (set_class_colors, js/util.js) and
//   redraws what is coloured by class (and the overview's methods).

// widgets whose views show no label of their own: their model's name -> what a screen reader says
const A11Y_LABELS = {
  hdr_fc: "Forget set",
  tbl_filter: "Filter the table by method",
  tbl_best: "Table rows",
  exp_fig: "Save a figure as PNG",
  emb_mode: "Highlight in the embedding",
  mx_split: "Prediction matrix: split",
  mx_enc: "Prediction matrix: encoding",
  sim_split: "Layer-wise similarity: split",
  sim_ref: "Layer-wise similarity: compare against",
  atk_metric: "Attack metric",
  atk_strategy: "Attack threshold strategy",
  atk_thr: "Custom threshold",
  atk_show: "Thumbnails of",
  atk_size: "Thumbnail size (pixels)",
  atk_aud_order: "Order of the thumbnails",
  core_tabs: "Core views",
  ov_tabs: "Overview",
  ov_click: "Overview: a click on a point sets model",
  ov_across_mode: "Across forget sets: values shown",
};

// each chart's one-line description (ab: "a" or "b" for a model's panel); Model A/B are named with runs
function a11y_figure_text(name) {
  const m = /^(emb|mx|atk)_(a|b)_(fig|bfly|curve)$/.exec(name);
  if (m) {
    const who = `Model ${m[2].toUpperCase()} (${run_caption(model_of(m[2]))})`;
    if (m[1] === "emb") return `Embedding space of ${who}: the subset's images in 2-D, coloured by predicted class, forget-set images as crosses`;
    if (m[1] === "mx") return `Prediction matrix of ${who}: how often each true class is predicted as each class`;
    if (m[3] === "bfly") return `Attack simulation, ${who}: the forget-set images by the attack metric, against the retrained model's`;
    return `Attack simulation, ${who}: attack score, false-positive and false-negative rates over the threshold`;
  }
  switch (name) {
    case "cw_tr_fig": return "Class-wise accuracy on the training split: Model B minus Model A per class";
    case "cw_te_fig": return "Class-wise accuracy on the test split: Model B minus Model A per class";
    case "sim_fig": return "Layer-wise similarity: CKA of Models A and B to the reference model, per layer";
    case "aud_fig": return "Privacy audit: ROC curves of the membership attack on Models A and B";
    case "emb_vul_bar": return "Colour scale of the images' vulnerability (U-LiRA)";
    case "ov_fig1": return "Overview: each setting's forgetting gap against its utility gap to the retrained model, by method";
    case "ov_fig2": return "Overview: each setting's privacy against its run time, by method";
    default: return "";
  }
}

const A11Y_WIDGETS = new Set(["Tabs", "RadioButtonGroup", "CheckboxButtonGroup"]);  // always observed

const A11Y = {
  focus: null,      // the radio that had the keyboard's focus ({ab, run}), to give it back after a re-render
  observed: new Set(),
  charts: [],       // the charts whose descriptions name Model A or B (a11y_figure_text), seen by a11y_update
};
const A11Y_MODEL_CHART = /^(emb|mx|atk)_(a|b)_/;

function a11y_table_root() {
  const v = view_of(tbl.table);
  return v != null ? v.shadow_el : null;
}

function a11y_radio(node) {
  return node && node.dataset && node.dataset.ab && node.dataset.run !== undefined ? node : null;
}

function a11y_radio_el(ab, run) {
  const root = a11y_table_root();
  return root ? root.querySelector(`[data-ab="${ab}"][data-run="${run}"]`) : null;
}

// one tab stop per column; a radio that lost its focus to a re-render (a selection, a sort) gets it back
function a11y_table_fix() {
  const root = a11y_table_root();
  if (root == null) return;
  // SlickGrid makes each of its panes, canvases and focus sinks a tab stop: only its scrolling viewport
  // stays one (the radios' arrow keys also scroll)
  for (const el of root.querySelectorAll('[tabindex="0"]:not([data-ab]):not(.slick-viewport)')) el.tabIndex = -1;
  for (const ab of ["A", "B"]) {
    const radios = Array.from(root.querySelectorAll(`[data-ab="${ab}"]`));
    if (radios.length && !radios.some((r) => r.tabIndex === 0)) {
      (radios.find((r) => r.getAttribute("aria-disabled") !== "true") ?? radios[0]).tabIndex = 0;
    }
  }
  const f = A11Y.focus;
  if (f != null && root.activeElement == null && (document.activeElement == null || document.activeElement === document.body)) {
    const el = a11y_radio_el(f.ab, f.run);
    if (el != null) a11y_focus_radio(el);
  }
}

function a11y_focus_radio(el) {
  const root = a11y_table_root();
  for (const r of root.querySelectorAll(`[data-ab="${el.dataset.ab}"]`)) r.tabIndex = r === el ? 0 : -1;
  el.focus({preventScroll: true});
}

// ↑/↓/Home/End: the same column's radio in another row (scrolled into view: SlickGrid renders it then)
function a11y_radio_move(el, key) {
  const v = view_of(tbl.table), grid = v != null ? v.grid : null;
  const cell = el.closest(".slick-cell");
  if (grid == null || cell == null) return;
  const col = /\bl(\d+)\b/.exec(cell.className);
  const n = grid.getDataLength(), run = Number(el.dataset.run);
  let j = 0;
  while (j < n && grid.getDataItem(j).idx !== run) j++;
  if (col == null || j >= n) return;
  const to = key === "Home" ? 0 : key === "End" ? n - 1 : clamp(j + (key === "ArrowUp" ? -1 : 1), 0, n - 1);
  grid.scrollRowIntoView(to);
  const node = grid.getCellNode(to, Number(col[1]));
  const next = node != null ? a11y_radio(node.querySelector("[data-ab]")) : null;
  if (next != null) a11y_focus_radio(next);
}

function a11y_keydown(ev) {
  const t = ev.composedPath()[0];
  const radio = a11y_radio(t);
  if (radio != null && a11y_table_root() != null && a11y_table_root().contains(radio)) {
    if (ev.key === " " || ev.key === "Enter") {
      ev.preventDefault();
      ev.stopPropagation();  // not SlickGrid's
      A11Y.focus = {ab: radio.dataset.ab, run: radio.dataset.run};
      if (table_pick(radio)) pl_write();  // the URL follows (js/permalink.js), as after a click
      a11y_table_fix();
    } else if (["ArrowUp", "ArrowDown", "Home", "End"].includes(ev.key)) {
      ev.preventDefault();
      ev.stopPropagation();
      a11y_radio_move(radio, ev.key);
    }
    return;
  }
  const tab = t && t.classList && t.classList.contains("bk-tab") ? t : null;
  if (tab != null) {
    const tabs = Array.from(tab.parentNode.children);
    if (ev.key === " " || ev.key === "Enter") {
      ev.preventDefault();
      tab.click();
    } else if (ev.key === "ArrowLeft" || ev.key === "ArrowRight") {
      ev.preventDefault();
      const i = tabs.indexOf(tab), next = tabs[(i + (ev.key === "ArrowLeft" ? tabs.length - 1 : 1)) % tabs.length];
      next.focus();
      next.click();
    }
  }
}

function a11y_focusin(ev) {
  const radio = a11y_radio(ev.composedPath()[0]);
  A11Y.focus = radio != null ? {ab: radio.dataset.ab, run: radio.dataset.run} : null;
}

// focus leaving a radio for nothing: a click elsewhere (forget it) or its removal by a re-render (keep it)
function a11y_focusout(ev) {
  const radio = a11y_radio(ev.composedPath()[0]);
  if (radio == null || ev.relatedTarget != null) return;
  setTimeout(() => {
    if (radio.isConnected && A11Y.focus != null && A11Y.focus.run === radio.dataset.run) A11Y.focus = null;
  }, 0);
}

// ---- names and states of the widgets and charts ---------------------------------------------------------

function a11y_set(el, attrs) {
  if (el == null) return;
  for (const [k, v] of Object.entries(attrs)) if (el.getAttribute(k) !== v) el.setAttribute(k, v);
}

// one view's names and states (again after each re-render of its shadow DOM: the observer below)
function a11y_view(v) {
  const root = v.shadow_el, name = v.model.name, label = A11Y_LABELS[name];
  if (root == null) return;
  const type = v.model.type;
  if (v.canvas_view != null && v.canvas_view.events_el != null) {  // a chart
    const text = a11y_figure_text(name);
    if (text) a11y_set(v.canvas_view.events_el, {role: "img", "aria-label": text});
    return;
  }
  if (type === "Tabs") {
    a11y_set(root.querySelector(".bk-headers-wrapper"), {role: "tablist", "aria-label": label ?? "Views"});
    for (const el of root.querySelectorAll(".bk-tab")) {
      a11y_set(el, {role: "tab", "aria-selected": String(el.classList.contains("bk-active"))});
    }
    return;
  }
  if (type === "RadioButtonGroup" || type === "CheckboxButtonGroup") {
    a11y_set(root.querySelector(".bk-btn-group"), {role: "group", "aria-label": label ?? ""});
    for (const b of root.querySelectorAll("button")) {
      a11y_set(b, {"aria-pressed": String(b.classList.contains("bk-active"))});
    }
    return;
  }
  if (label == null) return;
  if (type === "CheckboxGroup" || type === "RadioGroup") {
    a11y_set(root.querySelector(".bk-input-group"), {role: "group", "aria-label": label});
  } else if (type === "MultiChoice") {
    for (const el of root.querySelectorAll("input, select")) a11y_set(el, {"aria-label": label});
  } else if (type === "Slider" || type === "RangeSlider") {
    for (const el of root.querySelectorAll(".noUi-handle")) a11y_set(el, {"aria-label": label});
  } else if (v.input_el != null && !(v.title_el != null && v.title_el.textContent.trim())) {
    a11y_set(v.input_el, {"aria-label": label});  // a Select without a title
  }
}

// on ready and once the hidden panels are built: names for views not seen before, and the charts'
// descriptions
function a11y_update() {
  if (S.index == null) return;
  A11Y.charts = [];
  for (const v of S.index.all_views()) {
    if (v.canvas_view != null) {
      a11y_view(v);
      if (A11Y_MODEL_CHART.test(v.model.name ?? "")) A11Y.charts.push(v);
    }
    if (v.model.type === "OnOffButton" || v.model.type === "ClickButton") {  // a chart's toolbar button
      a11y_set(v.el, {role: "button", "aria-label": v.el.title || v.model.type});
    }
    if (v.shadow_el == null || A11Y.observed.has(v)) continue;
    const widget = A11Y_WIDGETS.has(v.model.type) || A11Y_LABELS[v.model.name] != null;
    if (v.model === tbl.table) {
      A11Y.observed.add(v);
      new MutationObserver(a11y_table_fix).observe(v.shadow_el, {subtree: true, childList: true});
      a11y_table_fix();
    } else if (widget) {
      A11Y.observed.add(v);
      a11y_view(v);
      // a re-render replaces the view's elements; a button group or the tabs toggle bk-active
      new MutationObserver(() => a11y_view(v)).observe(v.shadow_el, {subtree: true, childList: true, attributes: true, attributeFilter: ["class"]});
    }
  }
}

// after every update of A and B: the descriptions that name them
function a11y_charts() {
  for (const v of A11Y.charts) a11y_view(v);
}

function a11y_start() {
  document.addEventListener("keydown", a11y_keydown, true);  // capture: before SlickGrid sees the keys
  document.addEventListener("focusin", a11y_focusin);
  document.addEventListener("focusout", a11y_focusout);
  a11y_update();
}

// ---- the palette ---------------------------------------------------------------------------------------

// the header's "Colours" select: CFG.palettes[key] are the class colours in that palette
function a11y_palette(key) {
  const colours = CFG.palettes[key];
  if (colours == null) return;
  set_class_colors(colours);
  // the embedding legend's swatches (views/embedding.py: <i data-class="c" style="background:...">)
  set_html(emb.legend, emb.legend.text.replace(/data-class="(\d+)" style="background:[^"]*"/g,
    (_, c) => `data-class="${c}" style="background:${CLASS_COLORS[Number(c)]}"`));
  cw_update();
  emb_update(false);
  ov_update(true);  // the overview's methods (js/overview.js: category_color)
}

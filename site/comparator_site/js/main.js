// Entry point: every event of the page arrives here (one CustomJS for the whole page).

// a and b: settings (rows of SET), each with an ok run
function set_models(a, b) {
  if (a === b || SET.ok[a] !== 1 || SET.ok[b] !== 1) return;
  if (a === S.sa && b === S.sb) return;
  S.sa = a;
  S.sb = b;
  resolve_runs();
  update_models();
}

// A and B: the runs of the chosen settings at the chosen seed
function resolve_runs() {
  S.A = run_of(S.sa, S.seed);
  S.B = run_of(S.sb, S.seed);
}

function set_fs(fs) {
  if (fs === S.fs || set_info(fs) === undefined) return;
  S.fs = fs;
  S.sa = set_info(fs).A;
  S.sb = set_info(fs).B;
  resolve_runs();
  update_models(true);
}

function set_seed(i) {
  if (i === S.seed) return;  // the select's echo of header_update (a restored permalink's seed)
  if (!(i >= 0 && i < CFG.seeds.length)) return header_update();
  S.seed = i;
  resolve_runs();
  update_models();
}

// everything that follows the forget set, the A/B choice and the seed; keep: the embedding's mode and the
// attack's settings are those a permalink restored (js/permalink.js), not reset
function update_models(fc_changed = false, keep = false) {
  timed("header", header_update);
  timed("table", table_update);
  timed("classwise", cw_update);
  timed("matrix", mx_update);
  timed("similarity", sim_update);
  // the highlight resets to All when the data changes (as the original); the vulnerability colouring
  // (js/audit.js) is of whichever models are shown, so it stays
  if (!keep && S.emb_mode !== 0 && S.emb_mode !== VUL_MODE) {
    S.emb_mode = 0;
    emb.mode.active = 0;
  }
  timed("embedding", () => emb_update(fc_changed));
  timed("attack", keep ? atk_redraw : atk_reset);
  if (AUDITED) timed("audit", aud_update);  // a view only with the audit (js/audit.js)
  timed("overview", ov_update);  // the overview's rings, and its points on a new forget set (js/overview.js)
  publish_state();
  count_update();
  a11y_charts();  // the charts' descriptions name the models (js/a11y.js)
}

// What the page shows, for whatever drives it (the browser tests): set after every complete update, so
// that a change of A, B, the forget set or the seed can be awaited. Page state, not a measurement: always
// on. fc: the set's class when it is one class (else null); A and B: run ids.
function publish_state() {
  const info = set_info(S.fs);
  window.__uc_state = {fc: info.forget_class, fs: info.id, seed: CFG.seeds[S.seed], A: R.id[S.A], B: R.id[S.B]};
}

function on_ready(doc) {
  pl_start(doc);  // the URL hash's state (or the defaults) into S and the widgets (js/permalink.js)
  // the table's radios and the overview's rows set A or B from the DOM, not through dispatch: the URL follows
  document.addEventListener("click", (ev) => { if (table_click(ev) || ov_row_click(ev)) pl_write(); });
  document.addEventListener("click", export_click);
  document.addEventListener("mouseover", atk_grid_over);
  window.addEventListener("scroll", () => { link_hide(); tip_hide(); }, {passive: true});
  mx_encoding();
  update_models(true, true);
  a11y_start();  // keyboard access, accessible names (js/a11y.js)
  // ready once the first full update has been painted (always on, like __uc_state)
  requestAnimationFrame(() => requestAnimationFrame(() => {
    window.__uc_ready = true;
    mark("ready");
    setTimeout(build_hidden_panels, 0);
  }));
}

// The attack panel of an original model is not built for the first render; build it (hidden) right after
// the page is ready, so that the first switch to an unlearned model does not pay for it.
function build_hidden_panels() {
  for (const ab of ["a", "b"]) {
    const body = atk[ab].body;
    if (!body.visible) {
      set_shown(body, true);
      set_shown(body, false);
    }
  }
  a11y_update();  // their charts' descriptions
  mark("built");
}

// a property change arrives as its model, an event as {origin, event_name}
function event_key(obj) {
  if (obj && obj.event_name !== undefined) {
    return `${obj.origin && obj.origin.name ? obj.origin.name : ""}:${obj.event_name}`;
  }
  return obj ? obj.name : null;
}

// hovers and pointers leaving a chart change no state: the URL is not re-encoded for them
const PASSIVE_EVENT = /_hover\d?$|:mouseleave$/;

function dispatch(obj, data, ctx) {
  if (ctx && ctx.index) S.index = ctx.index;
  if (obj && typeof obj.add_root === "function") return on_ready(obj);  // DocumentReady: obj is the Document
  const key = event_key(obj), out = handle(key, obj, data);
  if (!PASSIVE_EVENT.test(key)) pl_write();  // the URL hash follows the state (js/permalink.js)
  return out;
}

// Each case is the name of a model wired to the app (page.py), with ":event" for an event; the cases and
// the wiring are compared by tests/test_js_contract.py. A widget set to the state it shows (by a restored
// permalink) must be a no-op here.
function handle(key, obj, data) {
  switch (key) {
    case "hdr_fc": return set_fs(obj.active);
    case "hdr_seed": return set_seed(Number(obj.value));
    case "hdr_sel_a": case "hdr_sel_b": {
      // read both selects: callbacks run asynchronously, so both may have changed since the event
      const a = hdr.sel_a.value === "" ? S.sa : Number(hdr.sel_a.value);
      const b = hdr.sel_b.value === "" ? S.sb : Number(hdr.sel_b.value);
      if (a === b || SET.ok[a] !== 1 || SET.ok[b] !== 1 || SET.fs[a] !== S.fs || SET.fs[b] !== S.fs) return header_update();
      return set_models(a, b);
    }
    case "tbl_filter": return pl_same_methods(tbl.filter.value) ? undefined : table_filter_changed();
    case "tbl_best": return (tbl.best.active.length > 0) === S.best ? undefined : table_best_changed();
    // the overview (js/overview.js)
    case "ov_tabs": return ov_tab_changed();
    case "ov_brush": return ov_brush_changed();
    case "ov_clear:button_click": return ov_clear();
    case "ov_hover1": return ov_hover(ov.fig1, data);
    case "ov_hover2": return ov_hover(ov.fig2, data);
    case "ov_fig1:tap": return ov_tap(ov.fig1, obj);
    case "ov_fig2:tap": return ov_tap(ov.fig2, obj);
    case "ov_fig1:mouseleave": case "ov_fig2:mouseleave": return tip_hide();
    case "ov_click": return ov_redraw(1);
    case "ov_best_by": return ov_redraw(1);
    case "ov_sens_method": return ov_redraw(2);
    case "ov_across_metric": case "ov_across_mode": return ov_redraw(3);
    case "tbl_csv:button_click": return export_csv();
    case "hdr_palette": return a11y_palette(obj.value);
    case "exp_fig": return export_figure(obj);
    case "core_tabs":
      link_hide();
      tip_hide();
      if (obj.active === 1) for (const ab of ["a", "b"]) if (S.atk.stale[ab]) atk_grids(ab);
      return;
    case "cw_tr_hover": return cw_hover("tr", data);
    case "cw_te_hover": return cw_hover("te", data);
    case "cw_tr_fig:mouseleave": case "cw_te_fig:mouseleave": return cw_band(null);
    case "sim_hover": return sim_hover(data);
    case "sim_fig:mouseleave": return tip_hide();
    case "sim_ref": if (S.sim_ref === obj.active) return; S.sim_ref = obj.active; return sim_update();
    case "sim_split": if (S.sim_split === obj.active) return; S.sim_split = obj.active; return sim_update();
    case "mx_split": if (S.mx_split === obj.active) return; S.mx_split = obj.active; return mx_update();
    case "mx_enc": if (S.mx_enc === obj.active) return; S.mx_enc = obj.active; return mx_encoding();
    case "mx_a_hover": return mx_hover("a", data);
    case "mx_b_hover": return mx_hover("b", data);
    case "mx_a_fig:mouseleave": case "mx_b_fig:mouseleave": return mx_clear();
    case "emb_mode":
      if (obj.active === S.emb_mode) return;
      S.emb_mode = obj.active;
      return emb_update(false);
    case "emb_a_hover": return emb_hover("a", data);
    case "emb_b_hover": return emb_hover("b", data);
    case "emb_a_fig:mouseleave": case "emb_b_fig:mouseleave": return emb_clear();
    case "atk_metric": return atk_set_metric(obj.active);
    case "atk_strategy": return atk_set_strategy(obj.active);
    case "atk_thr": return atk_set_custom(obj.value);
    case "atk_worst_a:button_click": return atk_worst("a");
    case "atk_worst_b:button_click": return atk_worst("b");
    case "atk_show": case "atk_size": atk_grids("a"); atk_grids("b"); return;
    case "atk_a_hover": return atk_hover_dot("a", data);
    case "atk_b_hover": return atk_hover_dot("b", data);
    // a click or a drag on either chart of a panel sets the custom threshold
    case "atk_a_bfly:tap": case "atk_a_bfly:pan": case "atk_a_curve:tap": case "atk_a_curve:pan":
    case "atk_b_bfly:tap": case "atk_b_bfly:pan": case "atk_b_curve:tap": case "atk_b_curve:pan":
      return atk_set_custom(obj.y);
    case "atk_a_bfly:mouseleave": case "atk_a_curve:mouseleave":
    case "atk_b_bfly:mouseleave": case "atk_b_curve:mouseleave":
      return atk_unhover();
    default: return aud_event(key);  // the audit's widgets (js/audit.js), when there are some
  }
}

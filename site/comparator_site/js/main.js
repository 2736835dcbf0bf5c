// Entry point: every event of the page arrives here (one CustomJS for the whole page).

function set_models(a, b) {
  if (a === b || R.ok[a] !== 1 || R.ok[b] !== 1) return;
  if (a === S.A && b === S.B) return;
  S.A = a;
  S.B = b;
  update_models();
}

function set_fc(fc) {
  if (fc === S.fc) return;
  S.fc = fc;
  const info = fc_info(fc);
  S.A = info.A;
  S.B = info.B;
  update_models(true);
}

// everything that follows the forget class and the A/B choice
function update_models(fc_changed = false) {
  S.switches++;
  const prof = {};
  const timed = (name, fn) => { const t0 = performance.now(); fn(); prof[name] = performance.now() - t0; };
  timed("header", header_update);
  timed("table", table_update);
  timed("classwise", cw_update);
  timed("matrix", mx_update);
  timed("similarity", sim_update);
  if (S.emb_mode !== 0) {
    S.emb_mode = 0;  // the highlight resets to All when the data changes (as the original)
    emb_mode.active = 0;
  }
  timed("embedding", () => emb_update(fc_changed));
  timed("attack", atk_reset);
  window.__uc_state = {fc: S.fc, A: R.id[S.A], B: R.id[S.B], switches: S.switches, prof};
}

function on_ready() {
  S.fc = CFG.forget_classes[0];
  const info = fc_info(S.fc);
  S.A = info.A;
  S.B = info.B;
  document.addEventListener("click", table_click);
  document.addEventListener("mouseover", atk_grid_over);
  window.addEventListener("scroll", () => { link_hide(); tip_hide(); }, {passive: true});
  mx_encoding();
  update_models(true);
  // ready once the first full update has been painted
  requestAnimationFrame(() => requestAnimationFrame(() => {
    window.__uc_ready = performance.now();
    setTimeout(build_hidden_panels, 0);
  }));
}

// The attack panel of an original model is not built for the first render; build it (hidden) right after
// the page is ready, so that the first switch to an unlearned model does not pay for it.
function build_hidden_panels() {
  for (const ab of ["a", "b"]) {
    const body = ATK[ab].body;
    if (!body.visible) {
      set_shown(body, true);
      set_shown(body, false);
    }
  }
  window.__uc_built = performance.now();
}

function event_key(obj) {
  if (obj && obj.event_name !== undefined) {
    return `${obj.origin && obj.origin.name ? obj.origin.name : ""}:${obj.event_name}`;
  }
  return obj ? obj.name : null;
}

function dispatch(obj, data, ctx) {
  if (ctx && ctx.index) S.index = ctx.index;
  if (obj && typeof obj.add_root === "function") return on_ready();  // DocumentReady: obj is the Document
  const key = event_key(obj);
  switch (key) {
    case "fc_select": return set_fc(CFG.forget_classes[obj.active]);
    case "sel_a": case "sel_b": {
      // read both selects: callbacks run asynchronously, so both may have changed since the event
      const a = sel_a.value === "" ? S.A : Number(sel_a.value);
      const b = sel_b.value === "" ? S.B : Number(sel_b.value);
      if (a === b || R.ok[a] !== 1 || R.ok[b] !== 1 || R.fc[a] !== S.fc || R.fc[b] !== S.fc) return header_update();
      return set_models(a, b);
    }
    case "tbl_filter": return table_filter_changed();
    case "core_tabs":
      link_hide();
      tip_hide();
      if (obj.active === 1) for (const ab of ["a", "b"]) if (ATK[ab].grids_stale) atk_grids(ab);
      return;
    case "cw_hover_tr": return cw_hover("tr", data);
    case "cw_hover_te": return cw_hover("te", data);
    case "sim_hover": return sim_hover(data);
    case "sim_fig:mouseleave": return tip_hide();
    case "cw_fig_tr:mouseleave": case "cw_fig_te:mouseleave": return cw_band(null);
    case "mx_split": S.mx_split = obj.active; return mx_update();
    case "mx_enc": S.mx_enc = obj.active; return mx_encoding();
    case "mx_hover_a": return mx_hover("a", data);
    case "mx_hover_b": return mx_hover("b", data);
    case "mx_fig_a:mouseleave": case "mx_fig_b:mouseleave": return mx_clear();
    case "sim_ref": S.sim_ref = obj.active; return sim_update();
    case "sim_split": S.sim_split = obj.active; return sim_update();
    case "emb_mode":
      if (obj.active === S.emb_mode) return;
      S.emb_mode = obj.active;
      return emb_update(false);
    case "emb_hover_a": return emb_hover("a", data);
    case "emb_hover_b": return emb_hover("b", data);
    case "emb_fig_a:mouseleave": case "emb_fig_b:mouseleave": return emb_clear();
    case "atk_metric": return atk_set_metric(obj.active);
    case "atk_strategy": return atk_set_strategy(obj.active);
    case "atk_thr": return atk_set_custom(obj.value);
    case "atk_worst_a:button_click": return atk_worst("a");
    case "atk_worst_b:button_click": return atk_worst("b");
    case "atk_show": case "atk_size": atk_grids("a"); atk_grids("b"); return;
    case "atk_hover_a": return atk_hover_dot("a", data);
    case "atk_hover_b": return atk_hover_dot("b", data);
    default: break;
  }
  if (key && key.startsWith("atk_")) {
    if (key.endsWith(":tap") || key.endsWith(":pan")) return atk_set_custom(obj.y);
    if (key.endsWith(":mouseleave")) return atk_unhover();
  }
  return null;
}

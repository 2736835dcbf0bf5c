// The experiments table: the current forget set's settings (one row each, across replicate seeds), the
// method filter, "Best of each method", the A/B radios, and the note on methods not run on the set.

const TABLE_FIELDS = Object.keys(tbl.src.data);

function is_reference(k) {
  return SET.type[k] === "original" || SET.type[k] === "retrained";
}

function table_shows(k) {
  if (S.best && SET.chosen[k] !== 1 && !is_reference(k)) return false;  // best: chosen runs and references
  if (S.brush && !S.brush.has(k) && !is_reference(k)) return false;  // the overview's brush (js/overview.js)
  return S.methods.size === 0 || SET.method[k] === "" || is_reference(k) || S.methods.has(SET.method[k]);
}

function table_update() {
  const rows = set_rows(S.fs).filter(table_shows);
  const d = {};
  for (const f of TABLE_FIELDS) d[f] = new Array(rows.length);
  rows.forEach((k, j) => {
    for (const f of TABLE_FIELDS) {
      if (f in SET) d[f][j] = SET[f][k];
    }
    d.idx[j] = k;
    const ok = SET.ok[k] === 1;
    d.a_state[j] = k === S.sa ? "on" : (!ok || k === S.sb) ? "disabled" : "off";
    d.b_state[j] = k === S.sb ? "on" : (!ok || k === S.sa) ? "disabled" : "off";
  });
  const same_count = rows.length === tbl.src.get_length();
  tbl.src.data = d;
  // the DataTable redraws on its CDSView's change, which BokehJS emits by itself only when the row count
  // changes (then twice): a third redraw of the grid (~10 ms) would only repeat the work
  if (same_count) tbl.table.view.change.emit();
  table_note();
}

// methods not run on this forget set (the workflow's refusals), with the reason; names are escaped
function table_note() {
  const refused = set_info(S.fs).refused;
  const items = refused.map((r) => `<b>${esc(r.method)}</b>: ${esc(r.reason)}`);
  set_html(tbl.note, items.length
    ? `<div class="uc-small uc-refused">Not run on ${esc(set_info(S.fs).name)}: ${items.join("; ")}</div>`
    : "");
}

function table_filter_changed() {
  S.methods = new Set(tbl.filter.value.map((v) => tbl.method_ids[Number(v)]));
  table_update();
}

function table_best_changed() {
  S.best = tbl.best.active.length > 0;  // a CheckboxGroup of one box
  table_update();
}

// clicks on the radio cells (inside the table's shadow DOM: found through the event's composed path);
// true if the choice changed
function table_click(ev) {
  const path = ev.composedPath ? ev.composedPath() : [];
  const target = path.find((n) => n && n.dataset && n.dataset.ab);
  return target ? table_pick(target) : false;
}

// a radio cell (data-ab, data-run) picked by a click or a key (js/a11y.js); a disabled one does nothing.
// True if the choice changed.
function table_pick(target) {
  return pick_model(Number(target.dataset.run), target.dataset.ab);
}

// make setting k Model A or B ("A" / "B"): an ok setting of the forget set, not either side's already.
// True if the choice changed (the table's radios, the overview's points and rows)
function pick_model(k, ab) {
  if (!Number.isInteger(k) || SET.ok[k] !== 1 || SET.fs[k] !== S.fs || k === S.sa || k === S.sb) return false;
  if (ab === "A") set_models(k, S.sb);
  else if (ab === "B") set_models(S.sa, k);
  else return false;
  return true;
}

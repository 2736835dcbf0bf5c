// The experiments table: the current forget class's runs, the method filter, "Best of each method", and
// the A/B radios.

const TABLE_FIELDS = Object.keys(tbl.src.data);

function is_reference(k) {
  return R.type[k] === "original" || R.type[k] === "retrained";
}

function table_shows(k) {
  if (S.best && R.chosen[k] !== 1 && !is_reference(k)) return false;  // best: chosen runs and references
  return S.methods.size === 0 || R.method[k] === "" || is_reference(k) || S.methods.has(R.method[k]);
}

function table_update() {
  const rows = fc_rows(S.fc).filter(table_shows);
  const d = {};
  for (const f of TABLE_FIELDS) d[f] = new Array(rows.length);
  rows.forEach((k, j) => {
    for (const f of TABLE_FIELDS) {
      if (f in R) d[f][j] = R[f][k];
    }
    d.idx[j] = k;
    const ok = R.ok[k] === 1;
    d.a_state[j] = k === S.A ? "on" : (!ok || k === S.B) ? "disabled" : "off";
    d.b_state[j] = k === S.B ? "on" : (!ok || k === S.A) ? "disabled" : "off";
  });
  tbl.src.data = d;
  // the DataTable redraws on its CDSView's change, which BokehJS emits only when the row count changes
  tbl.table.view.change.emit();
}

function table_filter_changed() {
  S.methods = new Set(tbl.filter.value.map((v) => tbl.method_ids[Number(v)]));
  table_update();
}

function table_best_changed() {
  S.best = tbl.best.active.length > 0;  // a CheckboxGroup of one box
  table_update();
}

// clicks on the radio cells (inside the table's shadow DOM: found through the event's composed path)
function table_click(ev) {
  const path = ev.composedPath ? ev.composedPath() : [];
  const target = path.find((n) => n && n.dataset && n.dataset.ab);
  if (!target) return;
  const k = Number(target.dataset.run);
  if (!Number.isInteger(k) || R.ok[k] !== 1 || R.fc[k] !== S.fc) return;
  const ab = target.dataset.ab;
  if (ab === "A" && k !== S.B) set_models(k, S.B);
  if (ab === "B" && k !== S.A) set_models(S.A, k);
}

// Export: the experiments table's rows as CSV, a figure as PNG (BokehJS's own export of a plot view), a
// run's data as JSON. Each is a download made in the page: a Blob behind a temporary <a download>.

function download(blob, filename) {
  const url = window.URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  a.style.display = "none";
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => window.URL.revokeObjectURL(url), 10000);
}

// a file name from names and ids of the tables (which may hold anything)
function file_name(s) {
  return String(s ?? "").replace(/[\\/:*?"<>|\x00-\x1f]/g, "_").trim() || "export";
}

// one CSV field (RFC 4180); a text starting with = + - @ (or a tab / CR) gets a leading apostrophe, so that
// a spreadsheet does not run it as a formula; numbers are written raw, NaN as an empty field
function csv_field(v) {
  let s;
  if (typeof v === "number") {
    s = Number.isFinite(v) ? String(v) : "";
  } else {
    s = String(v ?? "");
    if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
  }
  return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

function compact_json(text) {
  try {
    return JSON.stringify(JSON.parse(text));
  } catch (e) {
    return String(text ?? "");
  }
}

// the rows (settings) the table shows, in its current order (its own sorting: the DataTable's index)
function table_rows_shown() {
  const rows = Array.from(tbl.src.data.idx);
  const v = view_of(tbl.table);
  const order = v != null && v.data != null ? v.data.index : null;
  return order != null && order.length === rows.length ? Array.from(order, (j) => rows[j]) : rows;
}

function table_csv() {
  const spread = CFG.seeds.length > 1;
  const head = ["id", "type", "status", "method", "method_name", "epochs", "batch_size", "lr", "hyperparameters"];
  // with several seeds a metric is its mean and std over the replicates, but the audit's columns are one
  // figure of all of them (pooled), named as such
  const paired = (m) => spread && !CFG.single_figures.includes(m);
  for (const m of CFG.metrics) head.push(...(paired(m) ? [m + "_mean", m + "_std"] : [m]));
  const lines = [head.map(csv_field).join(",")];
  for (const k of table_rows_shown()) {
    const row = [SET.id[k], SET.type[k], SET.ok[k] === 1 ? "ok" : "failed", SET.method[k],
      SET.method[k] ? SET.method_name[k] : "", SET.epochs[k], SET.batch_size[k], SET.lr[k], compact_json(SET.hp[k])];
    for (const m of CFG.metrics) {
      row.push(SET[m][k]);
      if (paired(m)) row.push(SET[m + "_std"][k]);
    }
    lines.push(row.map(csv_field).join(","));
  }
  return lines.join("\r\n") + "\r\n";
}

function export_csv() {
  const blob = new window.Blob([table_csv()], {type: "text/csv;charset=utf-8"});
  download(blob, file_name(`${CFG.name}-${set_info(S.fs).id}`) + ".csv");
}

// a plot (by its model name, an option of the "Save figure" select) as a PNG; the select then resets
function export_figure(select) {
  const name = select.value;
  if (!name) return;
  select.value = "";
  const v = view_of(select.document.get_model_by_name(name));
  if (v == null || typeof v.export !== "function") return;
  v.export("png").to_blob().then((blob) => download(blob, file_name(`${CFG.name}-${name}`) + ".png"));
}

function num_or_null(v) {
  return Number.isFinite(v) ? v : null;
}

// a run's line of runs.arrow, from what the page has of it
function run_json(k) {
  const hp = R.hp[k];
  let hyper = null;
  try {
    hyper = hp ? JSON.parse(hp) : null;
  } catch (e) {
    hyper = hp;
  }
  const ok = R.ok[k] === 1;
  const out = {
    run_id: R.id[k],
    forget_set: set_info(R.fs[k]).id,
    setting_id: SET.id[R.setting[k]],
    seed: CFG.seeds[R.seed_pos[k]] ?? null,
    type: R.type[k],
    status: ok ? "ok" : "failed",
    error: ok ? null : R.error[k],
    method: R.method[k] || null,
    method_name: R.method[k] ? R.method_name[k] : null,
    epochs: num_or_null(R.epochs[k]),
    batch_size: num_or_null(R.batch_size[k]),
    lr: num_or_null(R.lr[k]),
    hyperparameters: hyper,
    chosen: R.chosen[k] === 1,
  };
  for (const m of CFG.metrics) out[m] = num_or_null(R[m][k]);
  if (R.rmia_tpr_1pct !== undefined) out.rmia_tpr_1pct = num_or_null(R.rmia_tpr_1pct[k]);
  if (R.audit_note !== undefined) out.audit_note = R.audit_note[k] || null;
  return out;
}

// a click on a row's {} link (in the table's shadow DOM: found through the event's composed path) downloads
// the run of that setting at the current seed
function export_click(ev) {
  const path = ev.composedPath ? ev.composedPath() : [];
  const target = path.find((n) => n && n.dataset && n.dataset.json !== undefined);
  if (!target) return;
  const k = run_of(Number(target.dataset.json), S.seed);
  if (k < 0) return;
  const blob = new window.Blob([JSON.stringify(run_json(k), null, 1)], {type: "application/json"});
  download(blob, file_name(R.id[k]) + ".json");
}

// Permalinks: the page's state lives in the URL's hash, so that a link opens the page as it was, and the
// browser's back and forward buttons walk through what the reader looked at. For example
//
//   #fs=fc4&a=fc4-ga-e3-lr0.0003&b=fc4-retrained&seed=1&tab=attack&metric=confidence&thr=4.5
//
// Fields (every value URI-encoded; absent or invalid ones take their defaults, one field at a time):
//   fs        the forget set, by its id (CFG.sets[i].id)
//   a, b      Models A and B, by setting id (the settings store's id column: stable across builds,
//             unlike row numbers); a failed run, a setting of another set, or a B equal to A is ignored
//   seed      the replicate seed, by value (CFG.seeds)
//   tab       embedding | attack                                       (written only when not the default)
//   mode      the embedding's highlight: all | target | forgotten | not-forgotten | overly | vulnerability
//   metric    entropy | confidence; strategy: custom | max-score | max-success | common; thr: the custom
//             threshold (a number on the slider's range, snapped to its step)
//   mx, enc   the prediction matrix's split (train | test) and encoding (triangles | bubbles)
//   ref, sim  the layer similarity's reference (original | retrained) and split (train | test)
//   methods   the table's method filter (method ids, comma-separated); best=1: "Best of each method"
//   KEY.NAME  a field of a part another file registers with permalink_part (below)
// fs, a, b and seed are always written (a link keeps its models even if a later build changes the
// defaults); the others only when they differ from the page's defaults, to keep links short.
//
// Reading: on_ready (js/main.js) calls pl_start before the first update, so that the first render already
// shows the linked state (one full update); popstate (back / forward) and hashchange (a pasted link)
// restore the state of the entry without writing a new one. Writing: dispatch (js/main.js) and the
// table's radio clicks call pl_write after each event; once the state has settled (PL_DELAY after its last
// change, so that a slider drag or a brush writes once), it is compared with the current entry's: a change
// of a navigational field (the forget set, A, B, the seed, the tab, the parts' nav fields) adds an entry
// (history.pushState), any other change replaces the entry's hash (history.replaceState), and no change
// writes nothing. Only the fragment changes, so this works from file:// and on any host. A value from the
// hash is only ever compared with the page's own ids and numbers, never put into HTML.
//
// Parts: a file that keeps state of its own registers it at its top level (after this file runs):
//   permalink_part("ov", ov_state, ov_restore, ["tab", "brush"])
// * get() returns an object of fields ({tab: 1, brush: [0.2, 0.6], metric: "UA"}): each becomes KEY.NAME
//   in the hash, an array as its items joined by "," (items must not hold commas), true as 1; null,
//   undefined, false and "" are left out (return only what differs from the part's defaults, to keep
//   links short). A string or number is written as KEY=value.
// * set(fields, initial) gets the part's fields from the hash, as strings ({brush: "0.2,0.6"}), or the one
//   string for KEY=value; {} (or undefined) when the hash has none: restore the defaults. It must check
//   every value (anything can be typed into a URL) and ignore invalid ones. initial is true on load,
//   before the page's first full update (set the state and widgets; the update draws them); false on
//   back / forward / a pasted link, after the page's own views were restored (redraw what changed).
// * nav: the fields whose change adds a history entry (default: all of them; [] for none).
// Fields of a key no part registered are ignored; an exception in a part is reported, not propagated.

const PL_TABS = ["embedding", "attack"];
const PL_MODES = ["all", "target", "forgotten", "not-forgotten", "overly", "vulnerability"];
const PL_METRICS = ["entropy", "confidence"];
const PL_STRATEGIES = ["custom", "max-score", "max-success", "common"];
const PL_SPLITS = ["train", "test"];
const PL_ENCODINGS = ["triangles", "bubbles"];
const PL_REFS = ["original", "retrained"];
const PL_NAV = new Set(["fs", "a", "b", "seed", "tab"]);
const PL_DELAY = 200;  // ms from the state's last change to the write
// parts registered; the document (for the widgets that are named but not arguments); what the current
// history entry holds (all fields, and the navigational ones); the state after the last event; the
// pending write
const PL = {parts: [], doc: null, entry: "", nav: "", seen: "", timer: null};

function permalink_part(key, get, set, nav = null) {
  if (!/^[a-z][a-z0-9_]*$/i.test(key) || PL.parts.some((p) => p.key === key) || PL_NAV.has(key)) {
    throw new Error(`permalink_part: bad or duplicate key ${key}`);
  }
  PL.parts.push({key, get, set, nav: nav == null ? null : new Set(nav)});
}

// an exception in a part: reported (on the console, as an uncaught error) without stopping the page
function pl_report(e) {
  setTimeout(() => { throw e; }, 0);
}

function pl_decode(raw) {
  try {
    return decodeURIComponent(raw);
  } catch (e) {
    return null;  // a malformed escape: the field is ignored
  }
}

// the hash's fields: key -> raw (still encoded) value; the first of repeated keys counts
function pl_parse(hash) {
  const out = new Map();
  for (const item of String(hash || "").replace(/^#/, "").split("&")) {
    if (!item) continue;
    const eq = item.indexOf("=");
    const key = pl_decode(eq < 0 ? item : item.slice(0, eq));
    if (key !== null && !out.has(key)) out.set(key, eq < 0 ? "" : item.slice(eq + 1));
  }
  return out;
}

function pl_value(fields, key) {
  return fields.has(key) ? pl_decode(fields.get(key)) : null;
}

// a name's position in a list of names, or the default
function pl_pick(fields, key, names, dflt, n = names.length) {
  const i = names.indexOf(pl_value(fields, key));
  return i >= 0 && i < n ? i : dflt;
}

// the setting with id `id` among the forget set's settings with an ok run, or -1
function pl_setting(fs, id) {
  if (id === null) return -1;
  const k = ok_settings(fs).find((r) => String(SET.id[r]) === id);
  return k === undefined ? -1 : k;
}

function pl_widget(name) {
  return PL.doc ? PL.doc.get_model_by_name(name) : null;
}

// ---- the state, as the hash holds it -----------------------------------------------------------------------
// The state of everything a link restores (positions and rows, as S holds them) from the hash's fields.
function pl_target(fields) {
  const t = {};
  const fs = CFG.sets.findIndex((s) => String(s.id) === pl_value(fields, "fs"));
  t.fs = fs >= 0 ? fs : 0;
  const info = set_info(t.fs), ok = ok_settings(t.fs);
  const a = pl_setting(t.fs, pl_value(fields, "a"));
  t.sa = a >= 0 ? a : info.A;
  const b = pl_setting(t.fs, pl_value(fields, "b"));
  t.sb = b >= 0 && b !== t.sa ? b : [info.B, info.A, ...ok].find((k) => k !== t.sa) ?? t.sa;
  const seed = CFG.seeds.findIndex((s) => String(s) === pl_value(fields, "seed"));
  t.seed = seed >= 0 ? seed : 0;
  t.tab = pl_pick(fields, "tab", PL_TABS, 0);
  t.mode = pl_pick(fields, "mode", PL_MODES, 0, emb.mode.labels.length);
  t.metric = pl_pick(fields, "metric", PL_METRICS, 0);
  t.strategy = pl_pick(fields, "strategy", PL_STRATEGIES, 0);
  const ax = ATK_AXIS[t.metric], thr = pl_value(fields, "thr");
  let custom = thr === null || thr.trim() === "" ? NaN : Number(thr);
  if (Number.isFinite(custom) && custom >= ax.lo && custom <= ax.hi) {
    custom = atk_snap(custom, ax);
  } else {
    custom = ax.dflt;
  }
  t.custom = custom;
  t.mx_split = pl_pick(fields, "mx", PL_SPLITS, 0);
  t.mx_enc = pl_pick(fields, "enc", PL_ENCODINGS, 0);
  t.sim_ref = pl_pick(fields, "ref", PL_REFS, 0);
  t.sim_split = pl_pick(fields, "sim", PL_SPLITS, 0);
  const wanted = new Set(fields.has("methods") ? fields.get("methods").split(",").map(pl_decode) : []);
  t.methods = tbl.method_ids.filter((m) => wanted.has(String(m)));
  t.best = pl_value(fields, "best") === "1" && !tbl.best.disabled;
  return t;
}

// the page's state now, in the same form
function pl_current() {
  return {
    fs: S.fs, sa: S.sa, sb: S.sb, seed: S.seed, tab: core_tabs.active === 1 ? 1 : 0, mode: S.emb_mode,
    metric: S.atk.metric, strategy: S.atk.strategy, custom: S.atk.custom,
    mx_split: S.mx_split, mx_enc: S.mx_enc, sim_ref: S.sim_ref, sim_split: S.sim_split,
    methods: tbl.method_ids.filter((m) => S.methods.has(m)), best: S.best,
  };
}

// a part's fields, as [key, encoded value] pairs
function pl_part_fields(part) {
  let v;
  try {
    v = part.get();
  } catch (e) {
    pl_report(e);
    return [];
  }
  const enc = (x) => Array.isArray(x) ? x.map((i) => encodeURIComponent(String(i))).join(",")
    : encodeURIComponent(x === true ? "1" : String(x));
  const skip = (x) => x == null || x === false || x === "" || (typeof x === "number" && !Number.isFinite(x));
  if (v == null || typeof v !== "object") return skip(v) ? [] : [[part.key, enc(v)]];
  const keep = Object.keys(v).filter((n) => !skip(v[n]));
  return keep.map((n) => [`${part.key}.${encodeURIComponent(n)}`, enc(v[n])]);
}

// the hash of the page's state now: all of it, and its navigational fields only
function pl_encode() {
  const t = pl_current(), f = [];
  const put = (key, value, when = true) => { if (when) f.push([key, encodeURIComponent(String(value))]); };
  put("fs", set_info(t.fs).id);
  put("a", SET.id[t.sa]);
  put("b", SET.id[t.sb]);
  put("seed", CFG.seeds[t.seed], CFG.seeds.length > 1);
  put("tab", PL_TABS[t.tab], t.tab !== 0);
  put("mode", PL_MODES[t.mode], t.mode !== 0);
  put("metric", PL_METRICS[t.metric], t.metric !== 0);
  put("strategy", PL_STRATEGIES[t.strategy], t.strategy !== 0);
  put("thr", t.custom, t.custom !== ATK_AXIS[t.metric].dflt);
  put("mx", PL_SPLITS[t.mx_split], t.mx_split !== 0);
  put("enc", PL_ENCODINGS[t.mx_enc], t.mx_enc !== 0);
  put("ref", PL_REFS[t.sim_ref], t.sim_ref !== 0);
  put("sim", PL_SPLITS[t.sim_split], t.sim_split !== 0);
  if (t.methods.length) f.push(["methods", t.methods.map((m) => encodeURIComponent(String(m))).join(",")]);
  put("best", 1, t.best);
  const nav = f.filter(([k]) => PL_NAV.has(k));
  for (const part of PL.parts) {
    const pf = pl_part_fields(part);
    f.push(...pf);
    const name = (k) => k.slice(part.key.length + 1);
    nav.push(...pf.filter(([k]) => part.nav === null || part.nav.has(pl_decode(name(k)))));
  }
  const join = (fields) => fields.map(([k, v]) => `${k}=${v}`).join("&");
  return {hash: join(f), nav: join(nav)};
}

// ---- restoring ---------------------------------------------------------------------------------------------
// Put the hash's state into S and the widgets. initial: on load, before the first full update (on_ready
// runs it); otherwise redraw what changed: a new forget set, A, B or seed is one full update, which keeps
// the restored embedding mode and attack settings (update_models' keep), else only the views concerned.
function pl_apply(hash, initial) {
  const fields = pl_parse(hash);
  const t = pl_target(fields);
  const core = initial || t.fs !== S.fs || t.sa !== S.sa || t.sb !== S.sb || t.seed !== S.seed;
  const fs_changed = t.fs !== S.fs;
  S.fs = t.fs;
  S.sa = t.sa;
  S.sb = t.sb;
  S.seed = t.seed;
  resolve_runs();
  const redraw = new Set();
  const set_widget = (model, attr, value) => {
    if (model && JSON.stringify(model[attr]) !== JSON.stringify(value)) model[attr] = value;
  };
  if (core_tabs.active !== t.tab) core_tabs.active = t.tab;  // dispatch's core_tabs builds stale grids
  if (t.mode !== S.emb_mode) {
    S.emb_mode = t.mode;
    redraw.add("emb");
  }
  set_widget(emb.mode, "active", t.mode);
  if (t.metric !== S.atk.metric || t.strategy !== S.atk.strategy || t.custom !== S.atk.custom) {
    S.atk.metric = t.metric;
    S.atk.strategy = t.strategy;
    S.atk.custom = t.custom;
    redraw.add("atk");
  }
  if (t.mx_split !== S.mx_split) redraw.add("mx");
  if (t.mx_enc !== S.mx_enc) redraw.add("enc");
  if (t.sim_ref !== S.sim_ref || t.sim_split !== S.sim_split) redraw.add("sim");
  S.mx_split = t.mx_split;
  S.mx_enc = t.mx_enc;
  S.sim_ref = t.sim_ref;
  S.sim_split = t.sim_split;
  set_widget(pl_widget("mx_split"), "active", t.mx_split);
  set_widget(pl_widget("mx_enc"), "active", t.mx_enc);
  set_widget(pl_widget("sim_ref"), "active", t.sim_ref);
  set_widget(pl_widget("sim_split"), "active", t.sim_split);
  const methods = new Set(t.methods);
  if (t.best !== S.best || methods.size !== S.methods.size || t.methods.some((m) => !S.methods.has(m))) {
    redraw.add("tbl");
  }
  S.methods = methods;
  S.best = t.best;
  set_widget(tbl.filter, "value", t.methods.map((m) => String(tbl.method_ids.indexOf(m))));
  set_widget(tbl.best, "active", t.best ? [0] : []);
  const parts = () => {
    for (const part of PL.parts) {
      const mine = Object.create(null);
      let any = false, whole;
      for (const [k, raw] of fields) {
        if (k === part.key) whole = pl_decode(raw);
        if (k.startsWith(part.key + ".")) {
          const v = pl_decode(raw);
          if (v !== null) { mine[k.slice(part.key.length + 1)] = v; any = true; }
        }
      }
      try {
        part.set(whole != null && !any ? whole : mine, initial);
      } catch (e) {
        pl_report(e);
      }
    }
  };
  if (initial) return parts();
  if (core) {
    update_models(fs_changed, true);
  } else {
    if (redraw.has("emb")) emb_update(false);
    if (redraw.has("atk")) atk_redraw();
    if (redraw.has("mx")) mx_update();
    if (redraw.has("sim")) sim_update();
    if (redraw.has("tbl")) table_update();
  }
  if (redraw.has("enc")) mx_encoding();
  parts();
}

// the history entry the browser moved to (back / forward) or a hash typed or pasted: its state, no write
function pl_restore() {
  // the entry's hash is the state shown (popstate and hashchange both come for one move)
  if (window.location.hash.replace(/^#/, "") === PL.entry) return;
  if (PL.timer !== null) {
    clearTimeout(PL.timer);  // a pending write belonged to the entry the browser left
    PL.timer = null;
  }
  pl_apply(window.location.hash, false);
  const now = pl_encode();
  PL.entry = PL.seen = now.hash;
  PL.nav = now.nav;
}

// on load (on_ready): the hash's state into S and the widgets, before the first full update
function pl_start(doc) {
  PL.doc = doc;
  pl_apply(window.location.hash, true);
  const now = pl_encode();
  PL.entry = PL.seen = now.hash;
  PL.nav = now.nav;
  window.addEventListener("popstate", pl_restore);
  window.addEventListener("hashchange", pl_restore);
}

// ---- writing -----------------------------------------------------------------------------------------------
// after an event: write the hash once the state has settled (PL_DELAY after its last change: a slider
// drag or a brush writes once; an event that changed nothing, a hover, neither writes nor postpones)
function pl_write() {
  if (PL.doc === null) return;
  const now = pl_encode().hash;
  if (now === PL.seen) return;
  PL.seen = now;
  if (PL.timer !== null) clearTimeout(PL.timer);
  PL.timer = setTimeout(pl_flush, PL_DELAY);
}

function pl_flush() {
  PL.timer = null;
  const now = pl_encode();
  PL.seen = now.hash;
  if (now.hash === PL.entry) return;
  const url = "#" + now.hash;
  try {
    if (now.nav !== PL.nav) window.history.pushState(null, "", url);
    else window.history.replaceState(null, "", url);
  } catch (e) {
    // a browser that refuses the History API here (a sandboxed frame): a plain hash change, which adds
    // an entry; its hashchange finds the state unchanged
    PL.entry = now.hash;
    PL.nav = now.nav;
    window.location.hash = url;
    return;
  }
  PL.entry = now.hash;
  PL.nav = now.nav;
}

// is the method filter's value (indexes into tbl.method_ids) the filter S holds? (its echo after a restore)
function pl_same_methods(value) {
  const m = new Set(value.map((v) => tbl.method_ids[Number(v)]));
  return m.size === S.methods.size && [...m].every((x) => S.methods.has(x));
}

// The page's state and read access to the stores (one fixed-size block per run; offsets in st.runs).
// The table, the selects and the class-wise view pick settings (SET: a forget set's model type, method and
// grid point across replicate seeds); the seed picks which replicate's runs (R) are A and B in the
// instance-level views. With one seed a setting is one run, at the same row.

const R = st.runs.data;
const SET = st.settings.data;
const SUB = st.subset.data;

const S = {
  index: null,         // Bokeh's view index (from cb_context), to reach views for screen coordinates
  fs: 0,               // the forget set (position in CFG.sets)
  seed: 0,             // the replicate seed (position in CFG.seeds)
  sa: -1,              // the settings chosen as A and B (rows of SET)
  sb: -1,
  A: -1,               // their runs at the seed (rows of R)
  B: -1,
  emb_mode: 0,
  emb_row: -1,         // row of emb_src under the pointer
  mx_split: 0,
  mx_enc: 0,
  sim_ref: 0,
  sim_split: 0,
  methods: new Set(),  // method filter of the table (empty: all)
  best: false,         // the table's "Best of each method": only chosen runs (and the references)
  atk: {
    metric: 0, strategy: 0, custom: 1.25, thr: {a: 1.25, b: 1.25}, hover: null,
    drawn: {a: null, b: null},        // what each panel shows: its dots' items, success count, runs
    stale: {a: false, b: false},      // thumbnail grids to rebuild when the attack tab is shown
  },
};

function set_info(fs) {
  return CFG.sets[fs];
}

// the forget set's settings (rows of SET) and those with an ok run
function set_rows(fs) {
  return set_info(fs).rows;
}

function ok_settings(fs) {
  return set_rows(fs).filter((k) => SET.ok[k] === 1);
}

// the classes marked ✖ (the current set's; none for a random set)
function set_classes() {
  return set_info(S.fs).classes;
}

// the run of setting s at seed position i; a setting without one (an external model: first replicate
// only) shows its first run
function run_of(s, i) {
  if (s == null || s < 0) return -1;
  const k = SET["run" + i][s];
  if (k >= 0) return k;
  for (let j = 0; j < CFG.seeds.length; j++) if (SET["run" + j][s] >= 0) return SET["run" + j][s];
  return -1;
}

// the runs of a forget set, all seeds
const _set_runs = {};
function set_runs(fs) {
  if (_set_runs[fs] === undefined) {
    const out = [];
    for (let k = 0; k < R.fs.length; k++) if (R.fs[k] === fs) out.push(k);
    _set_runs[fs] = out;
  }
  return _set_runs[fs];
}

function model_of(ab) {
  return ab === "a" ? S.A : S.B;
}

function other_side(ab) {
  return ab === "a" ? "b" : "a";
}

function run_caption(k) {
  return k >= 0 ? R.label[k] : "";
}

function is_original(k) {
  return k >= 0 && R.type[k] === "original";
}

// subset positions of the forget set's members, in subset order (the order of the fgt store)
function forget_positions(fs) {
  return set_info(fs).pos;
}

const _members = {};
// per subset position: 1 if the image is in the forget set
function member_mask(fs) {
  if (_members[fs] === undefined) {
    const m = new Uint8Array(N);
    for (const i of forget_positions(fs)) m[i] = 1;
    _members[fs] = m;
  }
  return _members[fs];
}

function probs_of(k, i) {
  const off = R.off_inst[k];
  if (off < 0) return null;
  const out = new Array(C);
  for (let c = 0; c < C; c++) out[c] = st.inst.data["p" + c][off + i] / 1000;
  return out;
}

function pred_of(k, i) {
  const off = R.off_inst[k];
  if (off < 0) return -1;
  const p = st.inst.data.pred[off + i];
  return p === 255 ? -1 : p;
}

function view_of(model) {
  return S.index ? S.index.find_one(model) : null;
}

// client (viewport) coordinates of a data point in a plot
function client_xy(fig, x, y) {
  const v = view_of(fig);
  if (v == null || !Number.isFinite(x) || !Number.isFinite(y)) return null;
  const r = v.canvas_view.el.getBoundingClientRect();
  return [r.left + v.frame.x_scale.compute(x), r.top + v.frame.y_scale.compute(y)];
}

function client_of_screen(fig, sx, sy) {
  const v = view_of(fig);
  if (v == null) return null;
  const r = v.canvas_view.el.getBoundingClientRect();
  return [r.left + sx, r.top + sy];
}

// The page's state and read access to the stores (one fixed-size block per run; offsets in st.runs).

const R = st.runs.data;
const SUB = st.subset.data;

const S = {
  index: null,         // Bokeh's view index (from cb_context), to reach views for screen coordinates
  fc: CFG.forget_classes[0],
  A: -1,
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

function fc_info(fc) {
  return CFG.per_fc[String(fc)];
}

function fc_rows(fc) {
  return fc_info(fc).rows;
}

function ok_rows(fc) {
  return fc_rows(fc).filter((k) => R.ok[k] === 1);
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

const _fgt_pos = {};
// subset positions of the forget class's instances, in subset order (the order of the fgt store)
function forget_positions(fc) {
  if (_fgt_pos[fc] === undefined) {
    const out = [];
    for (let i = 0; i < N; i++) {
      if (SUB.label[i] === fc) out.push(i);
    }
    _fgt_pos[fc] = out;
  }
  return _fgt_pos[fc];
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

// Layer-wise similarity: the diagonal CKA of A and B against the original or the retrained model.

function sim_block(k, ref, split, sub) {
  const off = R.off_sim[k];
  const out = new Array(L).fill(NaN);
  if (off < 0) return out;
  const base = off + ((ref * 2 + split) * 2 + sub) * L;
  for (let l = 0; l < L; l++) out[l] = st.sim.data.cka[base + l];
  return out;
}

function sim_values(k, sub) {
  let v = sim_block(k, S.sim_ref, S.sim_split, sub);
  if (S.sim_ref === 1 && v.every((x) => !Number.isFinite(x))) {
    v = sim_block(k, 0, S.sim_split, sub);  // no retrained reference: fall back to the original (as upstream)
  }
  return v;
}

function sim_hover(data) {
  const idx = data.index.indices;
  if (!idx.length) { tip_hide(); return; }
  const i = idx[0], d = sim.src.data;
  const at = client_of_screen(sim.fig, data.geometry.sx, data.geometry.sy);
  if (at) tip_text(at[0], at[1], `Layer ${d.layer[i]}`, [
    ["Model A Retain", fmt(d.a_ret[i]), COL.A], ["Model A Forget", fmt(d.a_fgt[i]), COL.A],
    ["Model B Retain", fmt(d.b_ret[i]), COL.B], ["Model B Forget", fmt(d.b_fgt[i]), COL.B]]);
}

function sim_update() {
  const d = {layer: CFG.layers.slice()};
  for (const [ab, k] of [["a", S.A], ["b", S.B]]) {
    for (const [sub, name] of [[0, "ret"], [1, "fgt"]]) {
      const v = sim_values(k, sub);
      d[`${ab}_${name}`] = v;
    }
  }
  sim.src.data = d;
  set_html(sim.caption, `<div class="uc-caption">${model_tag("a", S.A)} &nbsp; ${model_tag("b", S.B)}</div>`);
}

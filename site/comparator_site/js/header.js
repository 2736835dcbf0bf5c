// Header: the forget-set selector, the Model A / Model B selects (of settings) and the seed select.

function option_label(k) {
  const m = SET.method_name[k];
  return `${SET.type_label[k]} \u00b7 ${SET.id[k]}` + (m && m !== "-" ? ` \u00b7 ${m}` : "");
}

function header_update() {
  const rows = ok_settings(S.fs);
  if (hdr.fc.active !== S.fs) hdr.fc.active = S.fs;
  if (hdr.seed.value !== String(S.seed)) hdr.seed.value = String(S.seed);
  // <option> labels are set as text by BokehJS, so the raw names are safe here
  const choices = (other) => rows.filter((k) => k !== other).map((k) => [String(k), option_label(k)]);
  hdr.sel_a.setv({options: choices(S.sb), value: String(S.sa)});
  hdr.sel_b.setv({options: choices(S.sa), value: String(S.sb)});
}

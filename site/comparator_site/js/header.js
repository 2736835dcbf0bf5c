// Header: the forget-class selector and the Model A / Model B selects.

function option_label(k) {
  const m = R.method_name[k];
  return `${R.type_label[k]} \u00b7 ${R.id[k]}` + (m && m !== "-" ? ` \u00b7 ${m}` : "");
}

function header_update() {
  const rows = ok_rows(S.fc);
  const fi = CFG.forget_classes.indexOf(S.fc);
  if (hdr.fc.active !== fi) hdr.fc.active = fi;
  // <option> labels are set as text by BokehJS, so the raw names are safe here
  const choices = (other) => rows.filter((k) => k !== other).map((k) => [String(k), option_label(k)]);
  hdr.sel_a.setv({options: choices(S.B), value: String(S.A)});
  hdr.sel_b.setv({options: choices(S.A), value: String(S.B)});
}

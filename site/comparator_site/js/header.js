// Header: the forget-class selector and the Model A / Model B selects.

function option_label(k) {
  const m = R.method_name[k];
  return `${R.type_label[k]} \u00b7 ${R.id[k]}` + (m && m !== "-" ? ` \u00b7 ${m}` : "");
}

function header_update() {
  const rows = ok_rows(S.fc);
  const fi = CFG.forget_classes.indexOf(S.fc);
  if (fc_select.active !== fi) fc_select.active = fi;
  // <option> labels are set as text by BokehJS, so the raw names are safe here
  sel_a.setv({options: rows.filter((k) => k !== S.B).map((k) => [String(k), option_label(k)]), value: String(S.A)});
  sel_b.setv({options: rows.filter((k) => k !== S.A).map((k) => [String(k), option_label(k)]), value: String(S.B)});
}

// The instance tooltip (thumbnail, true class, both models' predictions and class probabilities) and
// the line that joins an instance's positions in the two embedding panels. Both live in the page's
// own DOM (outside Bokeh's shadow roots) and are built with textContent, never innerHTML.

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// the connecting line: a fixed-position, rotated 2 px div between the two screen positions,
// shortened by 4 px at each end (as the original)
function link_show(p, q) {
  let line = document.getElementById("uc-link");
  if (line == null) {
    line = el("div");
    line.id = "uc-link";
    document.body.appendChild(line);
  }
  if (p == null || q == null) { line.style.display = "none"; return; }
  const dx = q[0] - p[0], dy = q[1] - p[1];
  const d = Math.hypot(dx, dy) || 1;
  const s = Math.min(4, d / 2);
  line.style.left = `${p[0] + dx / d * s}px`;
  line.style.top = `${p[1] + dy / d * s - 1}px`;
  line.style.width = `${Math.max(0, d - 2 * s)}px`;
  line.style.transform = `rotate(${Math.atan2(dy, dx)}rad)`;
  line.style.display = "block";
}

function link_hide() {
  const line = document.getElementById("uc-link");
  if (line) line.style.display = "none";
}

// a thumbnail from the sprite sheet (a CSS background position, no per-image data)
function thumb_style(i, size) {
  const s = SUB.sprite[i];
  if (CFG.thumbnails == null || s < 0) return null;
  const cols = CFG.sprite_columns, rows = CFG.sprite_rows;
  const col = s % cols, row = Math.floor(s / cols);
  return `background-image:url('${CFG.thumbnails}');background-size:${cols * size}px ${rows * size}px;` +
         `background-position:${-col * size}px ${-row * size}px`;
}

function tip_el() {
  let t = document.getElementById("uc-tip");
  if (t == null) {
    t = el("div");
    t.id = "uc-tip";
    document.body.appendChild(t);
  }
  return t;
}

// models: [{name, color, probs, pred, hatched, emphasis}]; extra: [[label, value, colour]] fact rows
function tip_show(cx, cy, i, models, extra = []) {
  const t = tip_el();
  t.replaceChildren();
  t.classList.remove("small");
  const head = el("div", "uc-tip-head");
  const img = el("div", "uc-tip-img");
  const style = thumb_style(i, 112);
  if (style) img.setAttribute("style", style);
  else img.textContent = "no thumbnail";
  head.appendChild(img);
  const facts = el("div", "uc-tip-facts");
  const label = SUB.label[i];
  facts.appendChild(el("div", "uc-tip-row", `Image #${SUB.index[i]}`));
  const tc = el("div", "uc-tip-row");
  tc.appendChild(el("b", null, "True Class: "));
  tc.appendChild(document.createTextNode(class_name(label, set_classes())));
  facts.appendChild(tc);
  facts.appendChild(el("div", "uc-tip-row uc-tip-sub", "Predicted Class"));
  for (const m of models) {
    const r = el("div", "uc-tip-row");
    const who = el("span", null, m.name + ": ");
    who.style.color = m.color;
    who.style.fontWeight = "600";
    r.appendChild(who);
    r.appendChild(document.createTextNode(m.pred >= 0 ? class_name(m.pred, set_classes()) : "-"));
    facts.appendChild(r);
  }
  for (const [label, value, colour] of extra) {
    const r = el("div", "uc-tip-row uc-tip-sub");
    r.appendChild(document.createTextNode(`${label}: `));
    const v = el("span", null, value);
    if (colour) v.style.color = colour;
    r.appendChild(v);
    facts.appendChild(r);
  }
  head.appendChild(facts);
  t.appendChild(head);
  const chart = el("div", "uc-tip-chart");
  for (let c = 0; c < C; c++) {
    const r = el("div", "uc-tip-bar-row");
    r.appendChild(el("span", "uc-tip-cls", class_name(c, set_classes())));
    const bars = el("span", "uc-tip-bars");
    for (const m of models) {
      const p = m.probs ? m.probs[c] : NaN;
      const b = el("span", "uc-tip-bar" + (m.hatched ? " hatched" : "") + (m.emphasis === false ? " faint" : ""));
      b.style.width = `${Math.max(0, (p || 0) * 150)}px`;
      b.style.backgroundColor = CLASS_COLORS[c];
      b.style.borderColor = m.color;
      const v = el("span", "uc-tip-val", Number.isFinite(p) ? p.toFixed(3) : "-");
      const line = el("span", "uc-tip-line");
      line.appendChild(b);
      line.appendChild(v);
      bars.appendChild(line);
    }
    r.appendChild(bars);
    chart.appendChild(r);
  }
  t.appendChild(chart);
  const legend = el("div", "uc-tip-legend");
  for (const m of models) {
    const s = el("span", "uc-tip-key" + (m.hatched ? " hatched" : ""), m.name);
    s.style.borderColor = m.color;
    legend.appendChild(s);
  }
  legend.appendChild(el("span", "uc-tip-note", "class probabilities (softmax, T = 1)"));
  t.appendChild(legend);
  tip_place(t, cx, cy);
}

function tip_hide() {
  const t = document.getElementById("uc-tip");
  if (t) t.style.display = "none";
}

// a small text tooltip: rows of [label, value, colour]
function tip_text(cx, cy, title, rows) {
  const t = tip_el();
  t.replaceChildren();
  t.classList.add("small");
  if (title) t.appendChild(el("div", "uc-tip-title", title));
  const table = el("div", "uc-tip-table");
  for (const [label, value, colour] of rows) {
    const r = el("div", "uc-tip-trow");
    r.appendChild(el("span", "uc-tip-tlabel", label));
    const v = el("span", "uc-tip-tvalue", value);
    if (colour) v.style.color = colour;
    r.appendChild(v);
    table.appendChild(r);
  }
  t.appendChild(table);
  tip_place(t, cx, cy);
}

function tip_place(t, cx, cy) {
  t.style.display = "block";
  const w = t.offsetWidth, h = t.offsetHeight;
  let x = cx + 16, y = cy + 16;
  if (x + w > window.innerWidth - 4) x = cx - w - 16;
  if (y + h > window.innerHeight - 4) y = Math.max(4, cy - h - 16);
  t.style.left = `${Math.max(4, x)}px`;
  t.style.top = `${Math.max(4, y)}px`;
}

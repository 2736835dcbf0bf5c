// Tick labels of the overview's gap axis (views/overview.py): four decimals, so that every label has one
// width (an axis whose width changes makes BokehJS lay out the whole page again), and a negative tick of
// the padded range left blank. A CustomJSTickFormatter body: `tick` is the value.
return tick < 0 ? "" : tick.toFixed(4);

// Tick labels of the butterfly chart's count axis: counts on both sides are positive.
return String(Math.abs(Math.round(tick)));

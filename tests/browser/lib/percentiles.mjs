// Percentile summaries for the measurement scripts.

/** The `p`th percentile (nearest rank) of sorted values. */
export function percentile(sorted, p) {
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** One line: n, p50, p95, min, max and mean of `values` (in `unit`). */
export function summary(name, values, unit = 'ms') {
  const s = [...values].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  const f = (v) => v.toFixed(1).padStart(7);
  return `${name.padEnd(34)} n=${s.length}  p50 ${f(percentile(s, 50))} ${unit}  p95 ${f(percentile(s, 95))} ${unit}  min ${f(s[0])}  max ${f(s.at(-1))}  mean ${f(mean)}`;
}

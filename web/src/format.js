// Number formatting shared by the charts, heap maps and metric tables (binary units, as WebAssembly pages are).

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

export function bytes(v) {
  if (v == null || !Number.isFinite(v)) return "–";
  let u = 0, x = Math.abs(v);
  while (x >= 1024 && u < UNITS.length - 1) { x /= 1024; u++; }
  const digits = u === 0 || x >= 100 ? 0 : x >= 10 ? 1 : 2;
  return `${v < 0 ? "-" : ""}${x.toFixed(digits)} ${UNITS[u]}`;
}

export const percent = (f) => (f == null ? "–" : `${(f * 100).toFixed(2)}%`);

export const count = (v) => (v == null ? "–" : Math.round(v).toLocaleString("en-US"));

// Axis ticks: "200K" rather than "200,000", so a narrow chart's labels do not run together. What
// Intl.NumberFormat("en-US", {notation: "compact", maximumFractionDigits: 1}) writes, without making one:
// that costs 15-30 ms in each page, which a blog page of widgets would pay before its first chart.
const SUFFIXES = ["", "K", "M", "B", "T"];
export function compact(v) {
  if (v == null) return "–";
  let k = 0, x = Math.abs(v);
  while (x >= 999.95 && k < SUFFIXES.length - 1) { x /= 1000; k++; }
  return `${v < 0 ? "-" : ""}${Math.round(x * 10) / 10}${SUFFIXES[k]}`;
}

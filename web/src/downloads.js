// What a person takes away from a view: the metrics of both sides (CSV, JSON), the trace in pyfrag's text
// format, the address lines of each side (as `pyfrag run/real --addresses` print them), and each chart as
// PNG (as SVG: chartsvg.js). The builders are plain functions over a view's timelines; save() hands a Blob
// to the browser.

import { FREE, summary } from "./timeline.js";

const PAGE = 65536, WASM32_MAX = 65536 * PAGE;
const OPS = ["a", "f", "r"];

// The trace of a view in pyfrag's text format (pyfrag/trace/text.py reads it back).
export function traceText(trace, name) {
  const clean = (s) => String(s).replace(/[\r\n]+/g, " ");
  const out = ["# pyfrag trace v1", `# name: ${clean(name)}`];
  if (trace.maximum_bytes && trace.maximum_bytes < WASM32_MAX) out.push(`# maximum: ${Math.floor(trace.maximum_bytes / PAGE)}`);
  const aligns = new Map(trace.aligns ?? []);
  for (let i = 0; i < trace.ops.length; i++) {
    const op = trace.ops[i];
    if (op === FREE) { out.push(`f ${trace.ids[i]}`); continue; }
    out.push(`${OPS[op]} ${trace.ids[i]} ${trace.sizes[i]}${aligns.has(i) ? ` align=${aligns.get(i)}` : ""}`);
  }
  return `${out.join("\n")}\n`;
}

// `event address memory_bytes` for every alloc and realloc: diffable with `pyfrag real --addresses`.
export function addressLines(tl) {
  const out = [];
  for (let i = 0; i < tl.n; i++) if (tl.ops[i] !== FREE) out.push(`${i} ${tl.addresses[i]} ${tl.heap[i]}`);
  return out.length ? `${out.join("\n")}\n` : "";
}

const FIELDS = ["events", "heap_bytes", "peak_heap_bytes", "live_bytes", "peak_live_bytes", "utilization",
  "heap_only_utilization", "static_bytes", "wasted_bytes", "grow_events", "failures"];

// {side: {title, numbers..., first_failure, ...extras}} for the sides a view has.
function sides(view) {
  const out = {};
  for (const key of ["sim", "real"]) {
    const side = view[key];
    if (!side) continue;
    const s = summary(side.tl);
    const row = { title: side.title };
    for (const f of FIELDS) row[f] = s[f];
    row.first_failure = s.oom ? { index: s.oom.index, op: s.oom.op, size: s.oom.size, kind: s.oom.kind,
      align: s.oom.align ?? null, reason: s.oom.reason ?? null, free_bytes: s.oom.free_bytes, largest_free: s.oom.largest_free, verdict_from_model: !!s.oom.from_model } : null;
    row.largest_free_block = side.extra.largest_free_block ?? null;
    row.external_fragmentation = side.extra.external_fragmentation ?? null;
    row.reported_live = side.extra.reported_live ?? null;
    row.trace_issues = side.extra.issue_count ?? 0;
    out[key] = row;
  }
  return out;
}

export function metricsJson(view) {
  const { trace, label } = view.payload;
  return `${JSON.stringify({ label, trace: { name: trace.name, events: trace.n, maximum_bytes: trace.maximum_bytes },
    agreement: view.agreement?.text ?? null, ...sides(view) }, null, 2)}\n`;
}

const csvCell = (v) => {
  const text = v == null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

// One row per metric, one column per side.
export function metricsCsv(view) {
  const s = sides(view), keys = Object.keys(s);
  const names = [...new Set(keys.flatMap((k) => Object.keys(s[k])))];
  const rows = [["metric", ...keys], ...names.map((n) => [n, ...keys.map((k) => s[k][n])])];
  return `${rows.map((r) => r.map(csvCell).join(",")).join("\n")}\n`;
}

// A file name from a view's label: letters, digits, dashes.
export const slug = (text) => String(text).toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "pyfrag";

export function save(name, blob) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

// The chart's canvas (uPlot draws axes and lines there) as a PNG Blob, on an opaque background.
export function chartPng(el, background) {
  const source = el._chart?.ctx.canvas;
  if (!source) return Promise.resolve(null);
  const canvas = document.createElement("canvas");
  canvas.width = source.width;
  canvas.height = source.height;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = background;
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(source, 0, 0);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
}

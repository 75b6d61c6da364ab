// The results pane for one show(): simulated and real timelines drawn side by side on shared axes
// (growth charts, a metrics table, heap maps under one time slider). Reads timelines, writes the DOM;
// never talks to a worker.

import { drawChart, clearChart } from "./charts.js";
import { cellKind, clearHeapMap, drawHeapMap } from "./heapmap.js";
import { failureText } from "./failures.js";
import { summary } from "./timeline.js";
import { bytes, count, percent } from "./format.js";

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);

function sharedScale(tls) {
  let events = 1, top = 1;
  for (const tl of tls) {
    events = Math.max(events, tl.n);
    top = Math.max(top, tl.peakHeap);
  }
  return { events, bytes: top };
}

function oomText(oom) {
  if (!oom) return "none";
  const why = oom.from_model ? " (verdict from the model's free blocks: exact up to here)" : "";
  return failureText(oom, { bytes, count }) + why;
}

// A trap is never an OOM: the module itself failed (AssemblyScript aborts when memory cannot grow)
const trapText = (trap) => `trap at event ${count(trap.index)} in ${trap.op}: ${trap.message}; the replay ended there`;

// A value the real module does not show, unless the address-exact model stood in for it.
const modelValue = (v, x, fmt) => (v == null ? "not visible" : `${fmt(v)}${x.from_model ? " (the model's: exact here)" : ""}`);

// trace issues (invalid frees and the like) a replay skipped or repaired: how many, and the first
function issuesText(issues, n) {
  if (!n) return "none";
  const first = issues[0];
  return `${count(n)}; first: ${first.where ?? `event ${count(first.index)}`}: ${first.message}`;
}

// rows of [label, value(summary, extra)]; extra holds what only one side knows
const ROWS = [
  ["events replayed", (s) => count(s.events)],
  ["heap bytes (memory.buffer.byteLength)", (s) => bytes(s.heap_bytes)],
  ["peak heap", (s) => bytes(s.peak_heap_bytes)],
  ["live bytes", (s) => bytes(s.live_bytes)],
  ["utilization (the article's: live ÷ heap)", (s) => percent(s.utilization)],
  ["heap-only utilization (live ÷ heap above the heap base)", (s) => percent(s.heap_only_utilization)],
  ["static data + stack (below the heap base)", (s) => bytes(s.static_bytes)],
  ["wasted (heap − live, the article's)", (s) => bytes(s.wasted_bytes)],
  ["memory.grow events", (s) => count(s.grow_events)],
  ["failed requests", (s) => count(s.failures)],
  ["first failure", (s, x) => (x.trap && (!s.oom || x.trap.index <= s.oom.index) ? trapText(x.trap) : oomText(s.oom))],
  ["largest free block", (s, x) => modelValue(x.largest_free_block, x, bytes)],
  ["external fragmentation", (s, x) => modelValue(x.external_fragmentation, x, percent)],
  ["allocator overhead (headers, padding, lost cells)", (s, x) => modelValue(x.overhead_bytes, x, bytes)],
  ["resident with memory.discard of whole free pages (the address space stays)",
    (s, x) => modelValue(x.resident_bytes, x, bytes)],
  ["module's own live_bytes()", (s, x) => (x.reported_live == null ? "–" : bytes(x.reported_live))],
  ["trace issues (skipped or repaired events)", (s, x) => issuesText(x.issues, x.issue_count)],
];

function fillMetrics(table, sim, real, realNote) {
  if (!table) return;
  table.replaceChildren();
  if (!sim && !real) return;
  const sides = [sim, real].filter(Boolean).map((side) => ({ s: summary(side.tl), x: side.extra }));
  const head = table.createTHead().insertRow();
  for (const text of ["", sim?.title ?? "", real?.title ?? realNote]) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = text;
    head.append(th);
  }
  const body = table.createTBody();
  for (const [label, value] of ROWS) {
    const row = body.insertRow();
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = label;
    row.append(th);
    for (let k = 0; k < 2; k++) row.insertCell().textContent = sides[k] ? value(sides[k].s, sides[k].x) : "";
  }
}

const IDLE = { sim: "simulated: run an example", real: "real module: run an example" };

// A results view: call set() when a side arrives, redraw() on resize/theme change, seek(t) from the slider.
export class ResultsView {
  constructor() {
    this.sim = null;     // {tl, title, extra}
    this.real = null;
    this.realNote = IDLE.real;   // what the real side shows while it has no timeline
    this.t = 0;
    this.slider = document.getElementById("time-slider");
    this.slider?.addEventListener("input", () => this.seek(Number(this.slider.value)));
    this.maps = {};      // per side: what drawHeapMap returned, for the hover readout
    for (const key of ["sim", "real"]) {
      const canvas = $(`heapmap-${key}`), out = document.getElementById(`heapmap-${key}-readout`);
      if (!canvas || !out) continue;
      canvas.addEventListener("pointermove", (e) => { out.textContent = this.readout(key, canvas, e); });
      canvas.addEventListener("pointerleave", () => { out.textContent = ""; });
    }
  }

  // The cell of side `key`'s heap map under the pointer: its address range and what it holds.
  readout(key, canvas, e) {
    const at = this.maps[key];
    if (!at) return "";
    const box = canvas.getBoundingClientRect();
    const col = Math.min(at.cols - 1, Math.max(0, Math.floor(((e.clientX - box.left) / box.width) * at.cols)));
    const row = Math.min(at.rows - 1, Math.max(0, Math.floor(((e.clientY - box.top) / box.height) * at.rows)));
    const c = row * at.cols + col, start = Math.floor(c * at.perCell), end = Math.floor((c + 1) * at.perCell);
    const kind = cellKind(c * at.perCell, at.perCell, at.heap, at.heapBase);
    const what = kind === "outside" ? "not yet grown" : kind === "static" ? "static data (below the heap base)"
      : `${bytes(at.usage[c] * at.perCell)} live (${percent(at.usage[c])}), ${bytes((1 - at.usage[c]) * at.perCell)} free`;
    return `0x${start.toString(16)}–0x${end.toString(16)} (${bytes(start)} – ${bytes(end)}): ${what}`;
  }

  // realNote: why the real side is empty ("real: replaying…", an error), shown in its caption and column;
  // agreement: {text, agree} said above the charts once both sides are in
  set(sim, real, realNote = IDLE.real, agreement = null) {
    this.sim = sim;
    this.real = real;
    this.realNote = realNote;
    document.getElementById("results")?.classList.remove("stale");
    const line = document.getElementById("agreement");
    if (line) {
      line.textContent = agreement?.text ?? "";
      if (agreement) line.dataset.agree = String(agreement.agree);
      else delete line.dataset.agree;
    }
    const n = Math.max(sim?.tl.n ?? 0, real?.tl.n ?? 0);
    this.t = n - 1;
    if (this.slider) {
      this.slider.max = String(Math.max(0, n - 1));
      this.slider.value = String(this.t);
      this.slider.disabled = n === 0;
    }
    this.redraw();
  }

  // Marks what is on screen as left over from an earlier run (cleared by the next set()).
  stale(text) {
    document.getElementById("results")?.classList.add("stale");
    const line = document.getElementById("agreement");
    if (line) { line.textContent = text; line.dataset.agree = "stale"; }
  }

  redraw() {
    const sides = [["sim", this.sim], ["real", this.real]];
    const scale = sharedScale(sides.filter(([, s]) => s).map(([, s]) => s.tl));
    // both widths before either chart is drawn: the page is laid out once, not once per chart
    const charts = sides.map(([key, side]) => [key, side, $(`chart-${key}`)]).filter(([, , el]) => el)
      .map(([key, side, el]) => [key, side, el, el.clientWidth]);
    for (const [key, side, el, width] of charts) {
      const caption = document.getElementById(`caption-${key}`);
      if (caption) caption.textContent = side ? side.title : key === "real" ? this.realNote : IDLE.sim;
      if (side) drawChart(el, side.tl, scale, { onPick: (t) => this.seek(t, true), width });
      else clearChart(el);
    }
    fillMetrics(document.getElementById("metrics"), this.sim, this.real, this.realNote);
    this.scale = scale;
    this.drawMaps();
  }

  seek(t, moveSlider = false) {
    this.t = t;
    if (moveSlider && this.slider) this.slider.value = String(t);
    cancelAnimationFrame(this.frame);
    this.frame = requestAnimationFrame(() => this.drawMaps());
  }

  drawMaps() {
    const label = document.getElementById("time-label");
    if (label) label.textContent = this.sim || this.real ? `event ${count(this.t)}` : "";
    for (const [key, side] of [["sim", this.sim], ["real", this.real]]) {
      const canvas = $(`heapmap-${key}`);
      if (!canvas) continue;
      const note = document.getElementById(`heapmap-${key}-note`);
      if (!side) {
        clearHeapMap(canvas);
        this.maps[key] = null;
        if (note) note.textContent = "";
        continue;
      }
      const at = this.maps[key] = drawHeapMap(canvas, side.tl, this.t, this.scale.bytes);
      if (note) {
        note.textContent = `${side.title}: heap ${bytes(at.heap)}, live ${bytes(at.live)} · ` +
          `one cell = ${bytes(at.perCell)}`;
      }
    }
  }
}

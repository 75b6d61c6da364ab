// What one show() puts on screen, from its payload and the real replay: the simulated side, the real side
// (with the model's verdicts where the two agree), the sentence between them and the trace-issue lines; and
// the compact form of it all a stored run keeps. The page builds its views with these as runs arrive; the
// prepare step (web/build/stored-views.mjs) builds the embeds' stored views with the very same, so a
// stored view says what a live run says. Plain functions, no DOM, no worker.

import { adoptVerdicts, agreementText, decimate, firstDifference, summary, timeline } from "./timeline.js";
import { bytes, count } from "./format.js";
import { PAGE } from "./realheap.js";

// The simulated side's caption says how its heap started: like the real module (same heap base and pages),
// or in its own state, whose static data and first pages differ from the real side's.
export function simTitle({ allocator, sim }) {
  if (sim.like) return `simulated: ${allocator} (started like ${sim.like})`;
  const pages = sim.initial_bytes / PAGE;
  return `simulated: ${allocator}, own start: heap base ${count(sim.heap_base)} in ${count(pages)} page${pages === 1 ? "" : "s"}`;
}

// The simulated side of a show() payload; derived: timeline.js derive() of its run.
export function simSide(payload, derived) {
  const { sim } = payload;
  const tl = timeline(payload.trace, sim, derived);
  // why each grow happened (pyfrag.grows), for the grow ticks' hover: index, cause (1 forced, 2 policy,
  // 0 not classed) and the longest stretch free of live data before it
  if (sim.grow_index) tl.growCauses = { index: sim.grow_index, cause: sim.grow_cause, gap: sim.grow_gap };
  return {
    tl,
    title: simTitle(payload),
    extra: { ...sim.metrics, reported_live: null, issues: sim.issues, issue_count: sim.issues.length },
  };
}

// The real side of a payload replayed on `module` (a realheap.js replay() result and its derive()), beside
// the simulated side `sim` -> {real, agreement}. Where the simulation started like this very module and the
// two agree, the model's free blocks are the module's: its verdicts and largest free block stand for the
// real side's.
export function realSide(payload, sim, module, result, derived) {
  const tl = timeline(payload.trace, result, derived);
  const extra = { reported_live: result.reported_live, issues: result.issues, issue_count: result.skipped,
    trap: result.trap };
  const like = payload.sim.like, exact = like === module;
  const differs = exact ? firstDifference(sim.tl, tl) : null;
  if (exact) {
    tl.failures = adoptVerdicts(tl.failures, sim.tl.failures, differs ?? Infinity, payload.trace.reuses_freed ?? true);
  }
  if (exact && differs === null) {
    tl.growCauses = sim.tl.growCauses;       // the same grows, at the same events
    const m = payload.sim.metrics;
    Object.assign(extra, { largest_free_block: m.largest_free_block, external_fragmentation: m.external_fragmentation,
      overhead_bytes: m.overhead_bytes, resident_bytes: m.resident_bytes, from_model: true });
  }
  return {
    real: { tl, title: `real: ${module}`, extra },
    agreement: {
      text: agreementText(sim.tl, tl, { like, module, fmt: { bytes, count } }),
      agree: exact ? differs === null : "n/a",     // not comparable event by event: neither good nor bad
    },
  };
}

// What the page says when the real module trapped (a trap is never an OOM).
export const trapMessage = (module, trap) => `Real module ${module} trapped in ${trap.op} at event ${count(trap.index)}: ` +
  `${trap.message}; the replay stopped there (a trap is no OOM: the module itself failed).`;

// Invalid or double frees and the like in the trace: both sides skip or repair them the same way, which
// would go unnoticed in the charts, so the first few are listed in the output with their file and line.
const ISSUES_PRINTED = 3;
export function issueLines({ label, trace, sim: { issues } }) {
  if (!issues.length) return "";
  const lines = issues.slice(0, ISSUES_PRINTED).map((i) => `  ${i.where}: ${i.message}\n`).join("");
  const more = issues.length > ISSUES_PRINTED ? `  … and ${count(issues.length - ISSUES_PRINTED)} more\n` : "";
  return `${label || trace.name}: ${count(issues.length)} trace event${issues.length === 1 ? "" : "s"} ` +
    `skipped or repaired on both sides:\n${lines}${more}`;
}

// ---- stored views ------------------------------------------------------------------------------------------

// Buckets of a stored chart (decimate(): a min and a max each), enough for an embed's width; the table's
// numbers are kept whole, so only the drawing is coarser than a live run's on a wide screen.
export const STORED_BUCKETS = 600;
// What a stored side keeps of its extra: what the metrics table reads (results.js).
const EXTRA_KEYS = ["reported_live", "issue_count", "trap", "largest_free_block", "external_fragmentation",
  "overhead_bytes", "resident_bytes", "from_model"];
const ISSUES_STORED = 1;   // the table names the first issue

// The compact, JSON-able form of a side: the chart's decimated points and grow ticks (one per bucket at most,
// as the chart draws no more), the table's numbers (summary() and the extra the table reads).
export function storedSide({ tl, title, extra }, buckets = STORED_BUCKETS) {
  const [x, heap, live] = decimate([tl.heap, tl.live], tl.n, buckets);
  const grows = [];
  for (const g of tl.grows) {
    if (!grows.length || Math.floor((g * buckets) / tl.n) !== Math.floor((grows.at(-1) * buckets) / tl.n)) grows.push(g);
  }
  const kept = Object.fromEntries(EXTRA_KEYS.filter((k) => extra[k] !== undefined).map((k) => [k, extra[k]]));
  // x is the event index itself until a bucket holds several events: then it needs no storing
  const plain = x.every((v, i) => v === i);
  return {
    title, n: tl.n, points: [plain ? null : Array.from(x), Array.from(heap), Array.from(live)], grows,
    summary: summary(tl), extra: { ...kept, issues: (extra.issues ?? []).slice(0, ISSUES_STORED) },
  };
}

// A stored side as the results view draws it: a timeline with its chart points and its summary given.
export function fromStored({ title, n, points: [x, heap, live], grows, summary: s, extra }) {
  const tl = {
    n, points: [x ? Float64Array.from(x) : Float64Array.from(heap, (_, i) => i), Float64Array.from(heap), Float64Array.from(live)],
    grows: Float64Array.from(grows),
    failures: s.oom ? [s.oom] : [], peakHeap: s.peak_heap_bytes, peakLive: s.peak_live_bytes, summary: s,
  };
  return { tl, title, extra };
}

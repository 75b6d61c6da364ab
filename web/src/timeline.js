// Timeline of one replay (simulated or real): per-event arrays plus what the views derive from them:
// block lifetimes, grow events, summary metrics, the used fraction of heap-map cells at any event, and
// series decimated for drawing.
// Plain functions over typed arrays; the charts and heap maps only read what these return. Whatever costs a
// pass over every event is done once by derive(), in a worker, so that a redraw of a million-event run on
// the page costs about what a small one does.

import { failureKind } from "./failures.js";

export const ALLOC = 0, FREE = 1, REALLOC = 2;   // pyfrag.trace's op codes
const PAGE = 65536;      // a wasm page (realheap.js imports this module: the constant is not taken from it)

// death[i]: the event at which the block born at event i stops being live (Infinity: never). A realloc
// ends the old block and starts a new one; an alloc of a still-live id leaks the old block, as in pyfrag.
export function lifetimes(ops, ids, addresses) {
  const n = addresses.length;
  const death = new Float64Array(n).fill(Infinity);
  const born = new Map();
  for (let i = 0; i < n; i++) {
    const op = ops[i], id = ids[i];
    if (op === FREE) {
      const b = born.get(id);
      if (b !== undefined) { death[b] = i; born.delete(id); }
    } else if (addresses[i]) {
      const b = born.get(id);
      if (b !== undefined && op !== ALLOC) death[b] = i;
      born.set(id, i);
    }
  }
  return death;
}

// Indices of the events after which memory.buffer.byteLength had grown. (It can only drop in a stitched
// run of pyfrag.strategies.periodic_reset, where a fresh instance replaces the old one: not a grow.)
export function growEvents(heapBytes, initialBytes) {
  const grows = [];
  let before = initialBytes;
  for (let i = 0; i < heapBytes.length; i++) {
    if (heapBytes[i] > before) grows.push(i);
    before = heapBytes[i];
  }
  return Float64Array.from(grows);
}

const ENVELOPE_BLOCK = 64;   // events per min/max pair of a series' envelope

// [min, max] of each ENVELOPE_BLOCK events of `series`, interleaved: what decimate() reads instead of the
// series once a bucket spans several blocks.
export function envelope(series) {
  const blocks = Math.ceil(series.length / ENVELOPE_BLOCK);
  const out = new Float64Array(2 * blocks);
  for (let b = 0; b < blocks; b++) {
    let min = Infinity, max = -Infinity;
    for (let i = b * ENVELOPE_BLOCK, end = Math.min(series.length, i + ENVELOPE_BLOCK); i < end; i++) {
      const v = series[i];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    out[2 * b] = min; out[2 * b + 1] = max;
  }
  return out;
}

const CHECKPOINT_EVERY = 16384;    // events between two lists of live blocks
const CHECKPOINT_BUDGET = 1 << 22; // block indices kept in all (16 MiB); the last event's list is always kept

// Lists of the blocks live after some events, so that cellUsage() at event t walks the blocks live at the
// checkpoint before t and at most CHECKPOINT_EVERY events, not every event since the start.
// -> {at: event of each checkpoint, start: offset of its list in `blocks` (one more entry than `at`), blocks}
export function checkpoints(ops, addresses, death) {
  const n = addresses.length;
  const at = [], start = [0], blocks = [];
  let live = [];
  for (let from = 0; from < n; from += CHECKPOINT_EVERY) {
    const t = Math.min(n, from + CHECKPOINT_EVERY) - 1;
    live = live.filter((i) => death[i] > t);
    for (let i = from; i <= t; i++) if (addresses[i] && ops[i] !== FREE && death[i] > t) live.push(i);
    if (t === n - 1 || blocks.length + live.length <= CHECKPOINT_BUDGET) {
      at.push(t);
      for (const i of live) blocks.push(i);
      start.push(blocks.length);
    }
  }
  return { at: Float64Array.from(at), start: Float64Array.from(start), blocks: Uint32Array.from(blocks) };
}

const maxOf = (a, fallback) => { let m = fallback; for (let i = 0; i < a.length; i++) if (a[i] > m) m = a[i]; return m; };

// Everything the views need beyond a run's per-event arrays. trace: {ops, ids}; run: {addresses,
// heap_bytes, live_bytes, initial_bytes}. Runs in the real-module worker (see real-worker.mjs).
export function derive(trace, run) {
  const death = lifetimes(trace.ops, trace.ids, run.addresses);
  return {
    death,
    grows: growEvents(run.heap_bytes, run.initial_bytes),
    peakHeap: maxOf(run.heap_bytes, run.initial_bytes),
    peakLive: maxOf(run.live_bytes, 0),
    heapEnvelope: envelope(run.heap_bytes),
    liveEnvelope: envelope(run.live_bytes),
    checkpoints: checkpoints(trace.ops, run.addresses, death),
  };
}

// The typed arrays derive() produced, for postMessage's transfer list.
export const derivedBuffers = (d) => [d.death, d.grows, d.heapEnvelope, d.liveEnvelope,
  d.checkpoints.at, d.checkpoints.start, d.checkpoints.blocks].map((a) => a.buffer);

// A series' envelope, found by decimate() from the series itself (the charts pass plain arrays).
const envelopes = new WeakMap();

// trace: {ops, sizes}; run: {addresses, heap_bytes, live_bytes, failures, heap_base, initial_bytes,
// maximum_bytes}; derived: from derive(), and for a real run compared in the worker with the simulated one,
// {difference, comparedWith: the simulated run's addresses}. A real replay can stop early, so n is the run's
// length, not the trace's.
export function timeline(trace, run, derived) {
  envelopes.set(run.heap_bytes, derived.heapEnvelope);
  envelopes.set(run.live_bytes, derived.liveEnvelope);
  if (derived.comparedWith) differences.set(run.addresses, [derived.comparedWith, derived.difference]);
  return {
    n: run.heap_bytes.length, ops: trace.ops, sizes: trace.sizes, addresses: run.addresses,
    death: derived.death, grows: derived.grows, checkpoints: derived.checkpoints,
    peakHeap: derived.peakHeap, peakLive: derived.peakLive,
    heap: run.heap_bytes, live: run.live_bytes,
    failures: run.failures ?? [],
    heapBase: run.heap_base ?? 0, initialBytes: run.initial_bytes, maximumBytes: run.maximum_bytes,
  };
}

const last = (a, fallback) => (a.length ? a[a.length - 1] : fallback);

// The article's numbers and the ones the charts need, same definitions as pyfrag.metrics. A stored
// timeline (views.js fromStored) has them already: it keeps no per-event arrays to compute them from.
export function summary(tl) {
  if (tl.summary) return tl.summary;
  const heap = last(tl.heap, tl.initialBytes), live = last(tl.live, 0);
  const oom = tl.failures[0] ?? null;
  return {
    events: tl.n, heap_bytes: heap, live_bytes: live,
    peak_heap_bytes: tl.peakHeap, peak_live_bytes: tl.peakLive,
    utilization: heap ? live / heap : 0, wasted_bytes: heap - live,
    // the article's audit counts static data and the stack (below the heap base) as wasted; these do not
    static_bytes: tl.heapBase, heap_only_utilization: heap > tl.heapBase ? live / (heap - tl.heapBase) : 0,
    grow_events: tl.grows.length, failures: tl.failures.length, oom,
    // what an allocator that never wasted a byte would need: heap base + peak live, in whole pages
    ideal_bytes: Math.ceil((tl.heapBase + tl.peakLive) / PAGE) * PAGE,
  };
}

// Used fraction of each of `cells` equal slices of [0, span) at event t: live blocks are those born at
// or before t that die after t, i.e. those of the last checkpoint at or before t that still live, and
// those born since. One pass over them plus one over cells (a difference array), so a 4 GiB heap costs the
// same as a small one.
export function cellUsage(tl, t, span, cells) {
  const per = span / cells;
  const diff = new Float64Array(cells + 1);   // whole cells covered, as +1/-1 at the edges
  const partial = new Float64Array(cells);    // bytes in partly covered cells
  const add = (i) => {
    const a = tl.addresses[i];
    const b = Math.min(a + tl.sizes[i], span);
    if (b <= a) return;
    const c0 = Math.floor(a / per), c1 = Math.min(cells - 1, Math.floor((b - 1) / per));
    if (c0 === c1) { partial[c0] += b - a; return; }
    partial[c0] += (c0 + 1) * per - a;
    partial[c1] += b - c1 * per;
    diff[c0 + 1] += 1; diff[c1] -= 1;
  };
  const end = Math.min(t + 1, tl.n);
  const { at, start, blocks } = tl.checkpoints;
  let k = at.length - 1;
  while (k >= 0 && at[k] > t) k--;
  for (let j = k < 0 ? 0 : start[k]; j < (k < 0 ? 0 : start[k + 1]); j++) {
    if (tl.death[blocks[j]] > t) add(blocks[j]);
  }
  for (let i = k < 0 ? 0 : at[k] + 1; i < end; i++) {
    if (tl.addresses[i] && tl.death[i] > t && tl.ops[i] !== FREE) add(i);
  }
  const used = new Float32Array(cells);
  let run = 0;
  for (let c = 0; c < cells; c++) {
    run += diff[c];
    used[c] = Math.min(1, run + partial[c] / per);
  }
  return used;
}

// Min and max of each series per bucket of events, so a million events draw as ~2 points per pixel and
// a one-event spike still shows. Returns uPlot data: [x, ...series]. Series of a timeline() have an
// envelope: once every bucket spans at least two of its blocks, buckets are whole blocks and only the
// envelope is read.
export function decimate(series, n, buckets) {
  if (n <= 2 * buckets) {
    const x = Float64Array.from({ length: n }, (_, i) => i);
    return [x, ...series.map((s) => s.subarray(0, n))];
  }
  const x = new Float64Array(2 * buckets);
  const out = series.map(() => new Float64Array(2 * buckets));
  const envs = series.map((s) => (s.length === n ? envelopes.get(s) : undefined));
  const blocks = Math.ceil(n / ENVELOPE_BLOCK);
  if (blocks >= 2 * buckets && envs.every(Boolean)) {
    for (let b = 0; b < buckets; b++) {
      const lo = Math.floor((b * blocks) / buckets), hi = Math.floor(((b + 1) * blocks) / buckets);
      x[2 * b] = lo * ENVELOPE_BLOCK; x[2 * b + 1] = Math.min(n, hi * ENVELOPE_BLOCK) - 1;
      envs.forEach((e, k) => {
        let min = Infinity, max = -Infinity;
        for (let j = lo; j < hi; j++) { if (e[2 * j] < min) min = e[2 * j]; if (e[2 * j + 1] > max) max = e[2 * j + 1]; }
        out[k][2 * b] = min; out[k][2 * b + 1] = max;
      });
    }
    return [x, ...out];
  }
  const width = n / buckets;
  for (let b = 0; b < buckets; b++) {
    const lo = Math.floor(b * width), hi = Math.min(n, Math.floor((b + 1) * width));
    x[2 * b] = lo; x[2 * b + 1] = Math.max(lo, hi - 1);
    series.forEach((s, k) => {
      let min = Infinity, max = -Infinity;
      for (let i = lo; i < hi; i++) { const v = s[i]; if (v < min) min = v; if (v > max) max = v; }
      out[k][2 * b] = min; out[k][2 * b + 1] = max;
    });
  }
  return [x, ...out];
}

// Where two runs of the same trace part ({n, addresses, heap} each): the first event whose returned address
// or memory size differs (or where one side stops), or null when they agree at every event.
export function runsPart(sim, real) {
  const n = Math.min(sim.n, real.n);
  for (let i = 0; i < n; i++) {
    if (sim.addresses[i] !== real.addresses[i] || sim.heap[i] !== real.heap[i]) return i;
  }
  return sim.n === real.n ? null : n;
}

const differences = new WeakMap();   // a real run's addresses -> [the simulated run's addresses, where they part]

// runsPart() of a simulated and a real timeline, remembered per pair: the real-module worker finds it while
// it replays (derived.difference, see timeline()), and the page asks for it more than once.
export function firstDifference(sim, real) {
  const known = differences.get(real.addresses);
  if (known?.[0] === sim.addresses) return known[1];
  const d = runsPart(sim, real);
  differences.set(real.addresses, [sim.addresses, d]);
  return d;
}

const OPS = ["malloc", "free", "realloc"];

// Beside the article's audit lines: the same heap without the module's static data and stack.
export function heapOnlyText(s, fmt) {
  return `heap only: ${fmt.percent(s.heap_only_utilization)} of the ${fmt.bytes(s.heap_bytes - s.static_bytes)} ` +
    `above the heap base; static data and stack below it: ${fmt.bytes(s.static_bytes)}, which the snippet counts as wasted`;
}

// The sentence above the charts. `like`: the module the simulation started like (its model, its start
// state), or null; `module`: the real module's name; `fmt`: {bytes, count} formatters.
export function agreementText(sim, real, { like, module, fmt }) {
  const hex = (a) => `0x${a.toString(16)}`;
  if (like !== module) {
    return `the simulation runs ${like ? `${like}'s model` : "its own start state"}, not a model of ${module}: ` +
      "the two sides are compared by their numbers, not event by event";
  }
  const d = firstDifference(sim, real);
  if (d === null) return `simulation and real module agree at all ${fmt.count(sim.n)} events`;
  if (d >= real.n) return `simulation and real module agree at the ${fmt.count(d)} events the real replay ran`;
  if (d >= sim.n) return `simulation and real module agree at the ${fmt.count(d)} events the simulation ran`;
  const what = `${OPS[sim.ops[d]] ?? "op"}(${fmt.bytes(sim.sizes[d])})`;
  const side = (tl) => `${hex(tl.addresses[d])}${tl.heap[d] !== (d ? tl.heap[d - 1] : tl.initialBytes) ? ` (memory now ${fmt.bytes(tl.heap[d])})` : ""}`;
  return `first difference at event ${fmt.count(d)}: ${what} → sim ${side(sim)}, real ${side(real)}`;
}

// The real side's failures, with the verdict (kind and its reason, free bytes, largest free block, overhead) of
// the model's failure at the same event wherever the two sides agreed up to it: an address-exact model holds the
// same free blocks as the module, which the module does not show. Later ones are estimated again, as
// pyfrag/real/beside.py does: heap − live (what realheap.js found) less the overhead the failure before knew
// of, and named by failures.js's rule (`reusesFreed`: the trace's reuses_freed).
export function adoptVerdicts(realFailures, simFailures, agreeBefore, reusesFreed = true) {
  const byIndex = new Map(simFailures.map((f) => [f.index, f]));
  let last = null;
  return realFailures.map((f) => {
    const s = byIndex.get(f.index);
    if (s && f.index < agreeBefore && s.op === f.op && s.size === f.size) {
      last = { ...f, kind: s.kind, free_bytes: s.free_bytes, largest_free: s.largest_free, overhead: s.overhead ?? null,
        align: s.align ?? f.align, reason: s.reason ?? f.reason, from_model: true };
    } else {
      const overhead = last?.overhead ?? null, free = f.free_bytes - (overhead ?? 0);
      const kind = f.kind === "unsupported" ? f.kind : failureKind(f.size, free, false, reusesFreed, overhead ?? 0);
      last = { ...f, kind, free_bytes: free, overhead };
    }
    return last;
  });
}

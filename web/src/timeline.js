// Timeline of one replay (simulated or real): per-event arrays plus what the views derive from them:
// block lifetimes, grow events, summary metrics, the used fraction of heap-map cells at any event, and
// series decimated for drawing.
// Plain functions over typed arrays; the charts and heap maps only read what these return.

export const ALLOC = 0, FREE = 1;   // pyfrag.trace op codes (2 is realloc)

// death[i]: the event at which the block born at event i stops being live (Infinity: never). A realloc
// ends the old block and starts a new one; an alloc of a still-live id leaks the old block, as in pyfrag.
// One Map operation per event: ~0.2 s for a million events, so real-worker.mjs runs it, not the page.
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

// trace: {ops, sizes}; run: {addresses, heap_bytes, live_bytes, failures, heap_base, initial_bytes,
// maximum_bytes}; derived: {death, grows} from lifetimes() and growEvents(). A real replay can stop
// early, so n is the run's length, not the trace's.
export function timeline(trace, run, derived) {
  return {
    n: run.heap_bytes.length, ops: trace.ops, sizes: trace.sizes, addresses: run.addresses,
    death: derived.death, grows: derived.grows,
    heap: run.heap_bytes, live: run.live_bytes,
    failures: run.failures ?? [],
    heapBase: run.heap_base ?? 0, initialBytes: run.initial_bytes, maximumBytes: run.maximum_bytes,
  };
}

const last = (a, fallback) => (a.length ? a[a.length - 1] : fallback);
const maxOf = (a, fallback) => { let m = fallback; for (let i = 0; i < a.length; i++) if (a[i] > m) m = a[i]; return m; };

// The article's numbers and the ones the charts need, same definitions as pyfrag.metrics.
export function summary(tl) {
  const heap = last(tl.heap, tl.initialBytes), live = last(tl.live, 0);
  const oom = tl.failures[0] ?? null;
  return {
    events: tl.n, heap_bytes: heap, live_bytes: live,
    peak_heap_bytes: maxOf(tl.heap, tl.initialBytes), peak_live_bytes: maxOf(tl.live, 0),
    utilization: heap ? live / heap : 0, wasted_bytes: heap - live,
    // the article's audit counts static data and the stack (below the heap base) as wasted; these do not
    static_bytes: tl.heapBase, heap_only_utilization: heap > tl.heapBase ? live / (heap - tl.heapBase) : 0,
    grow_events: tl.grows.length, failures: tl.failures.length, oom,
  };
}

// Used fraction of each of `cells` equal slices of [0, span) at event t: live blocks are those born at
// or before t that die after t. One pass over events plus one over cells (a difference array), so a
// 4 GiB heap costs the same as a small one.
export function cellUsage(tl, t, span, cells) {
  const per = span / cells;
  const diff = new Float64Array(cells + 1);   // whole cells covered, as +1/-1 at the edges
  const partial = new Float64Array(cells);    // bytes in partly covered cells
  const end = Math.min(t + 1, tl.n);
  for (let i = 0; i < end; i++) {
    const a = tl.addresses[i];
    if (!a || tl.death[i] <= t || tl.ops[i] === FREE) continue;
    const b = Math.min(a + tl.sizes[i], span);
    if (b <= a) continue;
    const c0 = Math.floor(a / per), c1 = Math.min(cells - 1, Math.floor((b - 1) / per));
    if (c0 === c1) { partial[c0] += b - a; continue; }
    partial[c0] += (c0 + 1) * per - a;
    partial[c1] += b - c1 * per;
    diff[c0 + 1] += 1; diff[c1] -= 1;
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
// a one-event spike still shows. Returns uPlot data: [x, ...series].
export function decimate(series, n, buckets) {
  if (n <= 2 * buckets) {
    const x = Float64Array.from({ length: n }, (_, i) => i);
    return [x, ...series.map((s) => s.subarray(0, n))];
  }
  const width = n / buckets;
  const x = new Float64Array(2 * buckets);
  const out = series.map(() => new Float64Array(2 * buckets));
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

// Where a simulated and a real timeline of the same trace part: the first event whose returned address or
// memory size differs (or where one side stops), or null when they agree at every event.
export function firstDifference(sim, real) {
  const n = Math.min(sim.n, real.n);
  for (let i = 0; i < n; i++) {
    if (sim.addresses[i] !== real.addresses[i] || sim.heap[i] !== real.heap[i]) return i;
  }
  return sim.n === real.n ? null : n;
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

// The real side's failures, with the verdict (kind, free bytes, largest free block) of the model's
// failure at the same event wherever the two sides agreed up to it: an address-exact model holds the same
// free blocks as the module, which the module does not show. Others keep heap − live as their estimate.
export function adoptVerdicts(realFailures, simFailures, agreeBefore) {
  const byIndex = new Map(simFailures.map((f) => [f.index, f]));
  return realFailures.map((f) => {
    const s = byIndex.get(f.index);
    if (!s || f.index >= agreeBefore || s.op !== f.op || s.size !== f.size) return f;
    return { ...f, kind: s.kind, free_bytes: s.free_bytes, largest_free: s.largest_free, from_model: true };
  });
}

// Timeline of one replay (simulated or real): per-event arrays plus what the views derive from them:
// block lifetimes, grow events, summary metrics, and the used fraction of heap-map cells at any event.
// Plain functions over typed arrays; the charts and heap maps only read what these return.

const FREE = 1;   // pyfrag.trace op code (0 alloc, 2 realloc)

// trace: {ops, ids, sizes}; run: {addresses, heap_bytes, live_bytes, failures, heap_base, initial_bytes,
// maximum_bytes}. A real replay can stop early, so n is the run's length, not the trace's.
export function timeline(trace, run, label) {
  const n = run.heap_bytes.length;
  const { ops, ids, sizes } = trace;
  const addresses = run.addresses;
  // death[i]: event at which the block born at event i stops being live (Infinity: never)
  const death = new Float64Array(n).fill(Infinity);
  const born = new Map();
  for (let i = 0; i < n; i++) {
    const op = ops[i], id = ids[i];
    if (op === FREE) {
      const b = born.get(id);
      if (b !== undefined) { death[b] = i; born.delete(id); }
    } else if (addresses[i]) {
      const b = born.get(id);
      if (b !== undefined && op !== 0) death[b] = i;   // realloc moved it; an alloc of a live id leaks it
      born.set(id, i);
    }
  }
  const grows = [];
  let before = run.initial_bytes;
  for (let i = 0; i < n; i++) {
    if (run.heap_bytes[i] !== before) { grows.push(i); before = run.heap_bytes[i]; }
  }
  return {
    label, n, ops, sizes, addresses, death, grows,
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

// Unit tests for web/src/timeline.js: block lifetimes, grow events, heap-map cells (from checkpoints),
// decimation (from envelopes).
import { test } from "node:test";
import assert from "node:assert/strict";
import { cellUsage, decimate, derive, firstDifference, growEvents, lifetimes, runsPart, summary, timeline }
  from "../../web/src/timeline.js";

const A = 0, F = 1, R = 2;

// ops/ids/sizes/addresses per event, as a show() payload or a real replay hands them over
function fixture() {
  const ops = Int8Array.from([A, A, F, R, A, A]);
  const ids = Float64Array.from([1, 2, 1, 2, 3, 3]);
  const sizes = Float64Array.from([100, 50, 0, 80, 10, 20]);
  const addresses = Float64Array.from([1000, 1200, 0, 1400, 0, 1600]);   // event 4: a failed malloc
  return { ops, ids, sizes, addresses };
}

test("lifetimes: a free ends a block, a realloc ends the old one, a failed malloc has none", () => {
  const t = fixture();
  const death = lifetimes(t.ops, t.ids, t.addresses);
  assert.deepEqual(Array.from(death), [2, 3, Infinity, Infinity, Infinity, Infinity]);
});

test("lifetimes: an alloc of a still-live id leaks the old block", () => {
  const death = lifetimes(Int8Array.from([A, A]), Float64Array.from([7, 7]), Float64Array.from([64, 128]));
  assert.deepEqual(Array.from(death), [Infinity, Infinity]);
});

test("growEvents lists the events after which the heap changed size", () => {
  const heap = Float64Array.from([65536, 131072, 131072, 262144]);
  assert.deepEqual(Array.from(growEvents(heap, 65536)), [1, 3]);
  assert.deepEqual(Array.from(growEvents(heap.subarray(1), 131072)), [2]);
});

function tl() {
  const t = fixture();
  const run = { addresses: t.addresses, heap_bytes: Float64Array.from([2048, 2048, 2048, 2048, 2048, 2048]),
    live_bytes: Float64Array.from([100, 150, 50, 80, 80, 100]), failures: [{ index: 4, kind: "true" }],
    heap_base: 512, initial_bytes: 2048, maximum_bytes: 4096 };
  return timeline(t, run, derive(t, run));
}

test("cellUsage: the used fraction of each cell at an event", () => {
  // 8 cells of 256 bytes over [0, 2048): at event 1, blocks [1000,1100) and [1200,1250) are live
  const used = cellUsage(tl(), 1, 2048, 8);
  assert.equal(used[3], (1024 - 1000) / 256);
  assert.equal(used[4], (1100 - 1024 + 50) / 256);
  assert.equal(used.reduce((a, b) => a + b, 0) * 256, 150);
  // at the end: [1400,1480) and [1600,1620)
  assert.equal(Math.round(cellUsage(tl(), 5, 2048, 8).reduce((a, b) => a + b, 0) * 256), 100);
});

test("cellUsage: a block spanning many cells fills the ones in between", () => {
  const ops = Int8Array.from([A]), ids = Float64Array.from([1]), addresses = Float64Array.from([100]);
  const run = { addresses, heap_bytes: Float64Array.from([4096]), live_bytes: Float64Array.from([1000]), initial_bytes: 4096 };
  const t = timeline({ ops, sizes: Float64Array.from([1000]) }, run, derive({ ops, ids }, run));
  const used = cellUsage(t, 0, 4096, 32);           // 128-byte cells
  assert.equal(used[0], 28 / 128);
  for (let c = 1; c < 8; c++) assert.equal(used[c], 1);
  assert.equal(used[8], 76 / 128);
  assert.equal(used[9], 0);
});

test("summary follows pyfrag.metrics' definitions", () => {
  const s = summary(tl());
  assert.equal(s.heap_bytes, 2048);
  assert.equal(s.live_bytes, 100);
  assert.equal(s.utilization, 100 / 2048);
  assert.equal(s.wasted_bytes, 1948);
  assert.equal(s.peak_live_bytes, 150);
  assert.equal(s.oom.index, 4);
});

test("decimate keeps every bucket's min and max, so one-event spikes survive", () => {
  const n = 100_000;
  const s = new Float64Array(n).fill(1);
  s[54_321] = 99;
  const [x, y] = decimate([s], n, 500);
  assert.equal(x.length, 1000);
  assert.equal(Math.max(...y), 99);
  assert.ok(x.every((v, i) => i === 0 || v >= x[i - 1]), "x is ascending");
  const [x2, y2] = decimate([s.subarray(0, 10)], 10, 500);
  assert.equal(x2.length, 10);
  assert.equal(y2.length, 10);
});

// A seeded random trace of n events on a made-up allocator (bump pointer, some failures), with its run.
function randomRun(n, seed = 7) {
  let x = seed;
  const rand = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
  const ops = new Int8Array(n), ids = new Float64Array(n), sizes = new Float64Array(n), addresses = new Float64Array(n);
  const heap = new Float64Array(n), live = new Float64Array(n);
  const liveIds = [], sizeOf = new Map();
  let next = 1, top = 4096, used = 0;
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (liveIds.length && r < 0.45) {
      const k = Math.floor(rand() * liveIds.length), id = liveIds[k];
      liveIds[k] = liveIds[liveIds.length - 1]; liveIds.pop();
      ops[i] = F; ids[i] = id; used -= sizeOf.get(id);
    } else {
      ops[i] = A; ids[i] = next; sizes[i] = 1 + Math.floor(rand() * 3000);
      if (r > 0.98) addresses[i] = 0;                      // a failed malloc: no block
      else { addresses[i] = top; top += sizes[i]; liveIds.push(next); sizeOf.set(next, sizes[i]); used += sizes[i]; }
      next++;
    }
    heap[i] = Math.ceil(top / 65536) * 65536; live[i] = used;
  }
  const run = { addresses, heap_bytes: heap, live_bytes: live, initial_bytes: 65536 };
  const trace = { ops, ids, sizes };
  return timeline(trace, run, derive(trace, run));
}

test("cellUsage from checkpoints equals a walk over every event, at any event", () => {
  const t = randomRun(70_000);
  assert.ok(t.checkpoints.at.length >= 4, "several checkpoints");
  const span = t.heap[t.n - 1], cells = 97;
  for (const at of [0, 5, 16383, 16384, 16385, 40_000, 65_535, 69_998, t.n - 1]) {
    const fast = cellUsage(t, at, span, cells);
    // the same fractions from every block born by `at` and still live after it
    const slow = new Float64Array(cells), per = span / cells;
    for (let i = 0; i <= at; i++) {
      if (!t.addresses[i] || t.ops[i] === F || t.death[i] <= at) continue;
      for (let a = t.addresses[i], b = a + t.sizes[i]; a < b;) {
        const c = Math.floor(a / per), edge = Math.min(b, (c + 1) * per);
        slow[c] += (edge - a) / per;
        a = edge;
      }
    }
    for (let c = 0; c < cells; c++) assert.ok(Math.abs(fast[c] - Math.min(1, slow[c])) < 1e-4, `event ${at}, cell ${c}`);
  }
});

test("decimate from envelopes keeps each bucket's min and max of the events it covers", () => {
  const t = randomRun(300_000);
  const [x, heap, live] = decimate([t.heap, t.live], t.n, 1000);
  assert.equal(x.length, 2000);
  assert.equal(x[0], 0);
  assert.equal(x[x.length - 1], t.n - 1);
  for (let b = 0; b < 1000; b++) {
    const lo = x[2 * b], hi = x[2 * b + 1];
    if (b) assert.equal(lo, x[2 * b - 1] + 1, "buckets cover every event once");
    let min = Infinity, max = -Infinity;
    for (let i = lo; i <= hi; i++) { min = Math.min(min, t.live[i]); max = Math.max(max, t.live[i]); }
    assert.equal(live[2 * b], min);
    assert.equal(live[2 * b + 1], max);
  }
  assert.equal(Math.max(...heap), t.peakHeap);
});

test("summary's peaks are the run's", () => {
  const t = randomRun(20_000);
  const s = summary(t);
  assert.equal(s.peak_live_bytes, Math.max(...t.live));
  assert.equal(s.peak_heap_bytes, Math.max(...t.heap));
});

test("runsPart: the first event where address or memory size differ, or where one run stops", () => {
  const run = (addresses, heap) => ({ n: heap.length, addresses: Float64Array.from(addresses), heap: Float64Array.from(heap) });
  const sim = run([16, 32, 48], [65536, 65536, 131072]);
  assert.equal(runsPart(sim, run([16, 32, 48], [65536, 65536, 131072])), null);
  assert.equal(runsPart(sim, run([16, 40, 48], [65536, 65536, 131072])), 1);
  assert.equal(runsPart(sim, run([16, 32, 48], [65536, 65536, 196608])), 2);
  assert.equal(runsPart(sim, run([16, 32], [65536, 65536])), 2);
});

test("firstDifference takes the worker's answer for the run it compared, and works it out otherwise", () => {
  const sim = randomRun(1000);
  const trace = { ops: sim.ops, sizes: sim.sizes };
  const copy = (a) => Float64Array.from(a);
  const realRun = () => ({ addresses: copy(sim.addresses), heap_bytes: copy(sim.heap), live_bytes: copy(sim.live), initial_bytes: 65536 });
  const worked = realRun();
  worked.addresses[700] += 8;
  const derived = derive({ ops: sim.ops, ids: new Float64Array(1000) }, worked);
  assert.equal(firstDifference(sim, timeline(trace, worked, derived)), 700);
  // the worker said where this real run parts from `sim`: that answer stands (here, made up to tell them apart)
  const told = realRun();
  const real = timeline(trace, told, { ...derive({ ops: sim.ops, ids: new Float64Array(1000) }, told),
    difference: 123, comparedWith: sim.addresses });
  assert.equal(firstDifference(sim, real), 123);
  // ... for that simulated run only
  const other = randomRun(1000, 99);
  assert.equal(firstDifference(other, real), runsPart(other, real));
});

test("failures: the page names every kind as pyfrag does, and the real side's own verdict", async () => {
  const { KINDS, failureKind, failureLabel, failureText } = await import("../../web/src/failures.js");
  assert.deepEqual(Object.keys(KINDS), ["fragmentation", "true", "unsupported", "exhausted"]);
  assert.equal(failureKind(100, 500), "fragmentation");
  assert.equal(failureKind(100, 50), "true");
  assert.equal(failureKind(100, 500, true), "unsupported");      // never asked: not an OOM
  assert.equal(failureLabel("exhausted"), "memory exhausted");
  const fmt = { bytes: (n) => `${n} B`, count: String };
  assert.equal(failureText({ index: 1, op: "malloc", size: 50137, align: 256, kind: "unsupported",
    reason: "AssemblyScript's allocator aligns to 16 bytes at most" }, fmt),
  "unsupported request at event 1: malloc(50137 B, align 256): AssemblyScript's allocator aligns to 16 bytes at most");
  assert.equal(failureText({ index: 3, op: "realloc", size: 8, kind: "true" }, fmt), "true OOM at event 3: realloc(8 B)");
});

test("adoptVerdicts: the model's kind and its reason stand for the module's where the two agree", async () => {
  const { adoptVerdicts } = await import("../../web/src/timeline.js");
  const real = [{ index: 1, op: "malloc", size: 50, kind: "fragmentation", free_bytes: 900, largest_free: null }];
  const sim = [{ index: 1, op: "malloc", size: 50, kind: "exhausted", reason: "as-stub never reuses freed memory",
    free_bytes: 12, largest_free: 12 }];
  const [f] = adoptVerdicts(real, sim, Infinity);
  assert.equal(f.kind, "exhausted");
  assert.equal(f.reason, "as-stub never reuses freed memory");
  assert.equal(f.free_bytes, 12);
  assert.equal(adoptVerdicts(real, sim, 1)[0].kind, "fragmentation");     // parted before it: the estimate stays
});

test("adoptVerdicts: after the sides part, heap − live less the overhead the failure before knew of", async () => {
  const { adoptVerdicts } = await import("../../web/src/timeline.js");
  const real = [
    { index: 3, op: "malloc", size: 900, kind: "fragmentation", free_bytes: 1000, largest_free: null, overhead: null },
    { index: 8, op: "malloc", size: 900, kind: "fragmentation", free_bytes: 1000, largest_free: null, overhead: null },
    { index: 9, op: "malloc", size: 50, kind: "fragmentation", free_bytes: 1000, largest_free: null, overhead: null }];
  const sim = [{ index: 3, op: "malloc", size: 900, kind: "true", free_bytes: 700, largest_free: 300, overhead: 300 }];
  const [first, second, third] = adoptVerdicts(real, sim, 5);
  assert.deepEqual([first.kind, first.overhead, first.from_model], ["true", 300, true]);
  // 1000 − 300 = 700 free: fewer than 900 bytes, a true OOM, as pyfrag/real/beside.py estimates it
  assert.deepEqual([second.kind, second.free_bytes, second.overhead, second.largest_free], ["true", 700, 300, null]);
  assert.deepEqual([third.kind, third.free_bytes, third.overhead], ["fragmentation", 700, 300]);
  // an allocator that never reuses freed memory: what is not live would have held it, whatever the overhead
  assert.equal(adoptVerdicts(real, sim, 5, false)[1].kind, "exhausted");
});

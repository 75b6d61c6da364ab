// Unit tests for web/src/timeline.js: block lifetimes, grow events, heap-map cells, decimation.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cellUsage, decimate, growEvents, lifetimes, summary, timeline } from "../../web/src/timeline.js";

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
  return timeline(t, run, { death: lifetimes(t.ops, t.ids, t.addresses), grows: growEvents(run.heap_bytes, 2048) });
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
  const t = timeline({ ops, sizes: Float64Array.from([1000]) }, { addresses, heap_bytes: Float64Array.from([4096]),
    live_bytes: Float64Array.from([1000]), initial_bytes: 4096 }, { death: lifetimes(ops, ids, addresses), grows: new Float64Array() });
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

// Unit tests for web/src/realheap.js: real modules from wasm_modules/ replayed in JS, and the errors a
// person gets for files that are not usable modules.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { compile, describe, instantiate, replay, replayModule, withMemoryLimit, ModuleError } from "../../web/src/realheap.js";
import { realExports, runSnippet, simExports, ARTICLE_SNIPPET } from "../../web/src/audit.js";

const MODULES = new URL("../../wasm_modules/", import.meta.url);
const manifest = JSON.parse(readFileSync(new URL("manifest.json", MODULES), "utf8")).modules;

// the article's produce_fragmentation() as trace arrays, then one 500 KiB request
function swissCheese(rounds = 1000) {
  const n = 3 * rounds + 1;
  const ops = new Int8Array(n), ids = new Float64Array(n), sizes = new Float64Array(n);
  let k = 0;
  for (let i = 0; i < rounds; i++) {
    ops[k] = 0; ids[k] = 2 * i; sizes[k++] = 1024;
    ops[k] = 0; ids[k] = 2 * i + 1; sizes[k++] = 102400;
    ops[k] = 1; ids[k++] = 2 * i + 1;
  }
  ops[k] = 0; ids[k] = 2 * rounds; sizes[k] = 512000;
  return { ops, ids, sizes, aligns: [], maximum_bytes: 0 };
}

// a minimal module: `sections` are [id, bytes] pairs
const str = (s) => [s.length, ...new TextEncoder().encode(s)];
const wasm = (...sections) => new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
  ...sections.flatMap(([id, body]) => [id, body.length, ...body])]);

test("every module in the manifest replays the swiss cheese trace consistently", async () => {
  for (const entry of manifest) {
    const path = new URL(entry.file, MODULES);
    if (!existsSync(path)) continue;
    const module = await compile(readFileSync(path));
    const heap = await instantiate(module);
    const r = replay(heap, swissCheese(), { heapBase: entry.heap_base });
    assert.equal(r.heap_bytes.length, 3001, entry.name);
    assert.equal(r.live_bytes.at(-1), 1000 * 1024 + 512000, entry.name);
    assert.ok(r.failures.length === 0, `${entry.name}: ${JSON.stringify(r.failures)}`);
    for (let i = 1; i < r.heap_bytes.length; i++) assert.ok(r.heap_bytes[i] >= r.heap_bytes[i - 1]);
    const anchors = new Set(Array.from({ length: 1000 }, (_, i) => r.addresses[3 * i]));
    assert.equal(anchors.size, 1000, `${entry.name}: live blocks have distinct addresses`);
    if (r.reported_live !== null) assert.ok(r.reported_live >= 1000 * 1024, entry.name);
    const audit = runSnippet(ARTICLE_SNIPPET, realExports(heap.instance.exports));
    assert.equal(audit.error, null, entry.name);
    assert.match(audit.text, /^Utilization: \d+\.\d\d%\nWasted \(Fragmented\): \d+ bytes$/);
  }
});

test("an alignment a module without aligned_alloc cannot serve is an unsupported request, not an OOM", async () => {
  const entry = manifest.find((m) => m.name === "as-tlsf");
  const trace = swissCheese(2);
  trace.aligns = [[1, 256], [3, 16]];           // 256 cannot be served; 16 is what its malloc gives
  trace.malloc_alignment = 16;
  const { result } = await replayModule(readFileSync(new URL(entry.file, MODULES)), trace,
    { heapBase: entry.heap_base });
  assert.deepEqual(result.failures.map((f) => [f.index, f.kind, f.align]), [[1, "unsupported", 256]]);
  assert.match(result.failures[0].reason, /no aligned_alloc, and its malloc aligns to 16 bytes/);
  assert.ok(result.addresses[3] > 0 && result.addresses[3] % 16 === 0);
});

test("a trace's memory limit is the module's own: memory.grow fails inside it and the replay goes on", async () => {
  const entry = manifest.find((m) => m.name === "c-dlmalloc");
  const bytes = readFileSync(new URL(entry.file, MODULES));
  const trace = swissCheese(50);
  trace.maximum_bytes = 1 << 20;     // the last, 500 KiB request needs more
  trace.ops = Int8Array.from([...trace.ops, 0]);   // and one small request after it, which still fits
  trace.ids = Float64Array.from([...trace.ids, 1000]);
  trace.sizes = Float64Array.from([...trace.sizes, 100]);
  const { heap, result } = await replayModule(bytes, trace, { heapBase: entry.heap_base });
  assert.equal(result.heap_bytes.length, trace.ops.length, "every event replayed");
  assert.deepEqual(result.failures.map((f) => [f.index, f.op]), [[150, "malloc"]]);
  assert.ok(result.addresses[151] > 0, "the allocator carries on after the failed grow");
  assert.ok(Math.max(...result.heap_bytes) <= trace.maximum_bytes);
  assert.equal(heap.memory.buffer.byteLength, result.heap_bytes.at(-1));
  assert.equal(result.reported_live, result.live_bytes.at(-1));
  const audit = runSnippet(ARTICLE_SNIPPET, realExports(heap.instance.exports));
  const expected = (100 * result.live_bytes.at(-1) / result.heap_bytes.at(-1)).toFixed(2);
  assert.ok(audit.text.startsWith(`Utilization: ${expected}%`), audit.text);
});

test("withMemoryLimit lowers a declared maximum, adds a missing one, and keeps a lower one", async () => {
  const module = (limits) => wasm([5, [1, ...limits]], [7, [1, ...str("memory"), 2, 0]]);
  const maximum = async (b) => {
    const { instance } = await WebAssembly.instantiate(b);
    const m = instance.exports.memory;
    // from JS, a grow past the maximum throws (inside the module it returns -1)
    for (;;) {
      try { m.grow(1); } catch { return m.buffer.byteLength / 65536; }
    }
  };
  assert.equal(await maximum(withMemoryLimit(module([0, 2]), 5)), 5);            // no maximum: 5 added
  assert.equal(await maximum(withMemoryLimit(module([1, 1, 0x80, 0x02]), 7)), 7); // 256 lowered to 7
  assert.equal(await maximum(withMemoryLimit(module([1, 1, 3]), 7)), 3);          // 3 kept
  assert.throws(() => withMemoryLimit(module([0, 9]), 4), /starts with 9 pages of memory, more than the trace's limit of 4 pages/);
  // every real module still compiles and keeps its exports once limited
  for (const entry of manifest) {
    const limited = await compile(withMemoryLimit(readFileSync(new URL(entry.file, MODULES)), 8192));
    assert.ok(describe(limited).exports.includes("malloc"), entry.name);
  }
});

test("invalid frees, reallocs of dead ids and allocs of live ids are counted and the first listed", async () => {
  const entry = manifest.find((m) => m.name === "c-dlmalloc");
  const heap = await instantiate(await compile(readFileSync(new URL(entry.file, MODULES))));
  // a 1 1024 / f 1 / f 1 / f 99 / r 77 10 / a 77 8
  const trace = { ops: Int8Array.from([0, 1, 1, 1, 2, 0]), ids: Float64Array.from([1, 1, 1, 99, 77, 77]),
    sizes: Float64Array.from([1024, 0, 0, 0, 10, 8]), aligns: [], maximum_bytes: 0 };
  const r = replay(heap, trace, { heapBase: entry.heap_base });
  assert.equal(r.skipped, 4);
  assert.deepEqual(r.issues.map((i) => i.index), [2, 3, 4, 5]);
  assert.match(r.issues[0].message, /^invalid free of id 1: not live/);
  assert.match(r.issues[2].message, /^realloc of id 77, which is not live; treated as malloc/);
  assert.match(r.issues[3].message, /^alloc of id 77, which is still live/);
  assert.equal(r.live_bytes.at(-1), 8);
});

test("files that are not usable modules get a message saying why", async () => {
  await assert.rejects(compile(new TextEncoder().encode("a 1 1024\nf 1\n")), /not a WebAssembly module/);
  await assert.rejects(compile(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 99])), ModuleError);
  // the exports pyfrag real wants, in its words (pyfrag/rules.json)
  assert.throws(() => describe(new WebAssembly.Module(wasm()), "bare"),
    { message: "module bare lacks exports 'memory', 'malloc', 'free', 'realloc', 'live_bytes' (pyfrag real " +
      "needs memory, malloc, free, realloc, live_bytes; aligned_alloc and __heap_base are optional)" });
  const underscored = wasm(
    [1, [1, 0x60, 0, 0]], [3, [1, 0]], [5, [1, 0, 1]],
    [7, [5, ...str("memory"), 2, 0, ...str("_malloc"), 0, 0, ...str("_free"), 0, 0, ...str("_realloc"), 0, 0,
      ...str("live_bytes"), 0, 0]],
    [10, [1, 2, 0, 0x0b]]);
  assert.throws(() => describe(new WebAssembly.Module(underscored), "em"),
    /module em lacks exports 'malloc', 'free', 'realloc' /);     // as pyfrag real: no aliases
  const needsFoo = wasm(
    [1, [1, 0x60, 0, 0]],                                     // type ()->()
    [2, [1, ...str("env"), ...str("foo"), 0, 0]],             // import env.foo
    [5, [1, 0, 1]],                                           // memory, 1 page
    [7, [5, ...str("memory"), 2, 0, ...str("malloc"), 0, 0, ...str("free"), 0, 0, ...str("realloc"), 0, 0,
      ...str("live_bytes"), 0, 0]]);
  await assert.rejects(instantiate(await compile(needsFoo)), /cannot satisfy the module's imports: env\.foo \(function\)/);
});

test("the audit snippet sees a simulated heap through the same shape", () => {
  const { text } = runSnippet(ARTICLE_SNIPPET, simExports(4 * 1048576, 1048576));
  assert.equal(text, "Utilization: 25.00%\nWasted (Fragmented): 3145728 bytes");
  assert.match(runSnippet("while(false){}; throw new Error('boom')", simExports(1, 1)).error, /Error: boom/);
});

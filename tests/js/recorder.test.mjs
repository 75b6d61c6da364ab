// Unit tests for web/recorder.js: hook calls to pyfrag text (the same events and fields
// pyfrag.record's TraceBuilder writes, see tests/test_record.py), the import object, the
// start state read from the module's custom section, and install() for loaders that build
// their own imports.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Recorder } from "../../web/recorder.js";

const ALLOC = 0, FREE = 1, REALLOC = 2;

// A module importing pyfrag.record(i32 x6), with a "pyfrag.recording" section.
function instrumentedStub(start) {
  const name = new TextEncoder().encode("pyfrag.recording");
  const json = new TextEncoder().encode(JSON.stringify(start));
  const custom = [0, name.length + json.length + 1, name.length, ...name, ...json];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x0a, 0x01, 0x60, 0x06, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x00,
    0x02, 0x11, 0x01, 0x06, ...new TextEncoder().encode("pyfrag"),
    0x06, ...new TextEncoder().encode("record"), 0x00, 0x00,
    ...custom]);
}

test("hook calls become pyfrag text with ids, addr= and mem=", () => {
  const rec = new Recorder({ name: "t", description: "", heapBase: 1024, initialPages: 1,
                             allocator: "dlmalloc" });
  const calls = [[ALLOC, 10, 0, 0, 2000, 1], [FREE, 0, 0, 0, 0, 1], [REALLOC, 0, 24, 0, 2016, 1],
                 [REALLOC, 2000, 4096, 0, 0, 1], [FREE, 2000, 0, 0, 0, 1],
                 [ALLOC, 100, 64, 0, 2048, 2], [ALLOC, 5, 4, 0, -16, 2]];
  for (let i = 0; i < 1000; i++) calls.push([ALLOC, 8, 0, 0, 70000 + 16 * i, 3]);
  for (const c of calls) rec.record(...c);
  assert.equal(rec.length, calls.length);
  const lines = rec.text().split("\n");
  assert.deepEqual(lines.slice(0, 12), [
    "# pyfrag trace v1", "# name: t", "# heap_base: 1024", "# initial_pages: 1",
    "# module: t", "# allocator: dlmalloc",
    "a 0 10 addr=2000 mem=65536", "a 1 24 addr=2016 mem=65536", "r 0 4096 addr=0 mem=65536",
    "f 0", "a 2 100 align=64 addr=2048 mem=131072", "a 3 5 addr=4294967280 mem=131072"]);
  assert.equal(lines.at(-2), `a 1003 8 addr=${70000 + 16 * 999} mem=196608`);
});

test("imports() adds the hook and keeps the app's own imports", () => {
  const rec = new Recorder();
  const env = { f() {} };
  const imports = rec.imports({ env });
  assert.equal(imports.env, env);
  assert.equal(typeof imports.pyfrag.record, "function");
});

test("the start state comes from the module; what the caller set wins", async () => {
  const start = { heap_base: 70864, initial_pages: 2, maximum_pages: null, allocator: "dlmalloc" };
  const module = await WebAssembly.compile(instrumentedStub(start));
  const rec = new Recorder({ name: "app", heapBase: 5000 }).attach(module);
  assert.deepEqual(rec.start, { ...start, heap_base: 5000 });
  assert.match(rec.text(), /# heap_base: 5000\n# initial_pages: 2\n# module: app\n# allocator: dlmalloc\n/);
});

test("install() supplies the import to a loader that builds its own imports", async () => {
  const bytes = instrumentedStub({ heap_base: 1, initial_pages: 17, allocator: "rust-dlmalloc" });
  await assert.rejects(WebAssembly.instantiate(bytes, {}));
  const rec = new Recorder();
  const undo = rec.install();
  try {
    const { instance, module } = await WebAssembly.instantiate(bytes, {});
    assert.ok(instance instanceof WebAssembly.Instance && module instanceof WebAssembly.Module);
    assert.equal(rec.start.allocator, "rust-dlmalloc");
    const again = await WebAssembly.instantiate(module, {});
    assert.ok(again instanceof WebAssembly.Instance);
  } finally {
    undo();
  }
  await assert.rejects(WebAssembly.instantiate(bytes, {}));
});

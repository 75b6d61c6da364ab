// Replays traces on real modules with the page's own code (web/src/realheap.js, web/src/audit.js), for
// tests/test_page_real.py to compare with the wasmtime run. Usage: node replay_real.mjs JOBS.json
// JOBS.json: [{module: path, heap_base, trace: {ops, ids, sizes, aligns, maximum_bytes},
//              sim: {addresses, heap_bytes, failures} (the simulated run started like the module)}, ...]
// `name` is the module's, as failures' reasons name it. Prints one JSON line: a result per job, with the audit
// snippet's text on the instance after the replay, and `verdicts`: the real failures as the page shows them
// (the model's verdict where the sides agree).
// `call_by_call` makes the page call the module once per event, as it does an upload without pyfrag_run.
// A big trace comes as a file instead ({bin: path, n}: n op bytes, then n float64 ids and n float64 sizes,
// each array 8-aligned) and, with `digest`, its result as sha256 digests of the float64 arrays.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { replayModule } from "../../web/src/realheap.js";
import { ARTICLE_SNIPPET, realExports, runSnippet } from "../../web/src/audit.js";
import { adoptVerdicts, firstDifference } from "../../web/src/timeline.js";

const jobs = JSON.parse(readFileSync(process.argv[2], "utf8"));
const compiled = new Map();      // per module path: its compiled variants per memory limit
const results = [];
for (const job of jobs) {
  const t = job.trace;
  const trace = t.bin ? binaryTrace(t) : { ...t, ops: Int8Array.from(t.ops), ids: Float64Array.from(t.ids),
    sizes: Float64Array.from(t.sizes) };
  if (!compiled.has(job.module)) compiled.set(job.module, new Map());
  try {
    const { heap, result } = await replayModule(readFileSync(job.module), trace,
      { heapBase: job.heap_base, name: job.name, compiled: compiled.get(job.module), callByCall: !!job.call_by_call });
    const audit = runSnippet(ARTICLE_SNIPPET, realExports(heap.instance.exports));
    const tl = (run) => ({ n: run.heap_bytes.length, addresses: run.addresses, heap: run.heap_bytes });
    const verdicts = adoptVerdicts(result.failures, job.sim.failures,
      firstDifference(tl(job.sim), tl(result)) ?? Infinity, t.reuses_freed ?? true);
    const arrays = ["addresses", "heap_bytes", "live_bytes"];
    results.push({ ...result, ...Object.fromEntries(arrays.map((key) =>
      [key, job.digest ? digest(result[key]) : Array.from(result[key])])), audit, verdicts });
  } catch (e) {
    results.push({ error: `${e.name}: ${e.message}` });
  }
}
console.log(JSON.stringify(results));

function binaryTrace(t) {
  const bytes = new Uint8Array(readFileSync(t.bin)), at = Math.ceil(t.n / 8) * 8;   // copied: 8-aligned
  const floats = (offset) => new Float64Array(bytes.buffer, bytes.byteOffset + offset, t.n);
  return { ...t, ops: new Int8Array(bytes.buffer, bytes.byteOffset, t.n), ids: floats(at), sizes: floats(at + 8 * t.n) };
}

function digest(array) {
  return createHash("sha256").update(new Uint8Array(array.buffer, array.byteOffset, array.byteLength)).digest("hex");
}

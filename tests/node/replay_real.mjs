// Replays traces on real modules with the page's own code (web/src/realheap.js, web/src/audit.js), for
// tests/test_page_real.py to compare with the wasmtime run. Usage: node replay_real.mjs JOBS.json
// JOBS.json: [{module: path, heap_base, trace: {ops, ids, sizes, aligns, maximum_bytes},
//              sim: {addresses, heap_bytes, failures} (the simulated run started like the module)}, ...]
// Prints one JSON line: a result per job, with the audit snippet's text on the instance after the replay,
// and `verdicts`: the real failures as the page shows them (the model's verdict where the sides agree).
import { readFileSync } from "node:fs";
import { replayModule } from "../../web/src/realheap.js";
import { ARTICLE_SNIPPET, realExports, runSnippet } from "../../web/src/audit.js";
import { adoptVerdicts, firstDifference } from "../../web/src/timeline.js";

const jobs = JSON.parse(readFileSync(process.argv[2], "utf8"));
const compiled = new Map();      // per module path: its compiled variants per memory limit
const results = [];
for (const job of jobs) {
  const t = job.trace;
  const trace = { ...t, ops: Int8Array.from(t.ops), ids: Float64Array.from(t.ids), sizes: Float64Array.from(t.sizes) };
  if (!compiled.has(job.module)) compiled.set(job.module, new Map());
  try {
    const { heap, result } = await replayModule(readFileSync(job.module), trace,
      { heapBase: job.heap_base, compiled: compiled.get(job.module) });
    const audit = runSnippet(ARTICLE_SNIPPET, realExports(heap.instance.exports));
    const tl = (run) => ({ n: run.heap_bytes.length, addresses: run.addresses, heap: run.heap_bytes });
    const verdicts = adoptVerdicts(result.failures, job.sim.failures,
      firstDifference(tl(job.sim), tl(result)) ?? Infinity);
    results.push({ ...result, addresses: Array.from(result.addresses), heap_bytes: Array.from(result.heap_bytes),
      live_bytes: Array.from(result.live_bytes), audit, verdicts });
  } catch (e) {
    results.push({ error: `${e.name}: ${e.message}` });
  }
}
console.log(JSON.stringify(results));

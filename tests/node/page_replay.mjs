// The page's own replay of stored runs (web/build/stored_views.py's output), for tests/test_page_real.py:
// each show()'s trace replayed on its module by web/src/realheap.js as the page's real worker runs it, the
// audit snippet on the instance after it, the real failures as the page shows them (the model's verdicts
// where the two sides agree: timeline.js adoptVerdicts), and each run's views made twice with the page's
// own view code (web/build/stored-views.mjs): from wasmtime's replays, as the prepare step stores them, and
// from this replay, as a live run in the page shows them.
// Usage: node page_replay.mjs RUNS_DIR MODULES.json; MODULES.json: {name: {path, heap_base}}.
// Prints one JSON line: {key: {stored, live, replays: [the page's result of each show()]}}.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { placeArrays, storedViews } from "../../web/build/stored-views.mjs";
import { replayModule } from "../../web/src/realheap.js";
import { ARTICLE_SNIPPET, realExports, runSnippet } from "../../web/src/audit.js";
import { adoptVerdicts, firstDifference } from "../../web/src/timeline.js";

const [runs, modulesFile] = process.argv.slice(2);
const modules = JSON.parse(readFileSync(modulesFile, "utf8"));
const compiled = new Map();      // per module: its compiled variants per memory limit

const tl = (run) => ({ n: run.heap_bytes.length, addresses: run.addresses, heap: run.heap_bytes });

async function pageReplay(show, blob, replays) {
  const { trace, module, sim } = placeArrays(structuredClone(show.meta), show.arrays, blob);
  const m = modules[module];
  if (!compiled.has(module)) compiled.set(module, new Map());
  const { heap, result } = await replayModule(readFileSync(m.path), trace,
    { heapBase: m.heap_base, compiled: compiled.get(module) });
  const audit = runSnippet(ARTICLE_SNIPPET, realExports(heap.instance.exports));
  const verdicts = adoptVerdicts(result.failures, sim.like === module ? sim.failures : [],
    firstDifference(tl(sim), tl(result)) ?? Infinity);
  replays.push({ ...result, addresses: Array.from(result.addresses), heap_bytes: Array.from(result.heap_bytes),
    live_bytes: Array.from(result.live_bytes), audit, verdicts });
  return { result, audit };
}

const out = {};
for (const name of readdirSync(runs).filter((n) => n.endsWith(".json")).sort()) {
  const run = JSON.parse(readFileSync(join(runs, name), "utf8"));
  const blob = readFileSync(join(runs, name.replace(/\.json$/, ".bin")));
  const replays = [];
  const live = await storedViews(run, blob, (show) => pageReplay(show, blob, replays));
  out[name.replace(/\.json$/, "")] = { stored: await storedViews(run, blob), live, replays };
}
console.log(JSON.stringify(out));

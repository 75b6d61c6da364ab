// Makes each stored run's views twice, with the page's own view code (web/build/stored-views.mjs): from
// wasmtime's replays, as the prepare step stores them, and from the page's own replay of the same traces on
// the same modules (web/src/realheap.js, as the page's real worker runs it, with the audit snippet run on
// the instance after it), as a live run in the page shows them. For tests/test_stored_views.py.
// Usage: node stored_vs_live.mjs RUNS_DIR MODULES.json; MODULES.json: {name: {path, heap_base}}.
// Prints one JSON line: {key: {stored, live}}.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { placeArrays, storedViews } from "../../web/build/stored-views.mjs";
import { replayModule } from "../../web/src/realheap.js";
import { ARTICLE_SNIPPET, realExports, runSnippet } from "../../web/src/audit.js";

const [runs, modulesFile] = process.argv.slice(2);
const modules = JSON.parse(readFileSync(modulesFile, "utf8"));
const compiled = new Map();      // per module: its compiled variants per memory limit

async function pageReplay(show, blob) {
  const { trace, module } = placeArrays(structuredClone(show.meta), show.arrays, blob);
  const m = modules[module];
  if (!compiled.has(module)) compiled.set(module, new Map());
  const { heap, result } = await replayModule(readFileSync(m.path), trace,
    { heapBase: m.heap_base, compiled: compiled.get(module) });
  return { result, audit: runSnippet(ARTICLE_SNIPPET, realExports(heap.instance.exports)) };
}

const out = {};
for (const name of readdirSync(runs).filter((n) => n.endsWith(".json")).sort()) {
  const run = JSON.parse(readFileSync(join(runs, name), "utf8"));
  const blob = readFileSync(join(runs, name.replace(/\.json$/, ".bin")));
  out[name.replace(/\.json$/, "")] = { stored: await storedViews(run, blob), live: await storedViews(run, blob, pageReplay) };
}
console.log(JSON.stringify(out));

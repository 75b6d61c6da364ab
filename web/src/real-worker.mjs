// Module worker owning the real WebAssembly instance: loads a module (by URL or uploaded bytes), replays
// trace arrays on a fresh instance, and runs the audit snippet against it and against the simulated heap.
// Everything heavy happens here, so a 1,000,000-event replay never blocks the page: the replay, and what the
// views derive from a run (timeline.js derive(): lifetimes, envelopes, heap-map checkpoints), for the
// simulated runs too.
//
// page -> worker: {type:"load", id, url|bytes, name, heap_base}
//                 {type:"replay", id, trace:{ops, ids, sizes, aligns, maximum_bytes}, compare?:{addresses, heap_bytes}}
//                 (compare: the simulated run of the trace, to find where the two part: derived.difference)
//                 {type:"audit", id, code, sim:{heap_bytes, live_bytes}}
//                 {type:"derive", id, trace, run:{addresses, heap_bytes, live_bytes, initial_bytes}}  (a simulated run)
// worker -> page: {type:"loaded", id, info} | {type:"progress", id, done, n}
//                 {type:"replayed", id, result, derived} | {type:"derived", id, derived}
//                 {type:"audited", id, real:{text,error}, sim:{text,error}} | {type:"log", stream, text}
//                 {type:"error", id, message}

import { compile, describe, replayModule, ModuleError } from "./realheap.js";
import { realExports, runSnippet, simExports } from "./audit.js";
import { derive, derivedBuffers, runsPart } from "./timeline.js";

let current = null;     // {bytes, compiled, name, heapBase, info}: compiled holds the module per memory limit
let heap = null;        // the instance the last replay ran on: what the audit inspects

const log = (stream, text) => postMessage({ type: "log", stream, text });

async function load({ url, bytes, name, heap_base }) {
  if (url) {
    const response = await fetch(url);
    if (!response.ok) throw new ModuleError(`cannot fetch ${url}: HTTP ${response.status}`);
    bytes = await response.arrayBuffer();
  }
  const module = await compile(bytes);
  const info = { name, ...describe(module, name) };
  current = { bytes, compiled: new Map([[null, Promise.resolve(module)]]), name, heapBase: heap_base ?? 0, info };
  heap = null;
  return info;
}

async function run({ trace, id }) {
  if (!current) throw new ModuleError("no module loaded");
  heap = null;
  const replayed = await replayModule(current.bytes, trace, {
    log,
    compiled: current.compiled,
    heapBase: current.heapBase,
    name: current.name,
    onProgress: (done, n) => postMessage({ type: "progress", id, done, n }),
  });
  heap = replayed.heap;
  replayed.result.module = current.name;
  return replayed.result;
}

function audit({ code, sim }) {
  return {
    real: heap ? runSnippet(code, realExports(heap.instance.exports))
      : { text: "", error: "no real instance: no replay on the module has finished (stopped, failed, or not run yet)" },
    sim: sim ? runSnippet(code, simExports(sim.heap_bytes, sim.live_bytes))
      : { text: "", error: "no simulated heap yet: run an example first" },
  };
}

onmessage = async ({ data }) => {
  const { id } = data;
  try {
    if (data.type === "load") postMessage({ type: "loaded", id, info: await load(data) });
    else if (data.type === "replay") {
      const result = await run(data);
      const derived = derive(data.trace, result);
      const sim = data.compare;
      if (sim) {
        derived.difference = runsPart({ n: sim.heap_bytes.length, addresses: sim.addresses, heap: sim.heap_bytes },
          { n: result.heap_bytes.length, addresses: result.addresses, heap: result.heap_bytes });
      }
      postMessage({ type: "replayed", id, result, derived },
        [result.addresses.buffer, result.heap_bytes.buffer, result.live_bytes.buffer, ...derivedBuffers(derived)]);
    } else if (data.type === "derive") {
      const derived = derive(data.trace, data.run);
      postMessage({ type: "derived", id, derived }, derivedBuffers(derived));
    } else if (data.type === "audit") postMessage({ type: "audited", id, ...audit(data) });
  } catch (e) {
    // a ModuleError is about the module or its file; anything else is the playground's own code failing
    postMessage({ type: "error", id, message: e instanceof ModuleError ? e.message
      : `the playground's replay code failed (a bug in pyfrag, not in the module or its allocator): ${e.name}: ${e.message}` });
  }
};

// stored-views.mjs: the embeds' stored views, made from stored runs with the page's own view code
// (web/src/views.js, timeline.js, audit.js), so a stored view says what a live run of the page says.
// Run by prepare's views step after web/build/stored_views.py:
//
//   node web/build/stored-views.mjs RUNS_DIR OUT_DIR
//
// RUNS_DIR holds <example>.<module>.json and .bin (stored_views.py: the show() payloads, the output, the
// real replays by wasmtime); OUT_DIR gets a file of the same name, one stored view per show() with its
// charts' points, table numbers, agreement sentence and audit lines, the output and the code, and
// index.json: the modules each example has a stored view for ("*": any, for an example whose show()s name
// their modules). The embed fetches one file: 5-120 kB.

import { readFileSync, readdirSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { derive } from "../src/timeline.js";
import { issueLines, realSide, simSide, storedSide, trapMessage } from "../src/views.js";
import { ARTICLE_SNIPPET, realExports, runSnippet, simExports } from "../src/audit.js";

const TYPES = { b: Int8Array, d: Float64Array };

// {dotted name: [offset, typecode, length]} over `blob` -> the typed arrays put in place in `into`
export function placeArrays(into, index, blob) {
  for (const [name, [offset, code, length]] of Object.entries(index)) {
    const Type = TYPES[code];
    const start = blob.byteOffset + offset;
    const data = new Type(blob.buffer.slice(start, start + length * Type.BYTES_PER_ELEMENT));
    const keys = name.split(".");
    let o = into;
    for (const k of keys.slice(0, -1)) o = o[k] ??= {};
    o[keys.at(-1)] = data;
  }
  return into;
}

const lastOf = (a, fallback) => (a.length ? a[a.length - 1] : fallback);

// The real side of a stored run, as wasmtime replayed it: the result in the shape of the page's replay
// (realheap.js), and the article's snippet on what the instance's exports said after it. After a trap the
// engine's harness reads nothing more from the module, so there is no audit to keep.
export function storedReplay(show, blob) {
  const result = placeArrays({ ...show.real, arrays: undefined }, show.real.arrays, blob);
  const exports = { memory: { buffer: { byteLength: lastOf(result.heap_bytes, result.initial_bytes) } },
    live_bytes: () => result.reported_live };
  const audit = result.trap ? { text: "", error: "no audit in a stored run after a trap: see the message" }
    : runSnippet(ARTICLE_SNIPPET, realExports(exports));
  return { result, audit };
}

// One stored run (the parsed .json and its .bin) -> its stored views, output and code. replayed(show, blob):
// the real side of a show() -> (a promise of) {result, audit}; a test passes the page's own live replay.
export async function storedViews(run, blob, replayed = storedReplay) {
  const payloads = [], views = [];
  for (const show of run.shows) {
    const payload = placeArrays(structuredClone(show.meta), show.arrays, blob);
    payloads.push(payload);
    const sim = simSide(payload, derive(payload.trace, payload.sim));
    const view = { label: payload.label || payload.trace.name, module: payload.module, sim: storedSide(sim),
      real: null, agreement: null, message: null };
    const s = payload.sim;
    view.audit = { sim: runSnippet(ARTICLE_SNIPPET, simExports(lastOf(s.heap_bytes, s.initial_bytes), lastOf(s.live_bytes, 0))),
      real: null };
    if (show.real) {
      const { result, audit } = await replayed(show, blob);
      const { real, agreement } = realSide(payload, sim, payload.module, result, derive(payload.trace, result));
      Object.assign(view, { real: storedSide(real), agreement });
      if (result.trap) view.message = trapMessage(payload.module, result.trap);
      view.audit.real = audit;
    }
    views.push(view);
  }
  const output = [];
  for (const [kind, value] of run.output) {
    if (kind === "stdout") output.push(["stdout", value]);
    else if (issueLines(payloads[value])) output.push(["stderr", issueLines(payloads[value])]);
  }
  return { example: run.example, module: run.module, code: run.code, engine: run.engine, output, views };
}

async function main([runs, out]) {
  if (!runs || !out) {
    process.stderr.write("usage: node web/build/stored-views.mjs RUNS_DIR OUT_DIR\n");
    process.exit(2);
  }
  mkdirSync(out, { recursive: true });
  const index = {};
  for (const name of readdirSync(runs).filter((n) => n.endsWith(".json")).sort()) {
    const run = JSON.parse(readFileSync(join(runs, name), "utf8"));
    const stored = await storedViews(run, readFileSync(join(runs, name.replace(/\.json$/, ".bin"))));
    writeFileSync(join(out, name), JSON.stringify(stored));
    (index[run.example] ??= []).push(run.module ?? "*");
  }
  writeFileSync(join(out, "index.json"), JSON.stringify(index));
}

if (import.meta.url === `file://${process.argv[1]}`) main(process.argv.slice(2));

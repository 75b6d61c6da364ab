// py-worker.mjs: the Python side of the playground, as a module Web Worker.
// Owns loading Pyodide (same origin only) with micropip and packaging from its
// lock, installing pyfrag's wheel with micropip, running the user's code with
// streamed stdout/stderr, Stop via the interrupt buffer, and handing `show()`
// payloads to the page as typed arrays.
// Protocol (see the shared web design):
//   main -> worker  {type:"init", interruptBuffer, manifest}
//                   {type:"run", id, code, module, files}   files: {"/abs/path": Uint8Array} written
//                   into Python's file system before the run (uploaded traces)
//   worker -> main  {type:"status", text, progress}  {type:"ready", versions}
//                   {type:"stdout"|"stderr", id, text, dropped}  {type:"show", id, payload}
//                   {type:"done", id, ok, error, elapsed_ms}  {type:"error", text}
//                   dropped: characters of a flood of output left out just before text

import { snapshotDeserializer } from "../build/snapshot-refs.mjs";
import { keepTail, OUTPUT_LIMIT } from "./output.js";
import GLUE from "../py/playground.py";     // the playground's Python, as text (esbuild's .py loader)

// Bundled to web/dist/py-worker-<hash>.mjs: everything it loads sits beside it, under the names prepare
// gave them (web/build/prepare.py compiles them in as PYFRAG_BUILD).
const DIST = new URL("./", import.meta.url);
const BUILD = JSON.parse(PYFRAG_BUILD);
const FLUSH_MS = 50;          // stream output at most this often while Python runs

let pyodide = null;
let runCode = null;        // playground.run, looked up once
let interrupt = null;
let currentId = null;
let booting = null;
let queue = Promise.resolve();

const post = (msg, transfer = []) => self.postMessage(msg, transfer);
const status = (text, progress) => post({ type: "status", text, progress });

// Output is coalesced: one postMessage per write would flood the page when a loop prints a million
// lines. A stream posts what piled up at most every FLUSH_MS, and never more than the page keeps: the rest
// of a flood is counted (dropped) instead of sent. Switching stream flushes the other one first, so stdout
// and stderr stay in order.
class Stream {
  constructor(kind) {
    this.kind = kind;
    this.text = "";
    this.dropped = 0;
    this.last = 0;
    this.decoder = new TextDecoder();
  }
  write(bytes) {
    const other = this === streams.stdout ? streams.stderr : streams.stdout;
    other.flush();
    this.text += this.decoder.decode(bytes, { stream: true });
    if (this.text.length > 2 * OUTPUT_LIMIT) this.trim();
    if (performance.now() - this.last > FLUSH_MS) this.flush();
    return bytes.length;
  }
  trim() {
    const kept = keepTail(this.text);
    this.text = kept.text;
    this.dropped += kept.dropped;
  }
  flush() {
    this.last = performance.now();
    if (!this.text) return;
    this.trim();
    post({ type: this.kind, id: currentId, text: this.text, dropped: this.dropped });
    this.text = "";
    this.dropped = 0;
  }
}
const streams = { stdout: new Stream("stdout"), stderr: new Stream("stderr") };
const flushAll = () => { streams.stdout.flush(); streams.stderr.flush(); };

async function fetchJson(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url.pathname ?? url}: HTTP ${r.status} (is web/dist prepared? run python serve.py)`);
  return r.json();
}

// Typed arrays from Python's array.array, via the buffer protocol: a zero-copy
// view, copied once so it can go to the page. Into shared memory when the page
// is cross-origin isolated: the page hands a trace on to the real-module worker
// (to replay it, to derive its run's views), and posting shared memory copies
// nothing, where a million-event trace would otherwise be copied on the page's
// thread each time.
function takeBuffer(proxy) {
  const buf = proxy.getBuffer();
  try {
    if (!self.crossOriginIsolated) return buf.data.slice();
    const shared = new buf.data.constructor(new SharedArrayBuffer(buf.data.byteLength));
    shared.set(buf.data);
    return shared;
  } finally {
    buf.release();
  }
}

function setPath(obj, path, value) {
  const keys = path.split(".");
  let o = obj;
  for (const k of keys.slice(0, -1)) o = o[k] ??= {};
  o[keys.at(-1)] = value;
}

// Called from playground.show(): meta is JSON, arrays are array.array proxies
// whose dotted names say where they go in the payload.
function hostShow(metaJson, names, ...arrays) {
  const payload = JSON.parse(metaJson);
  const transfer = [];
  const keys = names.toJs ? names.toJs() : names;
  keys.forEach((key, i) => {
    const data = takeBuffer(arrays[i]);
    setPath(payload, key, data);
    if (data.buffer instanceof ArrayBuffer) transfer.push(data.buffer);
  });
  flushAll();   // output printed before show() reaches the page first
  post({ type: "show", id: currentId, payload }, transfer);
}

// time.sleep for the playground's Python (playground.sleep calls this): Pyodide's own needs WebAssembly
// stack switching, which browsers may lack. Blocks the worker in slices with Atomics.wait on the interrupt
// buffer: Stop writes to it and notifies, which wakes the wait at once, and pyodide.checkInterrupt() then
// raises the KeyboardInterrupt in Python. Without cross-origin isolation there is no shared memory to wait
// on (Stop restarts the worker then): returns false and Python says so.
const SLEEP_SLICE_MS = 100;   // a Stop that does not notify is still seen this fast
function hostSleep(seconds) {
  if (!interrupt) return false;
  const end = performance.now() + seconds * 1000;
  for (let left = seconds * 1000; left > 0; left = end - performance.now()) {
    Atomics.wait(interrupt, 0, 0, Math.min(left, SLEEP_SLICE_MS));
    pyodide.checkInterrupt();
  }
  return true;
}

// Python starts loading as soon as the worker exists, before the page's init
// message arrives (the page may still be fetching its module manifest).
// The snapshot's bytes: gzipped on disk; a host may already have inflated them.
async function fetchSnapshot(path) {
  const r = await fetch(new URL(path, DIST));
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  const bytes = new Uint8Array(await r.arrayBuffer());
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  const inflated = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(inflated).arrayBuffer());
}

// performance marks (pyfrag:*) time each start-up phase, for benchmarks/page_load.py
const mark = (name) => performance.mark(`pyfrag:${name}`);

async function startPython() {
  mark("start");
  status("Loading the Python runtime…", 0.05);
  const pyodideDir = `${BUILD.pyodide}/`;
  // Preloads: the snapshot downloads while Pyodide's own files load and compile; the wheels installed after
  // the boot are fetched during it, so their later requests are answered from the HTTP cache.
  const snapshotP = BUILD.snapshot ? fetchSnapshot(BUILD.snapshot) : Promise.resolve(null);
  snapshotP.catch(() => {});      // handled where it is used
  Promise.all([BUILD.wheel, ...Object.values(BUILD.lock_wheels).map((f) => pyodideDir + f)]
    .map((path) => fetch(new URL(path, DIST)).then((r) => r.arrayBuffer()))).catch(() => {});
  const { loadPyodide } = await import(new URL(`${pyodideDir}pyodide.mjs`, DIST).href);
  mark("imported");
  status("Starting Python…", 0.15);
  const options = {
    indexURL: new URL(pyodideDir, DIST).href,
    stdout: () => {},
    stderr: () => {},
  };
  let py = null;
  if (BUILD.snapshot) {
    // Boot from the memory snapshot prepare made (see web/build/snapshot.mjs);
    // it downloads while Pyodide's wasm compiles. Any failure: start normally.
    try {
      py = await loadPyodide({ ...options, _loadSnapshot: snapshotP,
                               _snapshotDeserializer: snapshotDeserializer(() => pyodide) });
      mark("from-snapshot");
    } catch (e) {
      console.warn(`py-worker: starting without the snapshot (${e && e.message ? e.message : e})`);
    }
  }
  pyodide = py ?? await loadPyodide(options);
  mark("booted");
  pyodide.setStdout({ write: (b) => streams.stdout.write(b) });
  pyodide.setStderr({ write: (b) => streams.stderr.write(b) });
  status("Installing pyfrag…", 0.75);
  // micropip and packaging from the served lock (the browser checks each wheel
  // against its sha256). After a snapshot this only puts their files in place:
  // their modules are imported already. loadPackage reports a failure instead of
  // throwing; micropip cannot work without its files, so it is an error here.
  const failed = [];
  await pyodide.loadPackage(["micropip", "packaging"], {
    messageCallback: () => {}, errorCallback: (text) => failed.push(text) });
  if (failed.length) throw new Error(failed.join("; "));
  mark("micropip");
  await pyodide.runPythonAsync(`
import micropip, pyodide_js
# micropip took the lock's base URL when it was imported: in the snapshot, that
# was a directory on the machine that made it
micropip._compat.compatibility_layer.lockfile_base_url = pyodide_js.lockfileBaseUrl
await micropip.install(${JSON.stringify(new URL(BUILD.wheel, DIST).href)})
del micropip, pyodide_js
`);
  mark("installed");
}
const early = startPython();
early.catch(() => {});   // reported through boot()

async function boot(msg) {
  const manifestP = msg.manifest
    ? Promise.resolve(msg.manifest)
    : fetchJson(new URL(`${BUILD.modules}/manifest.json`, DIST)).catch(() => ({ modules: [] }));
  await early;
  status("Loading the playground…", 0.9);
  const manifest = await manifestP;
  pyodide.FS.mkdirTree("/home/pyodide");
  pyodide.FS.writeFile("/home/pyodide/playground.py", GLUE);
  pyodide.FS.writeFile("/home/pyodide/manifest.json", JSON.stringify(manifest));
  pyodide.registerJsModule("_playground_host", { show: hostShow, sleep: hostSleep });
  const versions = pyodide.runPython(`
import os, sys, json
os.environ["PYFRAG_MANIFEST"] = "/home/pyodide/manifest.json"
sys.path.insert(0, "/home/pyodide")
import playground, pyfrag, time
time.sleep = playground.sleep
json.dumps({"python": sys.version.split()[0], "pyfrag": pyfrag.__version__})
`);
  runCode = pyodide.globals.get("playground").run;
  if (msg.interruptBuffer) {
    interrupt = msg.interruptBuffer;
    pyodide.setInterruptBuffer(interrupt);
  }
  mark("ready");
  post({ type: "ready", versions: { ...JSON.parse(versions), pyodide: pyodide.version } });
}

// Drop Pyodide's own frames, the playground glue's and JavaScript ones (a time.sleep that Stop ended
// passes through the worker and Pyodide's runtime) from a traceback: the user wants their lines.
const GLUE_FRAME = /\/_pyodide\/|^\/home\/pyodide\/playground\.py$|\.m?js$/;
export function cleanTraceback(text) {
  const out = [];
  let skipping = false;
  for (const line of String(text).split("\n")) {
    const frame = /^ {2}File "([^"]+)"/.exec(line);
    if (frame) skipping = GLUE_FRAME.test(frame[1]);
    else if (!line.startsWith("    ")) skipping = false;
    if (!skipping) out.push(line);
  }
  return out.join("\n").trimEnd();
}

function writeFiles(files) {
  for (const [path, bytes] of Object.entries(files ?? {})) {
    // Uploads only go where the page says, and only to absolute, plain paths.
    if (!path.startsWith("/") || path.split("/").includes("..")) {
      throw new Error(`refusing to write ${JSON.stringify(path)}: not a plain absolute path`);
    }
    pyodide.FS.mkdirTree(path.slice(0, path.lastIndexOf("/")) || "/");
    pyodide.FS.writeFile(path, bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  }
}

async function run({ id, code, module, files }) {
  try {
    await booting;
  } catch {
    post({ type: "done", id, ok: false, error: "Python failed to load", elapsed_ms: 0 });
    return;
  }
  currentId = id;
  // A Stop that arrived after the previous run ended must not hit this one.
  if (interrupt) Atomics.store(interrupt, 0, 0);
  const t0 = performance.now();
  let ok = true;
  let error = null;
  try {
    writeFiles(files);
    const raised = await runCode(code, module ?? null, id);   // the traceback text, or undefined
    if (raised != null) throw new Error(raised);
  } catch (e) {
    ok = false;
    error = cleanTraceback(e && e.message ? e.message : e);
  } finally {
    if (interrupt) Atomics.store(interrupt, 0, 0);
  }
  flushAll();
  post({ type: "done", id, ok, error, elapsed_ms: performance.now() - t0 });
  currentId = null;
}

self.onmessage = (event) => {
  const msg = event.data || {};
  if (msg.type === "init") {
    if (booting) return;   // a second init is harmless: keep the first
    booting = boot(msg);
    booting.catch((e) => {
      const text = `Python failed to load: ${e && e.message ? e.message : e}`;
      status(text, null);
      post({ type: "error", text });
    });
  } else if (msg.type === "run") {
    // One run at a time, in order: Python's globals are not re-entrant.
    queue = queue.then(() => run(msg));
  } else {
    post({ type: "error", text: `py-worker: unknown message type ${JSON.stringify(msg.type)}` });
  }
};

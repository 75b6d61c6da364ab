// The page's side of the two workers: the Pyodide worker, through the page's Python hub (pyhub.js: runs
// Python, streams output, hands over show() payloads), and the real-module worker (replays traces on a real
// instance, runs the audit). The real worker can be thrown away and recreated: that is how Stop ends a real
// replay, and how an audit snippet that never returns is ended.

import { count } from "./format.js";
import { workerUrl } from "./assets.js";

const worker = (name) => new Worker(workerUrl(name), { type: "module" });

export class PythonClient {
  // manifest(): a promise of the real modules' manifest; connect(): a MessagePort to a Python hub (pyhub.js),
  // asked for when Python is first needed (start(), or the first run): a widget boots nothing until then.
  // handlers: {starting(), status(text, progress), ready(versions), stdout(text, dropped), stderr(text, dropped),
  // show(payload), done(msg)}; dropped: characters of a flood the worker left out before text
  constructor(manifest, handlers, connect) {
    this.manifest = manifest;
    this.handlers = handlers;
    this.connect = connect;
    this.port = null;
    this.nextId = 1;
    this.running = null;
    this.asked = new Map();      // id -> {text, resolve} of a run of ask()
  }

  get started() {
    return this.port !== null;
  }

  // Python starts loading (the hub's worker, or the one it already has): the boot message, and any run
  // queued behind it, go once the page has the manifest.
  start() {
    if (this.port) return;
    const port = this.port = this.connect();
    port.onmessage = ({ data }) => this.receive(data);
    this.initialized = this.manifest().then((manifest) => port.postMessage({ type: "boot", manifest }));
  }

  receive(msg) {
    const h = this.handlers, asked = this.asked.get(msg.id);
    if (asked) {       // a run of ask(): its output is its answer, not the page's
      if (msg.type === "stdout" || msg.type === "stderr") asked.text += msg.text;
      else if (msg.type === "done") { this.asked.delete(msg.id); asked.resolve({ ...msg, text: asked.text }); }
      return;
    }
    if (msg.type === "starting") h.starting();
    else if (msg.type === "status") h.status(msg.text, msg.progress);
    else if (msg.type === "ready") h.ready(msg.versions);
    else if (msg.type === "error") h.status(msg.text, null);
    else if (msg.id !== this.running) return;        // late output of a run that was stopped
    else if (msg.type === "stdout" || msg.type === "stderr") h[msg.type](msg.text, msg.dropped ?? 0);
    else if (msg.type === "show") h.show(msg.payload);
    else if (msg.type === "done") { this.running = null; h.done(msg); }
  }

  // files: {path: Uint8Array} the worker writes into Python's file system first (uploaded traces)
  run(code, module, files = null) {
    this.start();
    const id = this.nextId++, port = this.port;
    this.running = id;
    this.initialized.then(() => port.postMessage({ type: "run", id, code, module, files }));
  }

  // Runs `code` beside the page's runs (queued with them in Python) -> a promise of {ok, error, text}: what
  // it printed. The page's Explain panel asks this way; nothing it does reaches the page's output or views.
  ask(code, module = null) {
    this.start();
    const id = this.nextId++, port = this.port;
    return new Promise((resolve) => {
      this.asked.set(id, { text: "", resolve });
      this.initialized.then(() => port.postMessage({ type: "run", id, code, module }));
    });
  }

  // The hub interrupts the run, or restarts Python when the page has no shared memory; either way its
  // done message comes back.
  stop() {
    if (this.running !== null) this.port.postMessage({ type: "stop", id: this.running });
  }
}

// A replay that finishes no event for this long is stopped. Tests set globalThis.pyfragStallMs before the
// page loads, so a module that loops forever is found in seconds.
const STALL_MS = globalThis.pyfragStallMs ?? 15_000;

// A replay ended by Stop (RealClient.stopReplays): its module, and where: "stopped at event <done> of <n>".
export class ReplayStopped extends Error {
  constructor({ module, done, n }) {
    const where = `stopped at event ${count(done)} of ${count(n)}`;
    super(`replay on ${module} ${where}`);
    Object.assign(this, { module, where });
  }
}

export class RealClient {
  constructor(onLog) {
    this.onLog = onLog;
    this.pending = new Map();
    this.simulated = new WeakMap();   // trace -> its simulated run (derive() saw it)
    this.nextId = 1;
    this.queue = Promise.resolve();   // settles when the job running now is over
    this.replays = new Set();         // replays queued or running: {module, done, n, id (its call once sent), stop}
    this.start();
  }

  start() {
    this.worker = worker("real-worker");
    this.loaded = null;               // source the worker holds, to skip reloading it
    this.replayed = null;             // trace whose replay left the instance the audit inspects
    this.worker.onmessage = ({ data }) => {
      if (data.type === "log") return this.onLog(data.stream, data.text);
      const p = this.pending.get(data.id);
      if (!p) return;
      if (data.type === "progress") return p.progress?.(data.done, data.n);
      this.pending.delete(data.id);
      if (data.type === "error") p.reject(new Error(data.message));
      else p.resolve(data);
    };
  }

  // timeout: ms the whole call may take; stall: ms it may go without a progress message (a replay reports
  // every few thousand events, so a module that loops forever in one call is found without limiting how
  // long a big trace may take)
  call(msg, { id = this.nextId++, transfer = [], progress = null, timeout = 0, stall = 0 } = {}) {
    return new Promise((resolve, reject) => {
      let timer = null;
      const watch = (ms, why) => {
        clearTimeout(timer);
        timer = setTimeout(() => this.stuck(id, new Error(why)), ms);
      };
      const stalled = (done) => watch(stall, `made no progress for ${stall / 1000} s after event ${done} ` +
        "(an endless loop in the module?); stopped");
      const onProgress = (done, n) => {
        if (stall) stalled(done);
        progress?.(done, n);
      };
      this.pending.set(id, { resolve: (v) => { clearTimeout(timer); resolve(v); },
        reject: (e) => { clearTimeout(timer); reject(e); }, progress: onProgress });
      this.worker.postMessage({ ...msg, id }, transfer);
      if (timeout) watch(timeout, `did not finish in ${timeout / 1000} s; stopped`);
      else if (stall) stalled(0);
    });
  }

  // The worker is stuck in the module's or the snippet's code, or busy with a replay Stop ends: replace it
  // (callers replay again when they need the instance) and fail call `id` with `error`. Jobs run one at a
  // time, so no other call was waiting on this worker: what was queued behind runs on the new one.
  stuck(id, error) {
    const p = this.pending.get(id);
    if (!p) return;
    this.worker.terminate();
    this.pending.delete(id);
    p.reject(error);
    this.start();
  }

  // Runs job() once the jobs queued before it are over, on whichever worker is there then. So a replay that
  // hangs fails alone (the next run's show() queued behind it still gets its view), a replay starts on the
  // module it loaded itself, and a watch counts from when its own call is sent.
  exclusive(job) {
    const done = this.queue.then(job);
    this.queue = done.catch(() => {});
    return done;
  }

  // source: {name, url, heap_base} or {name, bytes}
  load(source) {
    return this.exclusive(() => this.loadNow(source));
  }

  async loadNow(source) {
    if (this.loaded === source) return this.loaded.info;
    this.replayed = null;
    const { info } = await this.call({ type: "load", ...source });
    source.info = info;
    this.loaded = source;
    return info;
  }

  // -> {result, derived}. When the page is cross-origin isolated, the trace's simulated run is in shared
  // memory: the worker reads it for nothing and finds where the two runs part (timeline.js firstDifference).
  // Stop fails it with ReplayStopped, at once, whether it is running or still queued.
  replay(source, trace, progress) {
    const job = { module: source.name, done: 0, n: trace.ops.length, id: null };
    const stopped = new Promise((_, reject) => { job.stop = reject; });
    this.replays.add(job);
    const replayed = this.exclusive(async () => {
      if (!this.replays.has(job)) return null;          // stopped while queued: its turn passes
      await this.loadNow(source);
      if (!this.replays.has(job)) return null;
      this.replayed = null;
      const sim = globalThis.crossOriginIsolated ? this.simulated.get(trace) : undefined;
      const compare = sim && { addresses: sim.addresses, heap_bytes: sim.heap_bytes };
      job.id = this.nextId++;
      const onProgress = (done, n) => { job.done = done; progress?.(done, n); };
      const reply = await this.call({ type: "replay", trace, compare }, { id: job.id, progress: onProgress, stall: STALL_MS });
      if (sim) reply.derived.comparedWith = sim.addresses;
      this.replayed = trace;
      return reply;
    });
    return Promise.race([replayed, stopped]).finally(() => this.replays.delete(job));
  }

  // Stop: ends every replay queued or running -> [ReplayStopped] (the running one first). The running one's
  // worker is replaced as stuck() does, for a module can be stuck inside one call, where no message reaches
  // it; a job other than a replay is left to finish.
  stopReplays() {
    const ended = [];
    for (const job of this.replays) {
      const error = new ReplayStopped(job);
      this.replays.delete(job);
      ended.push(error);
      job.stop(error);
      if (job.id !== null) this.stuck(job.id, error);
    }
    return ended;
  }

  // what the views derive from a simulated run (timeline.js derive(), off the page's thread) -> {derived}
  derive(trace, run) {
    this.simulated.set(trace, run);
    return this.exclusive(() => this.call({ type: "derive", trace: { ops: trace.ops, ids: trace.ids },
      run: { addresses: run.addresses, heap_bytes: run.heap_bytes, live_bytes: run.live_bytes, initial_bytes: run.initial_bytes } }));
  }

  audit(code, sim) {
    return this.exclusive(() => this.call({ type: "audit", code, sim }, { timeout: 5000 }));
  }
}

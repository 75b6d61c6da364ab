// One Python for a page and every widget in it. A hub owns the Pyodide worker (py-worker.mjs) and runs what
// its clients ask, one run at a time, in the order asked; each client (a PythonClient, clients.js) talks to
// it over a MessagePort of its own. The playground has its own hub. Embeds on one blog page share one: the
// first that needs Python makes it (pageHub) and the others, same-origin frames of the same page, find it
// among their parent's frames and connect to it, so pressing Run in several widgets boots Python once.
//
// client -> hub  {type:"boot", manifest}   start Python (once; later ones are no-ops)
//                {type:"run", id, code, module, files}   {type:"stop", id}
// hub -> client  {type:"starting"}  (a worker starts, again after a restart)  {type:"status"|"ready"|"error"}
//                the worker's messages of the client's own runs, with the client's ids
//
// Stop interrupts Python through shared memory when the page is cross-origin isolated; otherwise the only
// way into a busy worker is to end it: the hub starts another, tells the stopped run so, and what other
// clients had queued runs on the new one.

import { workerUrl } from "./assets.js";

// boot.js runs this before the main bundle has loaded: the Python worker starts at once, and what it says
// before the hub listens is kept for the hub that adopts it.
export function startEarlyWorker() {
  if (globalThis.pyfragEarlyWorker !== undefined) return;    // the main bundle came first and has its worker
  const early = { worker: new Worker(workerUrl("py-worker"), { type: "module" }), messages: [] };
  early.worker.onmessage = ({ data }) => early.messages.push(data);
  globalThis.pyfragEarlyWorker = early;
}

function takeEarlyWorker() {
  const early = globalThis.pyfragEarlyWorker ?? null;
  globalThis.pyfragEarlyWorker = null;
  return early;
}

// The buffers a message may hand over instead of copying (shared memory is shared, not moved).
function transferables(payload) {
  const out = [];
  for (const part of [payload?.trace, payload?.sim]) {
    for (const v of Object.values(part ?? {})) {
      if (ArrayBuffer.isView(v) && v.buffer instanceof ArrayBuffer && !out.includes(v.buffer)) out.push(v.buffer);
    }
  }
  return out;
}

export class PythonHub {
  constructor() {
    this.clients = new Set();
    this.worker = null;
    this.started = 0;         // workers started: a restart after Stop starts another
    this.manifest = null;
    this.state = null;        // the worker's last status, ready or error: what a client that joins is told
    this.queue = [];          // runs waiting: {port, id, msg}
    this.current = null;      // the run the worker has: {port, id, wid}
    this.nextId = 1;          // the worker's run ids, across clients
  }

  connect(port) {
    this.clients.add(port);
    port.onmessage = ({ data }) => this.fromClient(port, data);
    if (this.worker) port.postMessage({ type: "starting" });
    if (this.state) port.postMessage(this.state);
  }

  fromClient(port, msg) {
    if (msg.type === "boot") {
      if (!this.worker) this.start(msg.manifest);
    } else if (msg.type === "run") {
      this.queue.push({ port, id: msg.id, msg });
      this.next();
    } else if (msg.type === "stop") this.stop(port, msg.id);
  }

  start(manifest) {
    this.manifest = manifest;
    this.started++;
    this.state = null;
    // Interrupting needs memory shared with the worker, which browsers only allow when cross-origin isolated.
    this.interrupt = globalThis.crossOriginIsolated ? new Int32Array(new SharedArrayBuffer(4)) : null;
    const early = this.started === 1 ? takeEarlyWorker() : null;
    const w = this.worker = early?.worker ?? new Worker(workerUrl("py-worker"), { type: "module" });
    this.broadcast({ type: "starting" });
    w.onmessage = ({ data }) => this.fromWorker(data);
    for (const msg of early?.messages ?? []) this.fromWorker(msg);
    w.onerror = (e) => this.fromWorker({ type: "error", text: `Python worker failed: ${e.message ?? "could not start"}` });
    w.postMessage({ type: "init", interruptBuffer: this.interrupt, manifest });
    this.next();
  }

  broadcast(msg) {
    for (const port of this.clients) port.postMessage(msg);
  }

  next() {
    if (this.current || !this.worker || !this.queue.length) return;
    const { port, id, msg } = this.queue.shift();
    this.current = { port, id, wid: this.nextId++ };
    this.worker.postMessage({ ...msg, id: this.current.wid });
  }

  fromWorker(msg) {
    if (msg.type === "status" || msg.type === "ready" || msg.type === "error") {
      this.state = msg;
      this.broadcast(msg);
      return;
    }
    const run = this.current;
    if (!run || msg.id !== run.wid) return;       // late output of a run that was stopped
    run.port.postMessage({ ...msg, id: run.id }, msg.type === "show" ? transferables(msg.payload) : []);
    if (msg.type === "done") {
      this.current = null;
      this.next();
    }
  }

  stop(port, id) {
    const queued = this.queue.findIndex((r) => r.port === port && r.id === id);
    if (queued !== -1) {
      this.queue.splice(queued, 1);
      port.postMessage({ type: "done", id, ok: false, error: "Stopped before it started" });
      return;
    }
    const run = this.current;
    if (!run || run.port !== port || run.id !== id) return;
    if (this.interrupt) {
      // SIGINT: Python raises KeyboardInterrupt at its next check; the notify wakes a time.sleep at once
      Atomics.store(this.interrupt, 0, 2);
      Atomics.notify(this.interrupt, 0);
      return;
    }
    // Without shared memory there is no way into a busy worker: replace it (Python loads again).
    this.worker.terminate();
    this.current = null;
    port.postMessage({ type: "done", id, ok: false, error: "Stopped (Python restarted: this page is not cross-origin isolated)" });
    this.start(this.manifest);
  }
}

// ---- finding the page's hub ---------------------------------------------------------------------------

const HELLO = "pyfrag:hub";     // a frame asks the hub's frame to take its port

// The frames of this page that may hold the hub: this one and, in a widget, its siblings.
function pageFrames() {
  if (parent === window) return [window];
  const out = [];
  for (let i = 0; i < parent.frames.length; i++) out.push(parent.frames[i]);
  return out;
}

// The window of the page's hub, made here if no frame of this origin has one yet. Synchronous, so two
// widgets asking at once (a frame's code runs to its end before another's starts) never make two.
function hubWindow() {
  for (const w of pageFrames()) {
    try {
      if (w.pyfragHub) return w;
    } catch { /* another origin's frame */ }
  }
  window.pyfragHub = new PythonHub();
  addEventListener("message", (e) => {
    if (e.origin === location.origin && e.data?.type === HELLO && e.ports[0]) window.pyfragHub.connect(e.ports[0]);
  });
  return window;
}

let ownHub = null;

// A port to the page's hub (shared by the page's widgets) or, with `own`, to a hub of this frame's own.
export function connectHub({ own = false } = {}) {
  const { port1, port2 } = new MessageChannel();
  if (own) {
    (ownHub ??= new PythonHub()).connect(port2);
    return port1;
  }
  const w = hubWindow();
  if (w === window) window.pyfragHub.connect(port2);
  else w.postMessage({ type: HELLO }, location.origin, [port2]);
  return port1;
}

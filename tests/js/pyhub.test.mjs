// Unit tests for web/src/pyhub.js PythonHub: one Python worker for several clients, their runs one after
// another with their own ids, Stop of a queued run and of the running one (interrupt, or a new worker when
// there is no shared memory), and what a client that joins late is told. The worker is a recorder the test
// answers for (a browser Worker does not exist in node); Node's MessageChannel carries the clients' ports.
// The hub in Chromium, shared by widgets: tests/e2e/test_embed.py.
import { test } from "node:test";
import assert from "node:assert/strict";

class RecordingWorker {
  static made = [];
  constructor(url) { this.url = String(url); this.sent = []; this.terminated = false; RecordingWorker.made.push(this); }
  postMessage(msg) { this.sent.push(msg); }
  terminate() { this.terminated = true; }
  say(data) { this.onmessage({ data }); }
}
globalThis.Worker = RecordingWorker;
globalThis.document = { baseURI: "http://127.0.0.1/" };
const { PythonHub } = await import("../../web/src/pyhub.js");

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// until cond() holds (messages between ports take a turn of the event loop, longer on a busy machine)
async function until(cond, what) {
  for (let t = 0; t < 200 && !cond(); t++) await sleep(10);
  assert.ok(cond(), `never: ${what}`);
  await sleep(20);       // and what else was on its way
}

// a client of `hub`: what it sends, and everything it hears
function client(hub) {
  const { port1, port2 } = new MessageChannel();
  hub.connect(port2);
  const heard = [];
  port1.onmessage = ({ data }) => heard.push(data);
  for (const port of [port1, port2]) port.unref();      // node may end with them open
  return { send: (msg) => port1.postMessage(msg), heard };
}

test("two clients share one worker: their runs go one after another, each hears its own", async () => {
  RecordingWorker.made.length = 0;
  const hub = new PythonHub();
  const a = client(hub), b = client(hub);
  a.send({ type: "boot", manifest: { modules: [] } });
  b.send({ type: "boot", manifest: { modules: [] } });
  a.send({ type: "run", id: 1, code: "print('a')", module: null });
  b.send({ type: "run", id: 1, code: "print('b')", module: null });
  await until(() => RecordingWorker.made[0]?.sent.length >= 2, "a's run reaches Python");
  assert.equal(RecordingWorker.made.length, 1, "one Python for both");
  const [w] = RecordingWorker.made;
  assert.equal(w.sent[0].type, "init");
  assert.deepEqual(w.sent.slice(1).map((m) => [m.type, m.code]), [["run", "print('a')"]], "b waits for a");
  w.say({ type: "ready", versions: { python: "3.14" } });
  const first = w.sent[1].id;
  w.say({ type: "stdout", id: first, text: "a\n" });
  w.say({ type: "done", id: first, ok: true });
  await until(() => w.sent.length === 3, "b's run reaches Python");
  const second = w.sent.at(-1);
  assert.equal(second.code, "print('b')");
  assert.notEqual(second.id, first, "the worker's ids are the hub's, across clients");
  w.say({ type: "stdout", id: first, text: "late\n" });       // a run that is over says nothing more
  w.say({ type: "done", id: second.id, ok: true });
  await until(() => b.heard.some((m) => m.type === "done"), "b hears its run is done");
  const own = (c) => c.heard.filter((m) => m.id !== undefined).map((m) => [m.type, m.id, m.text ?? null]);
  assert.deepEqual(own(a), [["stdout", 1, "a\n"], ["done", 1, null]]);
  assert.deepEqual(own(b), [["done", 1, null]]);
  for (const c of [a, b]) assert.ok(c.heard.some((m) => m.type === "ready"), "everyone hears Python is ready");
  // a client that joins now is told at once
  const late = client(hub);
  await until(() => late.heard.length === 2, "the late client is told");
  assert.deepEqual(late.heard.map((m) => m.type), ["starting", "ready"]);
});

test("Stop: a queued run is dropped; the running one is interrupted through shared memory", async () => {
  RecordingWorker.made.length = 0;
  globalThis.crossOriginIsolated = true;
  const hub = new PythonHub();
  const a = client(hub), b = client(hub);
  a.send({ type: "boot", manifest: { modules: [] } });
  a.send({ type: "run", id: 7, code: "while True: pass" });
  b.send({ type: "run", id: 3, code: "print('queued')" });
  await until(() => hub.queue.length === 1, "b's run waits");
  b.send({ type: "stop", id: 3 });
  a.send({ type: "stop", id: 7 });
  await until(() => b.heard.some((m) => m.type === "done"), "b hears its run is dropped");
  const [w] = RecordingWorker.made;
  assert.deepEqual(b.heard.filter((m) => m.type === "done"), [{ type: "done", id: 3, ok: false, error: "Stopped before it started" }]);
  assert.equal(Atomics.load(w.sent[0].interruptBuffer, 0), 2, "SIGINT written for the worker");
  assert.equal(w.sent.filter((m) => m.type === "run").length, 1, "the queued run never reached Python");
  assert.equal(RecordingWorker.made.length, 1);
  Atomics.store(w.sent[0].interruptBuffer, 0, 0);
  b.send({ type: "stop", id: 7 });       // another client's run is not its to stop
  await sleep(100);
  assert.equal(Atomics.load(w.sent[0].interruptBuffer, 0), 0);
  assert.equal(RecordingWorker.made.length, 1);
  delete globalThis.crossOriginIsolated;
});

test("Stop without shared memory: a new worker, and the other clients' runs go on it", async () => {
  RecordingWorker.made.length = 0;
  const hub = new PythonHub();
  const a = client(hub), b = client(hub);
  a.send({ type: "boot", manifest: { modules: ["m"] } });
  a.send({ type: "run", id: 1, code: "while True: pass" });
  b.send({ type: "run", id: 2, code: "print('next')" });
  await until(() => hub.queue.length === 1, "b's run waits");
  a.send({ type: "stop", id: 1 });
  await until(() => RecordingWorker.made[1]?.sent.length === 2 && a.heard.some((m) => m.type === "done"),
    "a new worker takes b's run");
  const [old, fresh] = RecordingWorker.made;
  assert.ok(old.terminated && fresh && !fresh.terminated);
  assert.deepEqual(fresh.sent[0], { type: "init", interruptBuffer: null, manifest: { modules: ["m"] } });
  assert.equal(fresh.sent[1].code, "print('next')");
  assert.match(a.heard.find((m) => m.type === "done").error, /Python restarted/);
  for (const c of [a, b]) assert.equal(c.heard.filter((m) => m.type === "starting").length, 2, "both hear the restart");
});

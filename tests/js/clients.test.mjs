// Unit tests for web/src/clients.js RealClient.stopReplays: Stop ends the replay running and those queued,
// at once, and only them. The worker is a recorder the test answers for (a browser Worker does not exist
// in node); the real worker under Stop is covered in Chromium by tests/e2e/test_stop_replay.py.
import { test } from "node:test";
import assert from "node:assert/strict";

class RecordingWorker {
  static made = [];
  constructor() { this.sent = []; this.terminated = false; RecordingWorker.made.push(this); }
  postMessage(msg) { this.sent.push(msg); }
  terminate() { this.terminated = true; }
  answer(data) { this.onmessage({ data: { id: this.sent.at(-1).id, ...data } }); }
}
globalThis.Worker = RecordingWorker;
globalThis.document = { baseURI: "http://127.0.0.1/" };
const { RealClient, ReplayStopped } = await import("../../web/src/clients.js");

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
const trace = (n) => ({ ops: new Int8Array(n), ids: new Float64Array(n), sizes: new Float64Array(n) });

test("Stop ends the running replay on a new worker and the queued ones before they start", async () => {
  const client = new RealClient(() => {});
  const [first] = RecordingWorker.made.slice(-1);
  const source = { name: "upload: loops.wasm", bytes: new Uint8Array(8) };
  const running = client.replay(source, trace(40_000));
  const queued = client.replay(source, trace(61));
  await settle();
  first.answer({ type: "loaded", info: {} });
  await settle();
  assert.equal(first.sent.at(-1).type, "replay");
  first.answer({ type: "progress", done: 16_384, n: 40_000 });
  // a derive queued behind the replays is no replay: it is left to run, on the new worker
  const derive = client.derive(trace(3), { addresses: [], heap_bytes: [], live_bytes: [], initial_bytes: 0 });

  const ended = client.stopReplays();
  assert.deepEqual(ended.map((e) => e.message), [
    "replay on upload: loops.wasm stopped at event 16,384 of 40,000",
    "replay on upload: loops.wasm stopped at event 0 of 61",
  ]);
  await assert.rejects(running, (e) => e instanceof ReplayStopped && e.where === "stopped at event 16,384 of 40,000");
  await assert.rejects(queued, (e) => e instanceof ReplayStopped && e.where === "stopped at event 0 of 61");
  assert.ok(first.terminated, "the worker busy in the module is replaced");
  const [second] = RecordingWorker.made.slice(-1);
  assert.notEqual(second, first);
  await settle();
  assert.deepEqual(second.sent.map((m) => m.type), ["derive"], "the queued replay never reached a worker");
  second.answer({ type: "derived", derived: "ok" });
  assert.equal((await derive).derived, "ok");
  assert.deepEqual(client.stopReplays(), [], "nothing left to stop");
});

test("Stop leaves a job that is not a replay to finish, and the replay queued behind it never starts", async () => {
  const client = new RealClient(() => {});
  const [w] = RecordingWorker.made.slice(-1);
  const audit = client.audit("1", null);
  const replay = client.replay({ name: "c-dlmalloc", url: "m.wasm" }, trace(257));
  const [stopped] = client.stopReplays();
  assert.equal(stopped.message, "replay on c-dlmalloc stopped at event 0 of 257");
  await assert.rejects(replay, ReplayStopped);
  assert.ok(!w.terminated);
  w.answer({ type: "audited", real: { text: "r" }, sim: { text: "s" } });
  assert.equal((await audit).real.text, "r");
  await settle();
  assert.deepEqual(w.sent.map((m) => m.type), ["audit"]);
});

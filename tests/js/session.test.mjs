// Unit tests for web/src/session.js: the Run/Stop/replay state of the page, driven with a fake Python client,
// a fake real-module client whose derives and replays the test settles by hand, and a fake page that does
// what main.js does with what the session reports (a view presented is replayed unless Stop came first).
// Every status the session says is logged with what was still going on then. The page itself under Stop is
// covered in Chromium by tests/e2e/test_stop_replay.py.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Session } from "../../web/src/session.js";
import { ReplayStopped } from "../../web/src/clients.js";

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

function deferred() {
  let resolve, reject;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

class FakePython {
  constructor() { this.started = false; this.running = null; this.runs = []; this.stops = 0; this.nextId = 1; }
  start() { this.started = true; }
  run(code, module, files) { this.running = this.nextId++; this.runs.push({ code, module, files }); }
  stop() { this.stops++; }
}

// derive() and replay() wait for the test; stopReplays() ends the replays not yet settled, as RealClient does
class FakeReal {
  constructor() { this.derives = []; this.replays = []; }
  derive(trace, sim) {
    const d = deferred(), job = { trace, sim, open: true };
    job.resolve = (v) => { job.open = false; d.resolve(v); };
    job.reject = (e) => { job.open = false; d.reject(e); };
    this.derives.push(job);
    return d.promise;
  }
  replay(source, trace, progress) {
    const d = deferred(), job = { source, trace, progress, done: 0, open: true, ...d };
    job.progress = (done, n) => { job.done = done; progress(done, n); };
    job.finish = (reply) => { job.open = false; d.resolve(reply); };
    job.fail = (error) => { job.open = false; d.reject(error); };
    this.replays.push(job);
    return d.promise;
  }
  get open() { return this.replays.filter((j) => j.open); }
  get deriving() { return this.derives.filter((j) => j.open); }
  stopReplays() {
    return this.open.map((job) => {
      const error = new ReplayStopped({ module: job.source.name, done: job.done, n: job.trace.ops.length });
      job.fail(error);
      return error;
    });
  }
}

const trace = (name, n) => ({ name, ops: new Int8Array(n) });
const payload = (name, n = 100, module = "c-dlmalloc") => ({ trace: trace(name, n), sim: {}, module });

// A page as main.js wires one: what the session renders is logged; a view presented is replayed (on the
// module its payload names) unless the session says Stop came first.
function page({ ready = true } = {}) {
  const python = new FakePython(), real = new FakeReal();
  const p = { python, real, log: [], presented: [], landed: [], failed: [], made: 0 };
  p.session = new Session({
    python,
    newReal: () => { p.made++; return real; },
    render: () => {
      const s = p.session;
      p.log.push({ text: s.status?.text, progress: s.status?.progress, busy: s.busy, stoppable: s.stoppable,
        replaysOpen: real.open.length, derivesOpen: real.deriving.length, pythonRunning: python.running !== null });
    },
    present: (payload, derived, replay) => {
      const view = { payload, derived, replay };
      p.presented.push(view);
      if (replay) {
        view.replayed = p.session.replay({ name: payload.module }, payload.trace, {
          replayed: (reply) => p.landed.push({ view, reply, status: p.session.status.text }),
          failed: (error) => p.failed.push({ view, error, status: p.session.status.text }),
        });
      }
    },
  });
  p.status = () => p.session.status?.text;
  // Run, with prepare() settled at once
  p.run = (code = "show(t)") => p.session.run(async () => ({ code, module: "c-dlmalloc", files: null }));
  // Python's run ends (PythonClient clears running before its done handler)
  p.done = () => { python.running = null; p.session.done(); };
  p.derive = async (i, derived = { n: i }) => { real.derives[i].resolve({ derived }); await settle(); };
  if (ready) { python.started = true; p.session.starting(); p.session.ready(); }
  return p;
}

// every "ready" logged came with nothing left going on (a Run pressed but not started yet leaves it)
function assertReadyOnlyWhenIdle(log) {
  const early = log.filter((e) => e.text === "ready" && (e.replaysOpen || e.derivesOpen || e.pythonRunning));
  assert.deepEqual(early, [], "the status read ready while something was still going on");
}

test("a run: running…, drawing, the replay's progress, and ready only once the replay has landed", async () => {
  const p = page();
  await p.run();
  assert.equal(p.status(), "running…");
  assert.deepEqual(p.python.runs, [{ code: "show(t)", module: "c-dlmalloc", files: null }]);
  assert.ok(p.session.busy && p.session.stoppable);
  const shown = p.session.shown(payload("t", 40_000, "zig-wasm"));
  p.done();                                          // Python is done before its show() is drawn
  assert.equal(p.status(), "drawing the simulated side…");
  assert.ok(!p.session.busy && p.session.stoppable, "Stop stays on while the show() is derived");
  await p.derive(0);
  await shown;
  assert.equal(p.presented.length, 1);
  assert.deepEqual([p.status(), p.session.status.progress], ["replaying on zig-wasm…", 0]);
  p.real.replays[0].progress(16_384, 40_000);
  assert.deepEqual([p.status(), p.session.status.progress], ["replaying on zig-wasm…", 16_384 / 40_000]);
  assert.ok(p.session.stoppable, "Stop stays on while the replay runs");
  p.real.replays[0].finish({ result: "r" });
  await p.presented[0].replayed;
  assert.equal(p.landed.length, 1);
  assert.notEqual(p.landed[0].status, "ready", "the status settles only after the results landed");
  assert.equal(p.status(), "ready");
  assert.equal(p.session.status.progress, null);
  assert.ok(!p.session.stoppable);
  // Stop was on from Run to the replay's end: no gap between the derive and the replay
  const runStart = p.log.findIndex((e) => e.text === "running…");
  const over = p.log.findIndex((e, i) => i > runStart && e.text === "ready");
  assert.ok(runStart >= 0 && over > runStart);
  assert.deepEqual(p.log.slice(runStart, over).filter((e) => !e.stoppable), []);
  assertReadyOnlyWhenIdle(p.log);
});

test("the replay's progress shows while Python still runs, and running… comes back after it", async () => {
  const p = page();
  await p.run();
  p.session.shown(payload("t", 10));
  await p.derive(0);
  p.real.replays[0].progress(5, 10);
  assert.deepEqual([p.status(), p.session.status.progress], ["replaying on c-dlmalloc…", 0.5]);
  p.real.replays[0].finish({ result: "r" });
  await p.presented[0].replayed;
  assert.equal(p.status(), "running…", "Python is still running");
  p.done();
  assert.equal(p.status(), "ready");
  assertReadyOnlyWhenIdle(p.log);
});

test("Python done while a replay runs: the replay's text, never ready", async () => {
  const p = page();
  await p.run();
  p.session.shown(payload("t", 61, "upload: loops.wasm"));
  await p.derive(0);
  p.done();
  assert.equal(p.status(), "replaying on upload: loops.wasm…");
  // another show() finished deriving meanwhile (a view of the run), and Python's done again is no news
  p.session.done();
  assert.equal(p.status(), "replaying on upload: loops.wasm…");
  assert.ok(!p.session.busy && p.session.stoppable);
  p.real.replays[0].finish({ result: "r" });
  await p.presented[0].replayed;
  assert.equal(p.status(), "ready");
  assertReadyOnlyWhenIdle(p.log);
});

test("Stop during a replay says what it stopped (and what was queued); the next run clears it", async () => {
  const p = page();
  await p.run();
  p.session.shown(payload("a", 40_000, "zig-wasm"));
  p.session.shown(payload("b", 61, "zig-wasm"));
  await p.derive(0);
  await p.derive(1);
  p.real.replays[0].progress(16_384, 40_000);
  p.done();
  const stopped = p.session.stop();
  assert.equal(stopped, "replay on zig-wasm stopped at event 16,384 of 40,000, with 1 queued behind it");
  assert.equal(p.python.stops, 1);
  await Promise.all(p.presented.map((v) => v.replayed));
  assert.equal(p.failed.length, 2);
  assert.ok(p.failed.every((f) => f.error instanceof ReplayStopped));
  assert.equal(p.status(), stopped);
  assert.ok(!p.session.stoppable, "nothing left to stop");
  assertReadyOnlyWhenIdle(p.log);

  await p.run();
  assert.equal(p.status(), "running…");
  p.done();
  assert.equal(p.status(), "ready", "what Stop ended belongs to the run before");
});

test("a view replayed after Stop (picked, or audited) clears what Stop ended", async () => {
  const p = page();
  await p.run();
  p.session.shown(payload("t", 61));
  await p.derive(0);
  p.done();
  p.session.stop();
  await p.presented[0].replayed;
  assert.equal(p.status(), "replay on c-dlmalloc stopped at event 0 of 61");
  const again = p.session.replay({ name: "c-dlmalloc" }, trace("t", 61), { replayed: () => {}, failed: () => {} });
  assert.equal(p.status(), "replaying on c-dlmalloc…");
  p.real.replays[1].finish({ result: "r" });
  await again;
  assert.equal(p.status(), "ready");
});

test("Stop with no replay going stops Python and reports nothing", async () => {
  const p = page();
  await p.run();
  assert.equal(p.session.stop(), null);
  assert.equal(p.python.stops, 1);
  p.done();
  assert.equal(p.status(), "ready");
});

test("a show() that arrives after Stop is drawn but not replayed; the next run's are", async () => {
  const p = page();
  await p.run();
  const before = p.session.shown(payload("before"));      // derived after Stop: not replayed either
  p.session.stop();
  const after = p.session.shown(payload("after"));        // Python caught the interrupt and showed once more
  await p.derive(0);
  await p.derive(1);
  await Promise.all([before, after]);
  assert.deepEqual(p.presented.map((v) => [v.payload.trace.name, v.replay]), [["before", false], ["after", false]]);
  assert.equal(p.real.replays.length, 0);
  p.done();
  assert.equal(p.status(), "ready");
  assert.ok(!p.session.stoppable);

  await p.run();
  p.session.shown(payload("next"));
  await p.derive(2);
  assert.equal(p.presented[2].replay, true);
  assert.equal(p.real.replays.length, 1);
});

test("two runs in a row: the older run's late show() is dropped, its replay's end does not speak for the newer", async () => {
  const p = page();
  await p.run();
  p.session.shown(payload("old-1", 40_000, "c-dlmalloc"));
  const late = p.session.shown(payload("old-2", 100, "c-dlmalloc"));
  await p.derive(0);                               // the older run's first view: its replay runs
  p.done();
  await p.run();                                   // a module picked: the code runs again
  p.session.shown(payload("new", 100, "zig-wasm"));
  await p.derive(2);                               // the newer run's view: its replay is queued
  assert.equal(p.status(), "running…");
  p.real.replays[0].progress(30_000, 40_000);      // the older replay still runs, and says so
  assert.equal(p.status(), "replaying on c-dlmalloc…");
  await p.derive(1);                               // the older run's second show(), derived only now
  await late;
  assert.deepEqual(p.presented.map((v) => v.payload.trace.name), ["old-1", "new"],
    "a view of the older run never joins the newer run's");
  assert.deepEqual(p.real.replays.map((j) => j.trace.name), ["old-1", "new"]);

  p.real.replays[0].finish({ result: "old" });
  await p.presented[0].replayed;
  assert.deepEqual([p.status(), p.session.status.progress], ["running…", null]);
  p.done();
  assert.deepEqual([p.status(), p.session.status.progress], ["replaying on zig-wasm…", 0],
    "the newer replay's status, not the older one's last words");
  p.real.replays[1].finish({ result: "new" });
  await p.presented[1].replayed;
  assert.deepEqual(p.landed.map((l) => [l.view.payload.trace.name, l.reply.result]), [["old-1", "old"], ["new", "new"]]);
  assert.equal(p.status(), "ready");
  assertReadyOnlyWhenIdle(p.log);
});

test("errors end in a settled status: a failed run, a failed replay, a failed derive, a failed prepare", async () => {
  const p = page();
  await p.run("raise ValueError");
  p.done();                                        // the run failed: its traceback is the page's to print
  assert.equal(p.status(), "ready");
  assert.ok(!p.session.busy && !p.session.stoppable);

  await p.run();
  p.session.shown(payload("t", 61, "upload: loops.wasm"));
  await p.derive(0);
  p.done();
  const error = new Error("made no progress for 15 s after event 0 (an endless loop in the module?); stopped");
  p.real.replays[0].fail(error);
  await p.presented[0].replayed;
  assert.equal(p.failed[0].error, error);
  assert.notEqual(p.failed[0].status, "ready", "the status settles only after the failure is shown");
  assert.equal(p.status(), "ready");
  assert.ok(!p.session.stoppable);

  await p.run();
  const shown = p.session.shown(payload("t"));
  p.real.derives[1].reject(new Error("the real worker failed"));
  p.done();
  await assert.rejects(shown, /the real worker failed/);
  assert.equal(p.status(), "ready");
  assert.ok(!p.session.stoppable);

  const failing = p.session.run(async () => { throw new Error("editor chunk failed to load"); });
  assert.ok(p.session.busy);
  await assert.rejects(failing, /editor chunk/);
  assert.ok(!p.session.busy, "Run is back after a run that could not start");
  assert.equal(p.python.runs.length, 3);
  assertReadyOnlyWhenIdle(p.log);
});

test("Python loading: its progress until ready, a load failure stays said, a Run meanwhile waits", async () => {
  const p = page({ ready: false });
  p.session.settle();
  assert.equal(p.status(), "ready to run: Python starts when you press ▶ Run", "a widget before Run");
  assert.equal(p.made, 0, "no real worker before it is wanted");
  await p.run();
  assert.ok(p.python.started);
  assert.equal(p.made, 1);
  assert.equal(p.status(), "waiting for Python to load…");
  p.session.starting();
  assert.deepEqual([p.status(), p.session.status.progress], ["loading…", 0]);
  p.session.loading("loading pyfrag…", 0.8);
  assert.deepEqual([p.status(), p.session.status.progress], ["loading pyfrag…", 0.8]);
  p.session.loading("Python failed to start: no network", null);
  p.session.done();                                // nothing of a run settles over it while Python is not ready
  assert.equal(p.status(), "Python failed to start: no network");
  p.session.ready();
  assert.equal(p.status(), "running…", "the run queued behind loading goes on");
  p.session.loading("loading pyfrag…", 0.9);       // late loading news once ready is no news
  assert.equal(p.status(), "running…");
  p.done();
  assert.equal(p.status(), "ready");
});

test("a Run pressed while one is pending or running does nothing", async () => {
  const p = page();
  const gate = deferred();
  const first = p.session.run(() => gate.promise);
  await p.session.run(async () => ({ code: "second" }));
  gate.resolve({ code: "first" });
  await first;
  await p.run("third");
  assert.deepEqual(p.python.runs.map((r) => r.code), ["first"]);
});

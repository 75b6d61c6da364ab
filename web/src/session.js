// The Run/Stop/replay state of a page (no DOM): Python starting and ready, a run starting, show() payloads
// derived on their way to the screen, real replays queued, running and finished, Stop, and the status the
// page shows once each of these settles. Entry point: new Session({python, newReal, render, present}); the
// page feeds it Python's messages (starting, loading, ready, shown, done) and its Run and Stop presses,
// and draws what render() and present() report. Node drives it with fakes (tests/js/session.test.mjs).

export class Session {
  // python: a PythonClient (started, running, start(), run(code, module, files), stop()); newReal() -> a
  // RealClient (derive, replay, stopReplays), made when first wanted (a widget's waits for its reader);
  // render(): the status, busy or stoppable changed; present(payload, derived, replay): a show() of the
  // current run is derived and goes on screen, its real replay wanted unless Stop was pressed before it.
  constructor({ python, newReal, render, present }) {
    Object.assign(this, { python, newReal, render, present });
    this.realClient = null;
    this.pythonReady = false;
    this.idle = "ready to run: Python starts when you press ▶ Run";   // a widget, before Python is asked for
    this.status = null;           // {text, progress}; null until there is something to say (the page's own)
    this.runPending = false;      // Run was pressed and waits for the page's code
    this.runs = 0;                // runs started
    this.deriving = 0;            // show() payloads on their way to the screen: a replay follows each
    this.replaying = new Set();   // real replays queued or running: what each said last, {text, progress}
    this.said = null;             // the one of them that spoke last
    this.stopped = null;          // what Stop ended last ("replay on … stopped at event …"), until a run or replay
    this.halted = false;          // Stop was pressed: a show() of the stopped run that comes after it is not replayed
  }

  real() {
    return this.realClient ??= this.newReal();
  }

  // Run is there while Python is not running; Stop while it is, or while a real replay is queued or running
  // (or about to be: a show() being derived).
  get busy() {
    return this.runPending || this.python.running !== null;
  }

  get stoppable() {
    return this.busy || this.replaying.size > 0 || this.deriving > 0;
  }

  say(text, progress = null) {
    this.status = { text, progress };
    this.render();
  }

  // The status once Python or a replay is over: what still goes on (a replay of a module that hangs must
  // not read "ready"), else what Stop ended, else ready.
  settle() {
    if (!this.pythonReady) this.say(this.python.started ? "loading…" : this.idle);
    else if (this.python.running !== null) this.say("running…");
    else if (this.said) this.say(this.said.text, this.said.progress);
    else if (this.deriving) this.say("drawing the simulated side…");
    else this.say(this.stopped ?? "ready");
  }

  // ---- Python's messages ----

  starting() {
    this.pythonReady = false;
    this.say("loading…", 0);
  }

  // Python's loading progress, or why it failed to load: shown until it is ready
  loading(text, progress) {
    if (!this.pythonReady) this.say(text, progress);
  }

  ready() {
    this.pythonReady = true;
    this.settle();
  }

  done() {
    if (this.pythonReady) this.settle();
    else this.render();
  }

  // ---- Run and Stop ----

  // prepare() (the page's: waits for its code, clears the last run's output) -> {code, module, files}.
  // A Run pressed while one is pending or running does nothing.
  async run(prepare) {
    if (this.busy) return;
    this.runPending = true;
    this.render();
    this.python.start();          // a widget's Python starts here, while prepare() waits for its first view
    this.real();
    try {
      const { code, module, files } = await prepare();
      this.runs++;
      this.stopped = null;
      this.halted = false;
      this.say(this.pythonReady ? "running…" : "waiting for Python to load…");
      this.python.run(code, module, files);
    } finally {
      this.runPending = false;     // Python runs now, or prepare() failed: Run is back then
      this.render();
    }
  }

  // Stop ends Python's run and every real replay queued or running; the simulated side stays as it is.
  // -> what it ended ("replay on … stopped at event … of …[, with N queued behind it]"), or null. Each
  // replay ended settles the status on that text through its own replay() call.
  stop() {
    this.halted = true;
    this.python.stop();
    const ended = this.realClient?.stopReplays() ?? [];
    if (!ended.length) return null;
    const queued = ended.length - 1;
    return this.stopped = ended[0].message + (queued ? `, with ${queued} queued behind it` : "");
  }

  // ---- show() payloads and real replays ----

  // A show() payload of the current run: its simulated side is derived off the page's thread, then
  // presented, unless another run started meanwhile (the view is of the run before it).
  async shown(payload) {
    this.deriving++;
    this.render();
    try {
      const run = this.runs;
      const { derived } = await this.real().derive(payload.trace, payload.sim);
      // present() queues the view's replay before deriving drops below: Stop stays on throughout
      if (run === this.runs) this.present(payload, derived, !this.halted);
    } finally {
      this.deriving--;
      this.render();
      if (this.pythonReady) this.settle();
    }
  }

  // Replays `trace` on real module `source`: replayed({result, derived}) or failed(error) (a ReplayStopped
  // when Stop ended it) is called before the status settles, so "ready" never shows beside a column still
  // waiting for its results. -> a promise, settled once that is done.
  async replay(source, trace, { replayed, failed }) {
    const mine = { text: `replaying on ${source.name}…`, progress: 0 };
    const progress = (p) => {
      mine.progress = p;
      this.said = mine;
      this.say(mine.text, p);
    };
    this.replaying.add(mine);
    this.stopped = null;
    progress(0);
    try {
      replayed(await this.real().replay(source, trace, (done, n) => progress(done / n)));
    } catch (e) {
      failed(e);
    } finally {
      this.replaying.delete(mine);
      // an older replay ending leaves the status to the newest one still queued or running, not to its own
      // last words
      if (this.said === mine) this.said = [...this.replaying].at(-1) ?? null;
      this.settle();
    }
  }
}

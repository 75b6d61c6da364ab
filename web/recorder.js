// Record a WebAssembly app's allocations in the browser, as a pyfrag trace.
//
// Main entry point: `new Recorder()`. An app instrumented with
// `python -m pyfrag instrument APP.wasm -o APP.recording.wasm` imports
// pyfrag.record(op, a, b, c, result, pages) and calls it once per outermost
// allocator call; this module supplies that import, keeps the calls in a
// growing Int32Array (6 numbers a call, no object per event), and turns them
// into pyfrag's text format on demand: `text()`, or `download()` for a file
// that `python -m pyfrag run FILE --verify` checks and the playground replays.
// The trace is the one `pyfrag record --wasm` writes under wasmtime: the same
// ids, fields and header (the start state comes from the module's
// "pyfrag.recording" custom section, written by the instrumentation).
//
//   const rec = new Recorder({ name: "my-app" });
//   // plain WebAssembly:
//   const { instance, module } = await WebAssembly.instantiateStreaming(
//       fetch("app.recording.wasm"), rec.imports({ env: { ... } }));
//   rec.attach(module);
//   // Emscripten: Module.instantiateWasm = (imports, done) => {
//   //   WebAssembly.instantiateStreaming(fetch("app.recording.wasm"), rec.imports(imports))
//   //     .then(({ instance, module }) => { rec.attach(module); done(instance, module); });
//   //   return {}; };
//   // wasm-bindgen: its init() builds its own imports, so let the recorder add its
//   // import to every instantiation first: rec.install(); await init("app_bg.recording.wasm");
//   ...                       // use the app
//   rec.download();           // app.trace, for `pyfrag run app.trace --verify`

const PAGE = 65536;
const FIELDS = 6;                      // op, a, b, c, result, pages
const ALLOC = 0, FREE = 1, REALLOC = 2;
const PLAIN_ALIGN = 8;                 // as pyfrag.record: larger alignments are kept
const START_SECTION = "pyfrag.recording";

export class Recorder {
  constructor({ name = "app", description = "recorded in a browser with web/recorder.js",
                heapBase = null, initialPages = null, maximumPages = null,
                allocator = null } = {}) {
    this.name = name;
    this.description = description;
    this.start = { heap_base: heapBase, initial_pages: initialPages,
                   maximum_pages: maximumPages, allocator };
    this.given = { ...this.start };   // what the caller set wins over the module's section
    this.buffer = new Int32Array(FIELDS * 4096);
    this.length = 0;                  // calls recorded
    this.record = this.record.bind(this);
  }

  /** The hook the instrumented module imports; one call per outermost allocator call. */
  record(op, a, b, c, result, pages) {
    let at = this.length * FIELDS;
    if (at + FIELDS > this.buffer.length) {
      const bigger = new Int32Array(this.buffer.length * 2);
      bigger.set(this.buffer);
      this.buffer = bigger;
    }
    const buf = this.buffer;
    buf[at++] = op; buf[at++] = a; buf[at++] = b; buf[at++] = c;
    buf[at++] = result; buf[at] = pages;
    this.length++;
  }

  /** `importObject` with the pyfrag.record import added (a new object; the input is kept). */
  imports(importObject = {}) {
    return { ...importObject, pyfrag: { ...(importObject.pyfrag || {}), record: this.record } };
  }

  /** Read the start state from the instrumented module's custom section. */
  attach(module) {
    if (!(module instanceof WebAssembly.Module)) return this;
    const [section] = WebAssembly.Module.customSections(module, START_SECTION);
    if (section) {
      const found = JSON.parse(new TextDecoder().decode(section));
      for (const key of Object.keys(this.start)) {
        if (this.given[key] == null && found[key] != null) this.start[key] = found[key];
      }
    }
    return this;
  }

  /** Add this recorder's import to every WebAssembly.instantiate(Streaming) of an
   *  instrumented module (for loaders that build their own imports, e.g.
   *  wasm-bindgen's init), and read the start state from it. Returns an undo function. */
  install() {
    const W = WebAssembly, original = { instantiate: W.instantiate, instantiateStreaming: W.instantiateStreaming };
    const wants = (module) => W.Module.imports(module).some(
      (i) => i.module === "pyfrag" && i.name === "record");
    const withHook = async (moduleOrBytes, importObject) => {
      const module = moduleOrBytes instanceof W.Module ? moduleOrBytes
        : await W.compile(moduleOrBytes);
      if (!wants(module)) {
        const instance = await original.instantiate.call(W, module, importObject);
        return moduleOrBytes instanceof W.Module ? instance : { module, instance };
      }
      this.attach(module);
      const instance = await original.instantiate.call(W, module, this.imports(importObject));
      return moduleOrBytes instanceof W.Module ? instance : { module, instance };
    };
    W.instantiate = withHook;
    W.instantiateStreaming = async (source, importObject) =>
      withHook(await (await source).arrayBuffer(), importObject);
    return () => Object.assign(W, original);
  }

  /** The recording as pyfrag's text format (what `pyfrag record --wasm` writes). */
  text() {
    const out = ["# pyfrag trace v1", `# name: ${this.name}`];
    if (this.description) out.push(`# description: ${this.description}`);
    const s = this.start;
    if (s.maximum_pages != null) out.push(`# maximum: ${s.maximum_pages}`);
    for (const key of ["heap_base", "initial_pages"]) {
      if (s[key] != null) out.push(`# ${key}: ${s[key]}`);
    }
    out.push(`# module: ${this.name}`);
    if (s.allocator) out.push(`# allocator: ${s.allocator}`);
    const live = new Map();           // address -> block id
    let nextId = 0;
    const buf = this.buffer;
    for (let i = 0; i < this.length; i++) {
      const at = i * FIELDS;
      let op = buf[at];
      let a = buf[at + 1] >>> 0, b = buf[at + 2] >>> 0;
      const c = buf[at + 3] >>> 0, result = buf[at + 4] >>> 0;
      const mem = (buf[at + 5] >>> 0) * PAGE;
      if (op === REALLOC && a === 0) { op = ALLOC; a = b; b = c; }   // realloc(NULL, n)
      if (op === FREE) {
        if (a === 0) continue;                                       // free(NULL)
        const id = live.has(a) ? live.get(a) : nextId++;
        live.delete(a);
        out.push(`f ${id}`);
        continue;
      }
      let id;
      if (op === ALLOC) {
        id = nextId++;
        out.push(`a ${id} ${a}${b > PLAIN_ALIGN ? ` align=${b}` : ""} addr=${result} mem=${mem}`);
      } else {
        id = live.has(a) ? live.get(a) : nextId++;
        live.delete(a);
        out.push(`r ${id} ${b} addr=${result} mem=${mem}`);
        if (!result && b) live.set(a, id);     // a failed realloc leaves the block in place
      }
      if (result) live.set(result, id);
    }
    return out.join("\n") + "\n";
  }

  /** Save the trace as a file (default NAME.trace) through the browser's download. */
  download(filename = `${this.name}.trace`) {
    const url = URL.createObjectURL(new Blob([this.text()], { type: "text/plain" }));
    const link = Object.assign(document.createElement("a"), { href: url, download: filename });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 0);
  }
}

// Real allocator modules: instantiate a .wasm with the malloc ABI and replay trace arrays on it.
// Pure JS (no DOM, no worker API) so real-worker.mjs runs it off the main thread and node tests run it as is.

import { failureKind } from "./failures.js";
import { ABI, ISSUES, REASONS, RUN as CODES, say } from "./rules.js";
import { ALLOC, FREE, REALLOC } from "./timeline.js";

export const PAGE = 65536;
const WASM32_MAX = 65536 * PAGE;

// Errors a person can act on (bad file, wrong ABI); anything else is a bug and keeps its stack.
export class ModuleError extends Error {}

const ENOSYS = 52;
const ISSUES_KEPT = 5;   // trace issues listed with their event; the rest are only counted

// Minimal WASI: enough for a libc's start-up and printf. Calls a malloc module has no business making
// (files, sockets) answer ENOSYS instead of trapping, so the allocator still runs.
function wasiShims(getMemory, log) {
  const view = () => new DataView(getMemory().buffer);
  const zeroPair = (a, b) => { view().setUint32(a, 0, true); view().setUint32(b, 0, true); return 0; };
  return {
    fd_write(fd, iovs, iovsLen, nwritten) {
      const v = view(), bytes = new Uint8Array(getMemory().buffer);
      let total = 0, text = "";
      for (let k = 0; k < iovsLen; k++) {
        const ptr = v.getUint32(iovs + 8 * k, true), len = v.getUint32(iovs + 8 * k + 4, true);
        text += new TextDecoder().decode(bytes.subarray(ptr, ptr + len));
        total += len;
      }
      log(fd === 2 ? "stderr" : "stdout", text);
      v.setUint32(nwritten, total, true);
      return 0;
    },
    environ_sizes_get: zeroPair,
    args_sizes_get: zeroPair,
    environ_get: () => 0,
    args_get: () => 0,
    clock_time_get(_id, _precision, out) {
      view().setBigUint64(out, BigInt(Math.round(performance.now() * 1e6)), true);
      return 0;
    },
    random_get(ptr, len) {
      crypto.getRandomValues(new Uint8Array(getMemory().buffer, ptr, len));
      return 0;
    },
    proc_exit(code) { throw new ModuleError(`the module called proc_exit(${code})`); },
  };
}

export async function compile(bytes) {
  const b = new Uint8Array(bytes);
  if (b.length < 8 || b[0] !== 0 || b[1] !== 0x61 || b[2] !== 0x73 || b[3] !== 0x6d) {
    throw new ModuleError("not a WebAssembly module: a .wasm file starts with the bytes \\0asm");
  }
  try {
    return await WebAssembly.compile(b);
  } catch (e) {
    throw new ModuleError(`the file is not a valid WebAssembly module: ${e.message}`);
  }
}

// ---- the memory limit, as the engine enforces it ---------------------------------------------------------
// A running module's memory maximum cannot be lowered from JS, and stopping the replay where the module
// would pass a trace's limit is not what an engine does: there memory.grow returns -1 and the allocator
// carries on (TLSF retries a smaller grow, others fail just that request). So the limit is written into
// the module's own memory section before compiling: the engine then refuses the grow itself.

function uleb(bytes, pos) {
  let value = 0, shift = 0, b;
  do {
    if (pos >= bytes.length) throw new ModuleError("the module ends inside a number");
    b = bytes[pos++];
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
  } while (b & 0x80);
  return [value, pos];
}

function leb(value) {
  const out = [];
  do {
    let b = value % 128;
    value = Math.floor(value / 128);
    if (value) b |= 0x80;
    out.push(b);
  } while (value);
  return out;
}

// `bytes` with the maximum of the module's defined memory lowered to `pages` (kept if already lower).
// A module that imports its memory, or declares none, comes back unchanged: the limit is then the host's
// (the playground provides no memory import, so such a module fails to instantiate with a clear message).
export function withMemoryLimit(bytes, pages) {
  const b = new Uint8Array(bytes);
  let pos = 8;
  while (pos < b.length) {
    const id = b[pos];
    const [size, body] = uleb(b, pos + 1);
    const end = body + size;
    if (id !== 5) { pos = end; continue; }
    const [count, first] = uleb(b, body);
    if (count !== 1) return b;                   // multi-memory: the ABI's memory is not told apart
    const flags = b[first];
    if (flags & 0x04) return b;                  // memory64: its limits are not wasm32 pages
    let [min, at] = uleb(b, first + 1);
    let max = 65536;
    if (flags & 0x01) [max, at] = uleb(b, at);
    if (min > pages) {
      throw new ModuleError(`the module starts with ${min} pages of memory, more than the trace's ` +
        `limit of ${pages} pages`);
    }
    if (max <= pages) return b;
    const memtype = [flags | 0x01, ...leb(min), ...leb(pages)];
    const section = [5, ...leb(1 + memtype.length), 1, ...memtype];
    const out = new Uint8Array(pos + section.length + b.length - end);
    out.set(b.subarray(0, pos));
    out.set(section, pos);
    out.set(b.subarray(end), pos + section.length);
    return out;
  }
  return b;
}

function importObject(module, getMemory, log) {
  const wasi = wasiShims(getMemory, log);
  const env = {
    abort(msg, file, line, col) {
      throw new ModuleError(`the module aborted (env.abort at ${line}:${col})`);
    },
    emscripten_notify_memory_growth() {},
  };
  const imports = {}, missing = [];
  for (const imp of WebAssembly.Module.imports(module)) {
    let value;
    if (imp.kind === "function" && imp.module.startsWith("wasi_")) value = wasi[imp.name] ?? (() => ENOSYS);
    else if (imp.kind === "function" && imp.module === "env") value = env[imp.name];
    if (value === undefined) { missing.push(`${imp.module}.${imp.name} (${imp.kind})`); continue; }
    (imports[imp.module] ??= {})[imp.name] = value;
  }
  if (missing.length) {
    throw new ModuleError(`cannot satisfy the module's imports: ${missing.join(", ")}. ` +
      "The playground provides WASI shims, env.abort and env.emscripten_notify_memory_growth.");
  }
  return imports;
}

// What the page needs to know about a module before replaying on it: the exports pyfrag/rules.json's ABI
// wants, by the names and with the parameter counts it gives (pyfrag real checks the same, with their types).
export function describe(module, name = "(unnamed)") {
  const exported = new Map(WebAssembly.Module.exports(module).map((x) => [x.name, x.kind]));
  const missing = ABI.required.filter((n) => !exported.has(n));
  if (missing.length) {
    throw new ModuleError(say(ABI.lacks, { module: name, abi: ABI.required.join(", "),
      exports: `${missing.length === 1 ? "export" : "exports"} ${missing.map((n) => `'${n}'`).join(", ")}` }));
  }
  if (exported.get("memory") !== "memory") throw new ModuleError(`module ${name}: export 'memory' is not a memory`);
  for (const n of Object.keys(ABI.signatures)) {
    if (exported.has(n) && exported.get(n) !== "function") {
      throw new ModuleError(`module ${name}: export '${n}' is a ${exported.get(n)}, not a function`);
    }
  }
  return {
    exports: [...exported.keys()],
    imports: WebAssembly.Module.imports(module).map((i) => `${i.module}.${i.name}`),
  };
}

// A fresh instance (every replay starts from the module's start state) with its ABI resolved. pyfrag's own
// modules take a block's size and alignment back in free(ptr, size, align) and
// realloc(ptr, new_size, size, align) (wasm_modules/src/abi.c), so their wrappers keep no table of blocks;
// calling them so is harmless for a C-style free(ptr) or realloc(ptr, size), which ignore the extra
// arguments. Such modules also replay whole traces themselves (pyfrag_run): `runs`.
export async function instantiate(module, log = () => {}, name = undefined) {
  describe(module, name);
  let memory = null;
  const instance = await WebAssembly.instantiate(module, importObject(module, () => memory, log));
  const e = instance.exports;
  memory = e.memory;
  if (e._initialize) e._initialize();
  const heapBase = e.__heap_base instanceof WebAssembly.Global ? Number(e.__heap_base.value) : null;
  const sized = e.free.length === 3 && e.realloc.length === 4;
  return {
    instance, memory, heapBase,
    malloc: e.malloc, free: e.free, realloc: e.realloc, alignedAlloc: e.aligned_alloc ?? null, liveBytes: e.live_bytes,
    runs: sized && e.pyfrag_run && e.pyfrag_run_events && e.pyfrag_run_capacity ? e : null,
  };
}

// The messages of the replay loop's trace issues (pyfrag/rules.json, as pyfrag/replay.py words them).
const ISSUE = {
  free: (id) => say(ISSUES.free, { id }),
  alloc: (id) => say(ISSUES.alloc, { id }),
  realloc: (id) => say(ISSUES.realloc, { id }),
  outside: (op, size, address, heap) => say(ISSUES.outside, { op, size, address: `0x${address.toString(16)}`, heap }),
};

// Replays trace arrays ({ops, ids, sizes, aligns:[[i,a]...], maximum_bytes}) with the rules of pyfrag's
// replay loop and its wasmtime harness (pyfrag/replay.py, pyfrag/real/runner.py, pyfrag/real/module.py), so the page's
// real column is what `pyfrag real` prints: free of an id that is not live is skipped; a free after a failed
// malloc is free(NULL); realloc of an id that is not live is a malloc; realloc(p, 0) returning NULL has freed
// p; alloc of a live id leaks the old block. Those trace issues are counted (`skipped`), the first few listed
// with their event (`issues`). A request the module answers with 0 is a failed request and the replay goes
// on; a trap in any call (AssemblyScript aborts when memory.grow fails) is never an OOM: the replay ends at
// that event, which `trap` names. Requests a wasm32 call cannot carry (a size past 2^32 - 1, an alignment the
// module has no aligned_alloc for, above `trace.malloc_alignment`) fail without a call. The trace's memory
// limit is the instance's own (see withMemoryLimit): past it memory.grow fails inside the module.
// pyfrag's own modules replay the trace themselves (runInModule); any other module, or any with `callByCall`,
// is called once per event. With `keepLive`, `final` lists the blocks live at the end ([id, address, size]);
// `name` is the module's, as a failure's reason names it.
export function replay(heap, trace, { heapBase = 0, onProgress = null, chunk = 16384, callByCall = false,
  keepLive = false, name = "(unnamed)" } = {}) {
  const n = trace.ops.length;
  const { memory } = heap;
  const out = {
    addresses: new Float64Array(n), heap_bytes: new Float64Array(n), live_bytes: new Float64Array(n),
    failures: [], skipped: 0, issues: [], trap: null,
    final: keepLive ? [] : null,
    heap_base: heap.heapBase ?? heapBase, initial_bytes: memory.buffer.byteLength,
    maximum_bytes: maximumBytes(trace),
  };
  const issue = (i, message) => {
    out.skipped++;
    if (out.issues.length < ISSUES_KEPT) out.issues.push({ index: i, message });
  };
  // Free bytes are estimated as heap minus live: the allocator's free lists are inside the module. A request
  // aligned past what the module can serve was never asked: an unsupported request (failures.js).
  const mallocAlignment = trace.malloc_alignment ?? 8, reusesFreed = trace.reuses_freed ?? true;
  const fail = (i, op, size, live, heapNow, align = 0) => {
    const freeBytes = heapNow - out.heap_base - live;
    const unsupported = Boolean(align && !heap.alignedAlloc && align > mallocAlignment && align <= 0xffffffff);
    const kind = failureKind(size, freeBytes, unsupported, reusesFreed);
    out.failures.push({ index: i, op, size, kind, align: align || null,
      reason: kind === "unsupported" ? say(REASONS.no_aligned_alloc, { module: name, alignment: mallocAlignment })
        : kind === "exhausted" ? say(REASONS.never_reuses, { allocator: name }) : null,
      free_bytes: freeBytes, largest_free: null, overhead: null, heap_bytes: heapNow, where: `event ${i}` });
  };
  const end = (heap.runs && !callByCall ? runInModule : perCall)(heap, trace, out, { issue, fail, onProgress, chunk });
  for (const key of ["addresses", "heap_bytes", "live_bytes"]) out[key] = out[key].slice(0, end);
  out.reported_live = heap.liveBytes && !out.trap ? Number(heap.liveBytes()) >>> 0 : null;
  return out;
}

// A malloc-like request's fate before any call: 0 a plain malloc, k an aligned_alloc(1 << (k - 1)), UNCALLED
// when wasm32 cannot carry it (pyfrag/real/runner.py _codes, pyfrag/real/module.py aligned_export).
const UNCALLED = CODES.uncalled;
function requestCode(heap, trace, size, align) {
  if (size > 0xffffffff) return UNCALLED;
  if (!align) return 0;
  if (heap.alignedAlloc) return align > 0x80000000 ? UNCALLED : Math.log2(align) + 1;
  return align > (trace.malloc_alignment ?? 8) ? UNCALLED : 0;
}

class Trapped extends Error {}

// The module called once per event, by the loop's rules in JS; returns the events replayed.
function perCall(heap, trace, out, { issue, fail, onProgress, chunk }) {
  const { ops, ids, sizes } = trace;
  const n = ops.length;
  const aligns = new Map(trace.aligns ?? []);
  const blocks = new Map(), failed = new Set();    // id -> [address, size, alignment]
  const { memory, malloc, free, realloc, alignedAlloc } = heap;
  let live = 0;
  // a call into the module; a trap ends the replay at event i
  const call = (i, op, fn) => {
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof WebAssembly.RuntimeError || e instanceof ModuleError)) throw e;
      out.trap = { index: i, op, message: e instanceof ModuleError ? e.message : `${e.name}: ${e.message}` };
      throw new Trapped();
    }
  };
  const request = (i, code, size) => (code === UNCALLED ? 0 : code
    ? call(i, "aligned_alloc", () => alignedAlloc(2 ** (code - 1), size)) >>> 0
    : call(i, "malloc", () => malloc(size)) >>> 0);

  let end = n;
  outer:
  for (let start = 0; start < n; start += chunk) {
    const stop = Math.min(n, start + chunk);
    for (let i = start; i < stop; i++) {
      const op = ops[i], id = ids[i], size = sizes[i];
      let p = 0;     // stays 0 for a free, a failure, or a call that trapped
      try {
        if (op === FREE) {
          const b = blocks.get(id);
          if (b !== undefined) {
            blocks.delete(id);
            call(i, "free", () => free(b[0], b[1], b[2]));
            live -= b[1];
          } else if (failed.has(id)) failed.delete(id);
          else issue(i, ISSUE.free(id));
        } else if (op === ALLOC) {
          if (blocks.has(id)) {
            live -= blocks.get(id)[1];
            blocks.delete(id);
            issue(i, ISSUE.alloc(id));
          }
          const align = aligns.get(i) ?? 0, code = requestCode(heap, trace, size, align);
          p = request(i, code, size);
          if (p) { blocks.set(id, [p, size, code && code !== UNCALLED ? align : 0]); live += size; failed.delete(id); }
          else { failed.add(id); fail(i, "malloc", size, live, memory.buffer.byteLength, align); }
        } else {
          const b = blocks.get(id);
          if (b === undefined) issue(i, ISSUE.realloc(id));
          const code = requestCode(heap, trace, size, 0);
          p = b === undefined ? request(i, code, size)
            : code === UNCALLED ? 0 : call(i, "realloc", () => realloc(b[0], size, b[1], b[2])) >>> 0;
          if (p) { blocks.set(id, [p, size, b?.[2] ?? 0]); live += size - (b?.[1] ?? 0); failed.delete(id); }
          else if (b !== undefined && !size) { blocks.delete(id); live -= b[1]; failed.add(id); }
          else fail(i, "realloc", size, live, memory.buffer.byteLength);
        }
      } catch (e) {
        if (!(e instanceof Trapped)) throw e;
      }
      const heapNow = memory.buffer.byteLength;
      if (p && p + size > heapNow) issue(i, ISSUE.outside(op === ALLOC ? "malloc" : "realloc", size, p, heapNow));
      out.addresses[i] = p;
      out.heap_bytes[i] = heapNow;
      out.live_bytes[i] = live;
      if (out.trap) { end = i + 1; break outer; }     // the event that trapped is the run's last
    }
    onProgress?.(stop, n);
  }
  if (out.final) for (const [id, b] of blocks) out.final.push([id, b[0], b[1]]);
  return end;
}

// ---- the replay inside the module (pyfrag_run: wasm_modules/src/abi.c has the arrays and the rules) ------
// The module keeps no ids: for each event the host names the id's previous event, inside the chunk (the
// module follows it) or, across chunks, by copying that event's outputs in (pyfrag/real/runner.py does the same).
const RUN = { FAILED: CODES.status.failed, BAD_FREE: CODES.status.bad_free, LEAKED: CODES.status.leaked,
  NOT_LIVE: CODES.status.not_live, OUTSIDE: CODES.status.outside, STOP: CODES.flags.stop, START: CODES.flags.start,
  HELD: CODES.held };

// For each event, the index of the previous event with the same id, or -1. Ids that are small
// non-negative integers (most traces') index an array; any others go through a Map.
export function previousEvents(ids) {
  const n = ids.length, prev = new Int32Array(n);
  let top = 0;
  for (let i = 0; i < n && top >= 0; i++) {
    const id = ids[i];
    top = id >= 0 && id <= 4 * n + 1024 && Number.isInteger(id) ? Math.max(top, id) : -1;
  }
  if (top >= 0) {
    const last = new Int32Array(top + 1).fill(-1);
    for (let i = 0; i < n; i++) { prev[i] = last[ids[i]]; last[ids[i]] = i; }
    return prev;
  }
  const last = new Map();
  for (let i = 0; i < n; i++) {
    prev[i] = last.get(ids[i]) ?? -1;
    last.set(ids[i], i);
  }
  return prev;
}

// The arrays of a chunk of k events at `base` in the module's memory (abi.c's layout), each view of one type
// at one site, so the loops over them stay monomorphic. Made again for every call: memory.grow detaches the
// old buffer.
function chunkViews(memory, base, k) {
  const at = (offset) => base + offset * k, buffer = memory.buffer;
  return {
    size: new Uint32Array(buffer, at(0), k), ref: new Int32Array(buffer, at(4), k),
    block: new Uint32Array(buffer, at(8), k), bsize: new Uint32Array(buffer, at(12), k),
    result: new Uint32Array(buffer, at(16), k), pages: new Uint32Array(buffer, at(20), k),
    resultsAndPages: new Uint32Array(buffer, at(16), 2 * k), live: new Int32Array(buffer, at(24), 2 * k),
    op: new Uint8Array(buffer, at(32), k), code: new Uint8Array(buffer, at(33), k),
    meta: new Uint8Array(buffer, at(34), k), status: new Uint8Array(buffer, at(35), k),
  };
}

function runInModule(heap, trace, out, { issue, fail, onProgress }) {
  const { ops, ids, sizes } = trace;
  const n = ops.length, e = heap.runs, memory = heap.memory;
  const prev = previousEvents(ids);
  const aligns = new Map(trace.aligns ?? []);
  const codes = new Uint8Array(n);        // each request's code byte (a free's is 0)
  for (let i = 0; i < n; i++) {
    if (ops[i] !== FREE && (sizes[i] > 0xffffffff || aligns.size)) {
      codes[i] = requestCode(heap, trace, sizes[i], ops[i] === ALLOC ? aligns.get(i) ?? 0 : 0);
    }
  }
  // each event's outputs, and at index n a zero block that an id's first event reads
  const block = new Uint32Array(n + 1), bsize = new Uint32Array(n + 1), meta = new Uint8Array(n + 1);
  const cap = e.pyfrag_run_capacity() >>> 0, base = e.pyfrag_run_events() >>> 0;
  let flags = RUN.START, end = n;
  for (let start = 0; start < n;) {
    const k = Math.min(cap, n - start);
    const v = chunkViews(memory, base, k);
    for (let j = 0; j < k; j++) {
      const i = start + j, p = prev[i], from = p < 0 ? n : p;
      v.ref[j] = p >= start ? p - start : -1;
      v.block[j] = block[from]; v.bsize[j] = bsize[from]; v.meta[j] = meta[from];
      v.size[j] = sizes[i] > 0xffffffff ? 0 : sizes[i];
    }
    v.op.set(ops.subarray(start, start + k));
    v.code.set(codes.subarray(start, start + k));
    v.resultsAndPages.fill(0);      // a page count still 0 marks the event a trap ended
    let done;
    try {
      done = e.pyfrag_run(k, flags) >>> 0;
    } catch (err) {
      if (!(err instanceof WebAssembly.RuntimeError || err instanceof ModuleError)) throw err;
      out.trap = { index: -1, op: "", message: err instanceof ModuleError ? err.message : `${err.name}: ${err.message}` };
    }
    flags = 0;
    const o = chunkViews(memory, base, k);
    if (out.trap) done = o.pages.indexOf(0);
    const ran = done + (out.trap ? 1 : 0);
    block.set(o.block.subarray(0, done), start);
    bsize.set(o.bsize.subarray(0, done), start);
    meta.set(o.meta.subarray(0, done), start);
    out.addresses.set(o.result.subarray(0, done), start);
    const last = memory.buffer.byteLength;
    for (let j = 0; j < ran; j++) {
      // an i64 in two halves: live bytes stay far below 2^53
      const i = start + j, st = o.status[j], live = (o.live[2 * j] >>> 0) + o.live[2 * j + 1] * 4294967296;
      const heapNow = j < done ? o.pages[j] * PAGE : last;
      out.live_bytes[i] = live;
      out.heap_bytes[i] = heapNow;
      if (!st) continue;
      const op = ops[i] === ALLOC ? "malloc" : "realloc";
      if (st & RUN.BAD_FREE) issue(i, ISSUE.free(ids[i]));
      if (st & RUN.LEAKED) issue(i, ISSUE.alloc(ids[i]));
      if (st & RUN.NOT_LIVE) issue(i, ISSUE.realloc(ids[i]));
      if (st & RUN.OUTSIDE) issue(i, ISSUE.outside(op, sizes[i], o.result[j], heapNow));
      if (st & RUN.FAILED) fail(i, op, sizes[i], live, heapNow, ops[i] === ALLOC ? aligns.get(i) ?? 0 : 0);
    }
    start += ran;
    onProgress?.(start, n);
    if (out.trap) {     // the call the trapped event was making (pyfrag/real/runner.py _call_of)
      const i = start - 1;
      out.trap.index = i;
      out.trap.op = ops[i] === FREE ? "free"
        : ops[i] === ALLOC ? (requestCode(heap, trace, sizes[i], aligns.get(i) ?? 0) ? "aligned_alloc" : "malloc")
          : o.status[ran - 1] & RUN.NOT_LIVE ? "malloc" : "realloc";
      if (ops[i] === REALLOC) {       // the loop keeps the block a trapped realloc was given
        const from = prev[i] < 0 ? n : prev[i];
        block[i] = block[from]; bsize[i] = bsize[from]; meta[i] = meta[from];
      }
    }
    if (out.trap || done < k) { end = start; break; }
  }
  if (out.final) {     // the blocks live at the end: those an id's last event left it holding
    const later = new Uint8Array(end + 1);
    for (let i = 0; i < end; i++) later[prev[i] < 0 ? end : prev[i]] = 1;
    for (let i = 0; i < end; i++) {
      if (!later[i] && meta[i] & RUN.HELD && block[i]) out.final.push([ids[i], block[i], bsize[i]]);
    }
  }
  return end;
}

const maximumBytes = (trace) => (trace.maximum_bytes && trace.maximum_bytes < WASM32_MAX ? trace.maximum_bytes : WASM32_MAX);

// The trace's memory limit in whole pages, or null when it is wasm32's own.
export function limitPages(trace) {
  const bytes = maximumBytes(trace);
  return bytes < WASM32_MAX ? Math.floor(bytes / PAGE) : null;
}

// Replays `trace` on a fresh instance of the module in `bytes`, its memory limited to the trace's ->
// {heap, result}: the instance the audit inspects (in the state after the last event), and replay()'s result.
// `compiled` caches the compiled module per limit.
// `trace.resets` (event indices) restarts the instance there, as pyfrag.strategies.reset_at does: each segment
// on a fresh instance that first gets the live blocks of the one before, allocated again packed in the order
// of their addresses; the result is stitched over the trace's own events (restoring shows only through the
// next event; a block that cannot be restored is a failure of op "restore" at the segment's first event).
export async function replayModule(bytes, trace, { log = () => {}, compiled = new Map(), onProgress = null,
  ...options } = {}) {
  const pages = limitPages(trace);
  if (!compiled.has(pages)) compiled.set(pages, compile(pages === null ? bytes : withMemoryLimit(bytes, pages)));
  const module = await compiled.get(pages);
  const n = trace.ops.length;
  const bounds = [0, ...[...new Set(trace.resets ?? [])].filter((p) => p > 0 && p < n).sort((a, b) => a - b), n];
  if (bounds.length === 2) {
    const heap = await instantiate(module, log, options.name);
    return { heap, result: replay(heap, trace, { onProgress, ...options }) };
  }
  const out = { addresses: new Float64Array(n), heap_bytes: new Float64Array(n), live_bytes: new Float64Array(n),
    failures: [], skipped: 0, issues: [], trap: null, resets: bounds.length - 2, restored: 0 };
  let heap = null, survivors = [], end = n;
  for (let s = 0; s + 1 < bounds.length; s++) {
    const [start, stop] = [bounds[s], bounds[s + 1]], restored = survivors.length;
    survivors.sort((a, b) => a[1] - b[1]);
    out.restored += survivors.reduce((sum, b) => sum + b[2], 0);
    const seg = {
      ...trace, resets: undefined,
      ops: Int8Array.from([...survivors.map(() => ALLOC), ...trace.ops.subarray(start, stop)]),
      ids: Float64Array.from([...survivors.map((b) => b[0]), ...trace.ids.subarray(start, stop)]),
      sizes: Float64Array.from([...survivors.map((b) => b[2]), ...trace.sizes.subarray(start, stop)]),
      aligns: (trace.aligns ?? []).filter(([i]) => i >= start && i < stop).map(([i, a]) => [i - start + restored, a]),
    };
    heap = await instantiate(module, log, options.name);
    const r = replay(heap, seg, { ...options, keepLive: true,
      onProgress: onProgress && ((done) => onProgress(start + Math.max(done - restored, 0), n)) });
    const at = (i) => start + Math.max(i - restored, 0);
    for (const key of ["addresses", "heap_bytes", "live_bytes"]) out[key].set(r[key].subarray(restored), start);
    if (s === 0) Object.assign(out, { heap_base: r.heap_base, initial_bytes: r.initial_bytes, maximum_bytes: r.maximum_bytes });
    out.failures.push(...r.failures.map((f) => ({ ...f, index: at(f.index), where: `event ${at(f.index)}`,
      op: f.index >= restored ? f.op : "restore" })));
    out.skipped += r.skipped;
    out.issues.push(...r.issues.map((x) => ({ ...x, index: at(x.index) })).slice(0, ISSUES_KEPT - out.issues.length));
    out.reported_live = r.reported_live;
    survivors = r.final;
    if (r.trap) {
      out.trap = { ...r.trap, index: at(r.trap.index) };
      end = at(r.heap_bytes.length - 1) + 1;
      break;
    }
  }
  for (const key of ["addresses", "heap_bytes", "live_bytes"]) out[key] = out[key].slice(0, end);
  return { heap, result: out };
}

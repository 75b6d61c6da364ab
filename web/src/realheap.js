// Real allocator modules: instantiate a .wasm with the malloc ABI and replay trace arrays on it.
// Pure JS (no DOM, no worker API) so real-worker.mjs runs it off the main thread and node tests run it as is.

import { failureKind } from "./failures.js";
import { ALLOC, FREE } from "./timeline.js";

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

const pick = (e, ...names) => names.map((n) => e[n]).find((f) => f !== undefined);

// What the page needs to know about a module before replaying on it.
export function describe(module) {
  const exports = WebAssembly.Module.exports(module).map((x) => x.name);
  const has = (...names) => names.some((n) => exports.includes(n));
  const missing = [];
  if (!has("memory")) missing.push("memory");
  if (!has("malloc", "_malloc")) missing.push("malloc (or _malloc)");
  if (!has("free", "_free")) missing.push("free (or _free)");
  if (missing.length) {
    throw new ModuleError(`the module does not export ${missing.join(", ")}; ` +
      `it exports: ${exports.join(", ") || "nothing"}`);
  }
  return {
    exports,
    imports: WebAssembly.Module.imports(module).map((i) => `${i.module}.${i.name}`),
    realloc: has("realloc", "_realloc"),
    liveExport: ["live_bytes", "get_live_data_size"].find((n) => exports.includes(n)) ?? null,
  };
}

// A fresh instance (every replay starts from the module's start state) with its ABI resolved.
export async function instantiate(module, log = () => {}) {
  describe(module);
  let memory = null;
  const instance = await WebAssembly.instantiate(module, importObject(module, () => memory, log));
  const e = instance.exports;
  memory = e.memory;
  if (e._initialize) e._initialize();
  const heapBase = e.__heap_base instanceof WebAssembly.Global ? Number(e.__heap_base.value) : null;
  return {
    instance, memory, heapBase,
    malloc: pick(e, "malloc", "_malloc"),
    free: pick(e, "free", "_free"),
    realloc: pick(e, "realloc", "_realloc"),
    alignedAlloc: pick(e, "aligned_alloc", "_aligned_alloc"),
    liveBytes: pick(e, "live_bytes", "get_live_data_size"),
  };
}

// Replays trace arrays ({ops, ids, sizes, aligns:[[i,a]...], maximum_bytes}) with the rules of pyfrag's
// replay loop and its wasmtime harness (pyfrag/replay.py, pyfrag/real.py), so the page's real column is what
// `pyfrag real` prints: free of an id that is not live is skipped; a free after a failed malloc is
// free(NULL); realloc of an id that is not live is a malloc; realloc(p, 0) returning NULL has freed p; alloc
// of a live id leaks the old block. Those trace issues are counted (`skipped`), the first few listed with
// their event (`issues`). A request the module answers with 0 is a failed request and the replay goes on; a
// trap in any call (AssemblyScript aborts when memory.grow fails) is never an OOM: the replay ends at that
// event, which `trap` names. Requests a wasm32 call cannot carry (a size past 2^32 - 1, an alignment the
// module has no aligned_alloc for, above `trace.malloc_alignment`) fail without a call. The trace's memory
// limit is the instance's own (see withMemoryLimit): past it memory.grow fails inside the module.
export function replay(heap, trace, { heapBase = 0, onProgress = null, chunk = 16384 } = {}) {
  const { ops, ids, sizes } = trace;
  const n = ops.length;
  const aligns = new Map(trace.aligns ?? []);
  const addresses = new Float64Array(n), heapBytes = new Float64Array(n), liveBytes = new Float64Array(n);
  const blocks = new Map(), held = new Map(), failed = new Set();
  const failures = [], issues = [];
  const { memory, malloc, free, realloc, alignedAlloc } = heap;
  const base = heap.heapBase ?? heapBase;
  const initialBytes = memory.buffer.byteLength;
  let live = 0, skipped = 0, end = n, trap = null;

  const issue = (i, message) => {
    skipped++;
    if (issues.length < ISSUES_KEPT) issues.push({ index: i, message });
  };
  // Free bytes are estimated as heap minus live: the allocator's free lists are inside the module. A request
  // aligned past what the module can serve was never asked: an unsupported request (failures.js).
  const fail = (i, op, size, align = null, unsupported = false) => {
    const heapNow = memory.buffer.byteLength, freeBytes = heapNow - base - live;
    failures.push({ index: i, op, size, kind: failureKind(size, freeBytes, unsupported), align,
      reason: unsupported ? `the module has no aligned_alloc, and its malloc aligns to ${mallocAlignment} bytes` : null,
      free_bytes: freeBytes, largest_free: null, heap_bytes: heapNow, where: `event ${i}` });
  };
  const mallocAlignment = trace.malloc_alignment ?? 8;
  class Trapped extends Error {}
  // a call into the module; a trap ends the replay at event i
  const call = (i, op, fn) => {
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof WebAssembly.RuntimeError || e instanceof ModuleError)) throw e;
      trap = { index: i, op, message: e instanceof ModuleError ? e.message : `${e.name}: ${e.message}` };
      throw new Trapped();
    }
  };
  // a malloc-like call: wasm32 sizes are u32, a larger one cannot be passed and fails uncalled
  const request = (i, op, fn, size) => (size > 0xffffffff ? 0 : call(i, op, fn) >>> 0);

  outer:
  for (let start = 0; start < n; start += chunk) {
    const stop = Math.min(n, start + chunk);
    for (let i = start; i < stop; i++) {
      const op = ops[i], id = ids[i], size = sizes[i];
      let p = 0;     // stays 0 for a free, a failure, or a call that trapped
      try {
        if (op === FREE) {
          const q = blocks.get(id);
          if (q !== undefined) {
            call(i, "free", () => free(q));
            blocks.delete(id); live -= held.get(id); held.delete(id);
          } else if (failed.has(id)) failed.delete(id);
          else issue(i, `invalid free of id ${id}: not live (never allocated, or already freed); skipped`);
        } else if (op === ALLOC) {
          if (blocks.has(id)) {
            live -= held.get(id);
            blocks.delete(id);
            issue(i, `alloc of id ${id}, which is still live (a free is missing); the old block is leaked`);
          }
          const align = aligns.get(i);
          // fails uncalled: an alignment a wasm32 call cannot carry, or one malloc alone cannot serve
          const unsupported = Boolean(align && !alignedAlloc && align > mallocAlignment && align <= 0xffffffff);
          if (align && (alignedAlloc ? align > 0x80000000 : align > mallocAlignment)) p = 0;
          else if (align && alignedAlloc) p = request(i, "aligned_alloc", () => alignedAlloc(align, size), size);
          else p = request(i, "malloc", () => malloc(size), size);
          if (p) { blocks.set(id, p); held.set(id, size); live += size; failed.delete(id); }
          else { failed.add(id); fail(i, "malloc", size, align ?? null, unsupported); }
        } else {
          const old = blocks.get(id);
          if (old === undefined) issue(i, `realloc of id ${id}, which is not live; treated as malloc`);
          p = old !== undefined ? request(i, "realloc", () => realloc(old, size), size)
            : request(i, "malloc", () => malloc(size), size);
          if (p) { blocks.set(id, p); live += size - (held.get(id) ?? 0); held.set(id, size); failed.delete(id); }
          else if (old !== undefined && !size) {
            blocks.delete(id); live -= held.get(id); held.delete(id); failed.add(id);
          } else fail(i, "realloc", size);
        }
      } catch (e) {
        if (!(e instanceof Trapped)) throw e;
      }
      addresses[i] = p;
      heapBytes[i] = memory.buffer.byteLength;
      liveBytes[i] = live;
      if (trap) {
        end = i + 1;        // the event that trapped is the run's last
        break outer;
      }
    }
    onProgress?.(stop, n);
  }
  return {
    addresses: addresses.slice(0, end), heap_bytes: heapBytes.slice(0, end), live_bytes: liveBytes.slice(0, end),
    failures, skipped, issues, trap, heap_base: base, initial_bytes: initialBytes,
    maximum_bytes: maximumBytes(trace),
    reported_live: heap.liveBytes && !trap ? Number(heap.liveBytes()) >>> 0 : null,
  };
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
export async function replayModule(bytes, trace, { log = () => {}, compiled = new Map(), ...options } = {}) {
  const pages = limitPages(trace);
  if (!compiled.has(pages)) compiled.set(pages, compile(pages === null ? bytes : withMemoryLimit(bytes, pages)));
  const heap = await instantiate(await compiled.get(pages), log);
  return { heap, result: replay(heap, trace, options) };
}

// Real allocator modules: instantiate a .wasm with the malloc ABI and replay trace arrays on it.
// Pure JS (no DOM, no worker API) so real-worker.mjs runs it off the main thread and node tests run it as is.

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

// Replays trace arrays ({ops, ids, sizes, aligns:[[i,a]...], maximum_bytes}) with the same rules as
// pyfrag's replay loop: free of an id that is not live is skipped; a free after a failed malloc is
// free(NULL); realloc of an id that is not live is a malloc; alloc of a live id leaks the old block. Those
// trace issues are counted (`skipped`), the first few listed with their event (`issues`). A trap stops the replay (the
// instance cannot be trusted after it). When the trace names a memory limit smaller than the module's,
// growing past it counts as the OOM it would be in that memory, and the replay stops there (the instance
// has grown past the limit by then: replayModule() gives one in the state at the OOM).
export function replay(heap, trace, { heapBase = 0, onProgress = null, chunk = 65536 } = {}) {
  const { ops, ids, sizes } = trace;
  const n = ops.length;
  const aligns = new Map(trace.aligns ?? []);
  const limit = trace.maximum_bytes && trace.maximum_bytes < WASM32_MAX ? trace.maximum_bytes : Infinity;
  const addresses = new Float64Array(n), heapBytes = new Float64Array(n), liveBytes = new Float64Array(n);
  const ptrs = new Map(), held = new Map(), failed = new Set();
  const failures = [], issues = [];
  const { memory, malloc, free, realloc, alignedAlloc } = heap;
  const base = heap.heapBase ?? heapBase;
  const initialBytes = memory.buffer.byteLength;
  let live = 0, skipped = 0, end = n;

  const issue = (i, message) => {
    skipped++;
    if (issues.length < ISSUES_KEPT) issues.push({ index: i, message });
  };
  const fail = (i, op, size, heapBefore, liveBefore, extra = {}) => {
    const freeBytes = heapBefore - base - liveBefore;
    failures.push({ index: i, op, size, kind: freeBytes >= size ? "fragmentation" : "true",
      free_bytes: freeBytes, largest_free: null, heap_bytes: heapBefore, where: `event ${i}`, ...extra });
  };

  outer:
  for (let start = 0; start < n; start += chunk) {
    const stop = Math.min(n, start + chunk);
    for (let i = start; i < stop; i++) {
      const op = ops[i], id = ids[i], size = sizes[i];
      const heapBefore = memory.buffer.byteLength, liveBefore = live;
      let p = 0;
      try {
        if (op === ALLOC) {
          if (ptrs.has(id)) {
            live -= held.get(id);
            ptrs.delete(id);
            issue(i, `alloc of id ${id}, which is still live (a free is missing); the old block is leaked`);
          }
          const align = aligns.get(i);
          p = (align && alignedAlloc ? alignedAlloc(align, size) : malloc(size)) >>> 0;
          if (p) { ptrs.set(id, p); held.set(id, size); live += size; failed.delete(id); }
          else { failed.add(id); fail(i, "malloc", size, heapBefore, liveBefore); }
        } else if (op === FREE) {
          const q = ptrs.get(id);
          if (q !== undefined) { free(q); ptrs.delete(id); live -= held.get(id); held.delete(id); }
          else if (failed.has(id)) failed.delete(id);
          else issue(i, `invalid free of id ${id}: not live (never allocated, or already freed); skipped`);
        } else {
          const old = ptrs.get(id);
          if (old === undefined) issue(i, `realloc of id ${id}, which is not live; treated as malloc`);
          p = (old !== undefined && realloc ? realloc(old, size) : malloc(size)) >>> 0;
          if (p && old !== undefined && !realloc) free(old);      // no realloc export: malloc + free
          if (p) { ptrs.set(id, p); live += size - (held.get(id) ?? 0); held.set(id, size); }
          else fail(i, "realloc", size, heapBefore, liveBefore);
        }
      } catch (e) {
        fail(i, op === FREE ? "free" : op === ALLOC ? "malloc" : "realloc", size, heapBefore, liveBefore,
          { trap: e instanceof ModuleError ? e.message : `${e.name}: ${e.message}` });
        end = i;
        break outer;
      }
      addresses[i] = p;
      const after = memory.buffer.byteLength;
      if (after > limit) {
        // in a memory of `limit` bytes this request fails: classify it with the live bytes from before it
        fail(i, op === ALLOC ? "malloc" : "realloc", size, heapBefore, liveBefore,
          { limit: `the module would grow its memory to ${after} bytes, past the trace's ${limit}-byte limit` });
        end = i;
        break outer;
      }
      heapBytes[i] = after;
      liveBytes[i] = live;
    }
    onProgress?.(stop, n);
  }
  return {
    addresses: addresses.slice(0, end), heap_bytes: heapBytes.slice(0, end), live_bytes: liveBytes.slice(0, end),
    failures, skipped, issues, heap_base: base, initial_bytes: initialBytes,
    maximum_bytes: Number.isFinite(limit) ? limit : WASM32_MAX,
    reported_live: heap.liveBytes ? Number(heap.liveBytes()) >>> 0 : null,
  };
}

// Replays `trace` on a fresh instance of `module` -> {heap, result}: the instance the audit inspects, and
// replay()'s result. A module's own memory maximum cannot be lowered from outside, so a replay stopped at
// the trace's limit leaves an instance grown past it; the events before the failed request then run
// again on another fresh instance (the allocator is deterministic), which holds exactly what the module
// holds after its memory.grow fails in a memory of that size.
export async function replayModule(module, trace, { log = () => {}, ...options } = {}) {
  let heap = await instantiate(module, log);
  const result = replay(heap, trace, options);
  if (result.failures.at(-1)?.limit) {
    const end = result.heap_bytes.length;
    heap = await instantiate(module, log);
    const before = replay(heap, { ...trace, ops: trace.ops.subarray(0, end), ids: trace.ids.subarray(0, end),
      sizes: trace.sizes.subarray(0, end) }, { heapBase: options.heapBase });
    result.reported_live = before.reported_live;
  }
  return { heap, result };
}

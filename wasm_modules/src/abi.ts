// The AssemblyScript module: the runtime's own memory manager behind pyfrag's
// ABI (malloc/free/realloc/live_bytes) and the replay inside the module
// (pyfrag_run). Built twice: --runtime incremental gives TLSF, --runtime stub
// gives the bump allocator. Only raw heap.* blocks are used (no managed
// objects), so the GC never runs and never moves anything. Main entry points:
// the exports below.
//
// live_bytes counts requested sizes: free and realloc take the block's size
// (and, for the ABI's sake, its alignment), which the host always knows, so
// the wrapper keeps no table of blocks and nothing here can fill. No
// aligned_alloc: the host sends only alignments malloc already gives.
// heap.alloc and heap.realloc abort (env.abort) rather than return 0.

let live: usize = 0;

export function malloc(n: usize): usize {
  let p = heap.alloc(n);
  live += n;
  return p;
}

export function free(p: usize, size: usize, align: usize): void {
  if (p == 0) return;
  heap.free(p);
  live -= size;
}

export function realloc(p: usize, n: usize, size: usize, align: usize): usize {
  if (p == 0) return malloc(n);
  live -= size;                 // forgotten first: an abort leaves it so
  let q = heap.realloc(p, n);
  live += n;
  return q;
}

export function live_bytes(): usize {
  return live;
}

// ---- the replay inside the module: src/abi.c has the arrays, the rules and the flags ----

const RUN_EVENT_BYTES: u32 = 36;
// The run's arrays, then the loop's live count, in static memory: the 512 KiB the old block
// table took, so the heap starts where it did.
const RUN_BYTES: u32 = 512 * 1024 - 8;
const RUN_EVENTS: u32 = RUN_BYTES / RUN_EVENT_BYTES;
const RUN: usize = memory.data(<i32>(RUN_BYTES + 8), 16);
const RUN_LIVE: usize = RUN + <usize>RUN_BYTES;
const RUN_FAILED: u8 = 1;
const RUN_BAD_FREE: u8 = 2;
const RUN_LEAKED: u8 = 4;
const RUN_NOT_LIVE: u8 = 8;
const RUN_OUTSIDE: u8 = 16;
const RUN_STOP: u32 = 1;
const RUN_START: u32 = 2;
const UNCALLED: u8 = 255;
const HELD: u8 = 1;

export function pyfrag_run_events(): usize {
  return RUN;
}

export function pyfrag_run_capacity(): u32 {
  return RUN_EVENTS;
}

export function pyfrag_run(count: u32, flags: u32): u32 {
  let n = <usize>count;
  if (flags & RUN_START) store<i64>(RUN_LIVE, 0);
  for (let i: usize = 0; i < n; i++) {
    let ref = load<i32>(RUN + 4 * n + (i << 2));
    let from = ref >= 0 ? <usize>ref : i;
    let size = load<u32>(RUN + (i << 2));
    let code = load<u8>(RUN + 33 * n + i);
    let p = load<u32>(RUN + 8 * n + (from << 2));
    let held = load<u32>(RUN + 12 * n + (from << 2));
    let m = load<u8>(RUN + 34 * n + from);
    let old: usize = m & HELD ? <usize>p : 0;
    let runLive = load<i64>(RUN_LIVE);
    let st: u8 = 0;
    let r: usize = 0;
    let op = load<u8>(RUN + 32 * n + i);
    if (op == 1) {
      st = m & HELD ? 0 : RUN_BAD_FREE;
      store<u8>(RUN + 35 * n + i, st);
      store<i64>(RUN + 24 * n + (i << 3), runLive);
      if (old) {
        free(old, held, 0);
        runLive -= held;
      }
      p = 0;
      held = 0;
      m = 0;
    } else if (op == 0) {
      if (old) {                   // still in live_bytes()
        st = RUN_LEAKED;
        runLive -= held;
      }
      store<u8>(RUN + 35 * n + i, st);
      store<i64>(RUN + 24 * n + (i << 3), runLive);
      if (code != UNCALLED) r = malloc(<usize>size);
      p = <u32>r;
      held = r ? size : 0;
      m = HELD;
      if (r) runLive += size;
      else st |= RUN_FAILED;
    } else {
      if (!old) st = RUN_NOT_LIVE;
      store<u8>(RUN + 35 * n + i, st);
      store<i64>(RUN + 24 * n + (i << 3), runLive);
      if (code != UNCALLED) r = old ? realloc(old, <usize>size, held, 0) : malloc(<usize>size);
      if (r) {
        runLive += <i64>size - (old ? <i64>held : 0);
        p = <u32>r;
        held = size;
        m = HELD;
      } else st |= RUN_FAILED;     // too big for wasm32: the block, if any, stays as it was
    }
    if (r && <u64>r + <u64>size > (<u64>memory.size() << 16)) st |= RUN_OUTSIDE;
    store<i64>(RUN_LIVE, runLive);
    store<u32>(RUN + 16 * n + (i << 2), <u32>r);
    store<u32>(RUN + 8 * n + (i << 2), p);
    store<u32>(RUN + 12 * n + (i << 2), held);
    store<u8>(RUN + 34 * n + i, m);
    store<i64>(RUN + 24 * n + (i << 3), runLive);
    store<u8>(RUN + 35 * n + i, st);
    store<u32>(RUN + 20 * n + (i << 2), <u32>memory.size());
    if ((flags & RUN_STOP) && (st & RUN_FAILED)) return <u32>i + 1;
  }
  return count;
}

export { __heap_base };

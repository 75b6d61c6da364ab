// The AssemblyScript module: the runtime's own memory manager behind pyfrag's
// ABI (malloc/free/realloc/live_bytes). Built twice: --runtime incremental
// gives TLSF, --runtime stub gives the bump allocator. Only raw heap.* blocks
// are used (no managed objects), so the GC never runs and never moves anything.
//
// free(ptr) does not say how many bytes were asked for, so the requested
// sizes are kept in a fixed table in static memory (below __heap_base), never
// in the measured heap: the allocator sees exactly the trace's sizes.

// 2^16 slots of (address, size), at most 3/4 full so probes stay short.
// Batched replays (pyfrag_replay, below) reuse the same memory for their events.
const BITS: u32 = 16;
const SLOTS: u32 = 1 << BITS;
const MASK: u32 = SLOTS - 1;
const MAX_LIVE: u32 = SLOTS / 4 * 3;
const TABLE: usize = memory.data(<i32>SLOTS * 8, 16);

let count: u32 = 0;
let live: usize = 0;
const BATCHED: u32 = 0xFFFFFFFF;   // count once batches have run: the table holds events then
const RUNNING: u32 = BATCHED - 1;  // count once pyfrag_run has run

// @ts-ignore: decorator
@inline function slotAt(i: u32): usize { return TABLE + (<usize>i << 3); }

// The table serves one way of driving the module: the first batch or run claims it (call-by-call
// use has left it empty, or it traps), and any other way traps from then on.
function driveBy(mode: u32): void {
  if (count == mode) return;
  if (count != 0) unreachable();
  count = mode;
}

function home(p: u32): u32 { return (p * 2654435761) >> (32 - BITS); }

function remember(p: usize, n: usize): void {
  if (count >= MAX_LIVE) unreachable();
  let i = home(<u32>p);
  while (load<u32>(slotAt(i)) != 0) i = (i + 1) & MASK;
  store<u32>(slotAt(i), <u32>p);
  store<u32>(slotAt(i), <u32>n, 4);
  count++;
  live += n;
}

function forget(p: usize): bool {
  if (count >= RUNNING) unreachable();
  let i = home(<u32>p);
  while (load<u32>(slotAt(i)) != <u32>p) {
    if (load<u32>(slotAt(i)) == 0) return false;
    i = (i + 1) & MASK;
  }
  live -= load<u32>(slotAt(i), 4);
  count--;
  // Backward-shift deletion (Knuth's algorithm R): no tombstones.
  let j = i;
  while (true) {
    j = (j + 1) & MASK;
    let q = load<u32>(slotAt(j));
    if (q == 0) break;
    let h = home(q);
    if (i <= j ? (h <= i || h > j) : (h <= i && h > j)) {
      store<u64>(slotAt(i), load<u64>(slotAt(j)));
      i = j;
    }
  }
  store<u32>(slotAt(i), 0);
  return true;
}

export function malloc(n: usize): usize {
  let p = heap.alloc(n);          // aborts (env.abort) rather than return 0
  remember(p, n);
  return p;
}

export function free(p: usize): void {
  if (p == 0 || !forget(p)) return;
  heap.free(p);
}

export function realloc(p: usize, n: usize): usize {
  if (p == 0) return malloc(n);
  if (!forget(p)) return 0;
  let q = heap.realloc(p, n);
  remember(q, n);
  return q;
}

export function live_bytes(): usize {
  return live;
}

// ---- by batches: the host keeps ids and sizes (see src/abi.c for the layout) ----
// heap.alloc and heap.realloc abort when memory runs out: the host then reads how far the batch got.
// No aligned_alloc here: the host sends only alignments malloc already gives.

const WORDS: u32 = 8;
const EVENTS: u32 = SLOTS * 8 / (WORDS * 4);   // the table's memory, reused
const REF: u32 = 0x100;

export function pyfrag_events(): usize {
  return TABLE;
}

export function pyfrag_capacity(): u32 {
  return EVENTS;
}

export function pyfrag_replay(from: u32, to: u32): u32 {
  driveBy(BATCHED);
  for (let i = from; i < to; i++) {
    let e = TABLE + (<usize>(i * WORDS) << 2);
    let op = load<u32>(e);
    if (op & REF) {
      let made = TABLE + (<usize>(load<u32>(e, 4) * WORDS) << 2);
      store<u32>(e, load<u32>(made, 28), 12);
      store<u32>(e, load<u32>(made, 20), 4);
      op &= 0xff;
      store<u32>(e, op);
    }
    let p = <usize>load<u32>(e, 4);
    let size = <usize>load<u32>(e, 8);
    let r: usize = 0;
    switch (op & 0xff) {
      case 0:
      case 3: {
        r = heap.alloc(size);
        live += size;
        break;
      }
      case 1: {
        if (p) {
          live -= load<u32>(e, 12);
          heap.free(p);
        }
        size = 0;
        break;
      }
      case 2: {
        if (p) {
          live -= load<u32>(e, 12);   // forgotten first, as the call-by-call realloc does
          r = heap.realloc(p, size);
        } else r = heap.alloc(size);
        live += size;
        break;
      }
    }
    store<u32>(e, <u32>r, 16);
    store<u32>(e, <u32>r, 20);
    store<u32>(e, <u32>memory.size(), 24);
    store<u32>(e, r ? <u32>size : 0, 28);
  }
  return to;
}

// ---- the whole replay inside the module: ids kept here (src/abi.c has the layout and the rules) ----
// heap.alloc and heap.realloc abort when memory runs out: the host then replays another way.

const RUN_EVENTS: u32 = 3072;
const RUN_BITS: u32 = 15;
const RUN_SLOTS: u32 = 1 << RUN_BITS;
const RUN_MASK: u32 = RUN_SLOTS - 1;
const RUN_MAX_IDS: u32 = RUN_SLOTS / 4 * 3;
const RUN_EVENT_BYTES: u32 = 35;   // i64 id, size, live; u32 result, pages; u8 op, align, status
const RUN_FAILED: u8 = 1;
const RUN_BAD_FREE: u8 = 2;
const RUN_LEAKED: u8 = 4;
const RUN_NOT_LIVE: u8 = 8;
const UNCALLED: u8 = 255;
// after the events (TABLE is 16-aligned): the (id + 1, address, size) slots, then the ids in the
// table and the bytes of leaked blocks; 500,744 bytes of the table's 524,288
const RUN_TABLE: usize = TABLE + <usize>(RUN_EVENTS * RUN_EVENT_BYTES);
const RUN_STATE: usize = RUN_TABLE + <usize>(RUN_SLOTS * 12);
const N: usize = <usize>RUN_EVENTS;

// @ts-ignore: decorator
@inline function runSlot(i: u32): usize { return RUN_TABLE + <usize>i * 12; }

function runHome(k: u32): u32 { return (k * 2654435761) >> (32 - RUN_BITS); }

// The slot of `key`, or the empty one it would take.
function runFind(key: u32): u32 {
  let i = runHome(key);
  while (true) {
    let k = load<u32>(runSlot(i));
    if (k == 0 || k == key) return i;
    i = (i + 1) & RUN_MASK;
  }
}

// Backward-shift deletion, as forget().
function runForget(slot: u32): void {
  let i = slot, j = slot;
  while (true) {
    j = (j + 1) & RUN_MASK;
    let k = load<u32>(runSlot(j));
    if (k == 0) break;
    let h = runHome(k);
    if (i <= j ? (h <= i || h > j) : (h <= i && h > j)) {
      store<u64>(runSlot(i), load<u64>(runSlot(j)));
      store<u32>(runSlot(i), load<u32>(runSlot(j), 8), 8);
      i = j;
    }
  }
  store<u32>(runSlot(i), 0);
  store<u32>(RUN_STATE, load<u32>(RUN_STATE) - 1);
}

export function pyfrag_run_events(): usize {
  return TABLE;
}

export function pyfrag_run_capacity(): u32 {
  return RUN_EVENTS;
}

export function pyfrag_run(from: u32, to: u32): u32 {
  driveBy(RUNNING);
  for (let i = from; i < to; i++) {
    let at = <usize>i;
    let key = <u32>load<u64>(TABLE + (at << 3)) + 1;
    let size = load<u64>(TABLE + ((N + at) << 3));
    let op = load<u8>(TABLE + 32 * N + at);
    let k = runFind(key);
    let s = runSlot(k);
    let found = load<u32>(s) != 0;
    let old: usize = found ? <usize>load<u32>(s, 4) : 0;
    if (!found && op != 1 && load<u32>(RUN_STATE) >= RUN_MAX_IDS) return i;
    let st: u8 = 0;
    let r: usize = 0;
    if (op == 1) {
      if (!found) st = RUN_BAD_FREE;
      else {
        if (old) {
          live -= load<u32>(s, 8);
          heap.free(old);
        }
        runForget(k);
      }
    } else if (op == 0) {
      if (old) {   // the old block stays allocated, and in live_bytes()
        st = RUN_LEAKED;
        store<u32>(RUN_STATE, load<u32>(RUN_STATE, 4) + load<u32>(s, 8), 4);
      }
      if (size <= 0xFFFFFFFF && load<u8>(TABLE + 33 * N + at) != UNCALLED) {
        r = heap.alloc(<usize>size);
        live += <usize>size;
      }
      if (!found) {
        store<u32>(s, key);
        store<u32>(RUN_STATE, load<u32>(RUN_STATE) + 1);
      }
      store<u32>(s, <u32>r, 4);
      store<u32>(s, r ? <u32>size : 0, 8);
      if (!r) st |= RUN_FAILED;
    } else {
      if (!old) st = RUN_NOT_LIVE;
      if (size <= 0xFFFFFFFF) {
        if (old) {
          live -= load<u32>(s, 8);   // forgotten first, as the call-by-call realloc does
          r = heap.realloc(old, <usize>size);
        } else r = heap.alloc(<usize>size);
        live += <usize>size;
        if (!found) {
          store<u32>(s, key);
          store<u32>(RUN_STATE, load<u32>(RUN_STATE) + 1);
        }
        store<u32>(s, <u32>r, 4);
        store<u32>(s, <u32>size, 8);
      } else st |= RUN_FAILED;       // too big for wasm32: the block, if any, stays as it was
    }
    store<i64>(TABLE + ((2 * N + at) << 3), <i64>(live - <usize>load<u32>(RUN_STATE, 4)));
    store<u32>(TABLE + 24 * N + (at << 2), <u32>r);
    store<u32>(TABLE + 28 * N + (at << 2), <u32>memory.size());
    store<u8>(TABLE + 34 * N + at, st);
  }
  return to;
}

export { __heap_base };

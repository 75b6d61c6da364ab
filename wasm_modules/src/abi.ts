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

// @ts-ignore: decorator
@inline function slotAt(i: u32): usize { return TABLE + (<usize>i << 3); }

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
  if (count == BATCHED) unreachable();
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
  if (count != BATCHED) {
    if (count != 0) unreachable();   // blocks from call-by-call use are in the table
    count = BATCHED;
  }
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

export { __heap_base };

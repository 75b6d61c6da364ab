// The AssemblyScript module: the runtime's own memory manager behind pyfrag's
// ABI (malloc/free/realloc/live_bytes). Built twice: --runtime incremental
// gives TLSF, --runtime stub gives the bump allocator. Only raw heap.* blocks
// are used (no managed objects), so the GC never runs and never moves anything.
//
// free(ptr) does not say how many bytes were asked for, so the requested
// sizes are kept in a fixed table in static memory (below __heap_base), never
// in the measured heap: the allocator sees exactly the trace's sizes.

// 2^16 slots of (address, size), at most 3/4 full so probes stay short.
const BITS: u32 = 16;
const SLOTS: u32 = 1 << BITS;
const MASK: u32 = SLOTS - 1;
const MAX_LIVE: u32 = SLOTS / 4 * 3;
const TABLE: usize = memory.data(<i32>SLOTS * 8, 16);

let count: u32 = 0;
let live: usize = 0;

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

export { __heap_base };

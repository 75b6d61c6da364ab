// What a failed request was, in the words of pyfrag/replay.py (its KINDS and `named`): one table and one rule
// for every view of the page. Entry points: failureKind (the real side's own verdict, where the model does not
// stand in for it: timeline.js adoptVerdicts), failureLabel and failureText.

export const KINDS = {
  fragmentation: "fragmentation OOM",     // enough free bytes, none of them contiguous
  true: "true OOM",                        // not enough free bytes, and memory cannot grow
  unsupported: "unsupported request",      // a request the allocator never serves (an alignment): no OOM
  exhausted: "memory exhausted",           // an allocator that never reuses freed memory ran out
};

// The kind of a request the module answered with 0: `unsupported` when it could not even be asked (an
// alignment it has no aligned_alloc for), else heap − live against the size, an estimate (the module's free
// blocks are out of sight): enough of it is a fragmentation OOM, or memory exhausted for an allocator that
// never reuses freed memory (`reusesFreed` false: what is not live was freed, never to be handed out again).
export const failureKind = (size, freeBytes, unsupported = false, reusesFreed = true) =>
  unsupported ? "unsupported" : freeBytes < size ? "true" : reusesFreed ? "fragmentation" : "exhausted";

export const failureLabel = (kind) => KINDS[kind] ?? `${kind} failure`;

// "unsupported request at event 1: malloc(50137, align 256): <why>", sizes through `bytes`
export function failureText(f, { bytes, count }) {
  const request = `${f.op}(${bytes(f.size)}${f.align ? `, align ${f.align}` : ""})`;
  return `${failureLabel(f.kind)} at event ${count(f.index)}: ${request}${f.reason ? `: ${f.reason}` : ""}`;
}

// What a failed request was, in the words of pyfrag/rules.json and by the rule of pyfrag/replay.py (`named`): one
// table and one rule for every view of the page. Entry points: failureKind (the real side's own verdict, where
// the model does not stand in for it: timeline.js adoptVerdicts), failureLabel and failureText.

import { KINDS } from "./rules.js";

export { KINDS };

// The kind of a failed request, by the rule of pyfrag/replay.py (`_nature`): `unsupported` when it could not
// even be asked (an alignment the module has no aligned_alloc for); memory exhausted for an allocator that
// never reuses freed memory (`reusesFreed` false) when the bytes not live (free, freed or overhead) would
// have held it; else free bytes against the size: enough of them is a fragmentation OOM. On the real side free
// bytes are an estimate (the module's free blocks are out of sight): heap − live, less the `overhead` known.
export const failureKind = (size, freeBytes, unsupported = false, reusesFreed = true, overhead = 0) =>
  unsupported ? "unsupported" : !reusesFreed && freeBytes + overhead >= size ? "exhausted"
    : freeBytes >= size ? "fragmentation" : "true";

export const failureLabel = (kind) => KINDS[kind] ?? `${kind} failure`;

// "unsupported request at event 1: malloc(50137, align 256): <why>", sizes through `bytes`
export function failureText(f, { bytes, count }) {
  const request = `${f.op}(${bytes(f.size)}${f.align ? `, align ${f.align}` : ""})`;
  return `${failureLabel(f.kind)} at event ${count(f.index)}: ${request}${f.reason ? `: ${f.reason}` : ""}`;
}

"""Why the heap grew: for every event at which memory grew, the request, what lay free then, and
whether the allocator had a choice.

Main entry point: `grow_causes(run, spans_at=None) -> list[Grow]`, which `Run.grows` gives.

A grow is *forced* when no stretch of memory free of live data could hold the request: even an
allocator that never wasted a byte would have had to grow. It is *policy* when one could, and the
allocator's design did not use it: a size class with no block free, a 4 MiB segment, a bump
pointer that never goes back, cells its free-list walk lost. Stretches free of live data are
measured between the live blocks' requested bytes, from the run's own addresses (a real module's
as much as a model's). The allocator's own free blocks, where `spans_at` gives them (its model's
spans before each grow, from pyfrag.replay's `pause`: pyfrag.explain), are reported beside them.
"""

from dataclasses import dataclass
from operator import sub

from .metrics import grow_indices
from .trace import ALLOC, FREE

FORCED, POLICY = "forced", "policy"


@dataclass(frozen=True, slots=True)
class Grow:
    index: int
    where: str
    op: str                 # "malloc" or "realloc"
    size: int
    align: int
    heap_before: int        # memory.buffer.byteLength before the event
    heap_after: int
    largest_gap: int        # the longest stretch free of live data before the event
    cause: str              # FORCED or POLICY
    free_bytes: int | None = None      # in the allocator's free blocks before the event
    largest_free: int | None = None    # the largest of them (None: not looked at)

    def describe(self):
        align = f", align {self.align}" if self.align else ""
        free = "" if self.free_bytes is None else \
            f", largest free block {self.largest_free} of {self.free_bytes} free"
        return (f"{self.where}: {self.op}({self.size}{align}) grew memory from "
                f"{self.heap_before} to {self.heap_after} bytes, {self.cause}: "
                f"{self.largest_gap} bytes free of live data in one stretch{free}")


def grow_causes(run, spans_at=None):
    """Every grow event of `run`, with its cause. `spans_at(points) -> {i: spans}`, where given,
    gives the allocator's spans before each event in `points`."""
    trace = run.trace
    points = grow_indices(run)
    spans = spans_at(points) if points and spans_at is not None else {}
    gaps = _largest_gaps(trace, run, points)
    out = []
    for i in points:
        op = trace.ops[i]
        if op == FREE:               # a free never grows memory: a model that did is wrong
            raise AssertionError(f"{trace.where(i)}: memory grew at a free")
        holes = [length for _, length, used in spans[i] if not used] if i in spans else None
        size = trace.sizes[i]
        out.append(Grow(i, trace.where(i), "malloc" if op == ALLOC else "realloc", size,
                        trace.aligns.get(i, 0) if op == ALLOC else 0,
                        run.heap_bytes[i - 1] if i else run.initial_bytes, run.heap_bytes[i],
                        gaps[i], POLICY if gaps[i] >= size else FORCED,
                        sum(holes) if holes is not None else None,
                        max(holes, default=0) if holes is not None else None))
    return out


def totals(grows):
    """(forced, policy) counts."""
    forced = sum(g.cause == FORCED for g in grows)
    return forced, len(grows) - forced


def _largest_gaps(trace, run, points):
    """{i: the longest stretch of [heap base, end of memory) holding no live block's requested
    bytes, before event i}, for i in `points`. One sweep over the run: the live blocks' starts
    are sorted again at each point from the last point's (two sorted runs: a merge)."""
    out, wanted = {}, set(points)
    ends = {}                    # address -> end of the live block's requested bytes
    held = {}                    # id -> address
    starts, changed = [], {}     # sorted starts at the last point; address -> +1 added / -1 gone
    addresses, heap = run.addresses, run.heap_bytes
    for i, (op, id, size) in enumerate(zip(trace.ops, trace.ids, trace.sizes)):
        if i in wanted:
            gone = {a for a, c in changed.items() if c < 0}
            starts = [a for a in starts if a not in gone] if gone else starts
            starts += [a for a, c in changed.items() if c > 0]
            starts.sort()
            changed.clear()
            top = heap[i - 1] if i else run.initial_bytes
            lows = [run.heap_base] + [ends[a] for a in starts]
            highs = starts + [top]
            out[i] = max(map(sub, highs, lows), default=0)
            if len(out) == len(wanted):
                break
        if i >= run.events:
            break
        if op == FREE:
            a = held.pop(id, None)
            if a is not None:
                del ends[a]
                changed[a] = changed.get(a, 0) - 1
            continue
        p = addresses[i]
        if op != ALLOC and p and id in held:            # a realloc that moved or resized it
            a = held.pop(id)
            del ends[a]
            changed[a] = changed.get(a, 0) - 1
        elif op != ALLOC and not p and not size and id in held:   # realloc(p, 0) freed it
            a = held.pop(id)
            del ends[a]
            changed[a] = changed.get(a, 0) - 1
        if p:
            held[id] = p                  # an alloc of a held id leaks the old block: it stays
            ends[p] = p + size
            changed[p] = changed.get(p, 0) + 1
    return out

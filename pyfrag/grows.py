"""Why the heap grew: for every event at which memory grew, the request, what lay free then, and
whether the allocator had a choice.

Main entry point: `grow_causes(run, spans_at=None, budget=None) -> list[Grow]`; `Run.grows`
gives it within SUMMARY_BUDGET.

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
# Steps (live blocks sorted at grow events) a summary may spend classing grows: a run's summary
# stays about as quick as its replay; pyfrag explain classes them all.
SUMMARY_BUDGET = 3_000_000


@dataclass(frozen=True, slots=True)
class Grow:
    index: int
    where: str
    op: str                 # "malloc" or "realloc"
    size: int
    align: int
    heap_before: int        # memory.buffer.byteLength before the event
    heap_after: int
    largest_gap: int | None  # the longest stretch free of live data before the event
    cause: str | None       # FORCED or POLICY (None: not classed, past a summary's budget)
    free_bytes: int | None = None      # in the allocator's free blocks before the event
    largest_free: int | None = None    # the largest of them (None: not looked at)

    def describe(self):
        align = f", align {self.align}" if self.align else ""
        free = "" if self.free_bytes is None else \
            f", largest free block {self.largest_free} of {self.free_bytes} free"
        return (f"{self.where}: {self.op}({self.size}{align}) grew memory from "
                f"{self.heap_before} to {self.heap_after} bytes, {self.cause}: "
                f"{self.largest_gap} bytes free of live data in one stretch{free}")


def grow_causes(run, spans_at=None, budget=None):
    """Every grow event of `run`, with its cause (None past `budget`: see _largest_gaps).
    `spans_at(points) -> {i: spans}`, where given, gives the allocator's spans before each
    event in `points`."""
    trace = run.trace
    points = grow_indices(run)
    spans = spans_at(points) if points and spans_at is not None else {}
    gaps = _largest_gaps(trace, run, points, budget)
    out = []
    for i in points:
        op = trace.ops[i]
        if op == FREE:               # a free never grows memory: a model that did is wrong
            raise AssertionError(f"{trace.where(i)}: memory grew at a free")
        holes = [length for _, length, used in spans[i] if not used] if i in spans else None
        size, gap = trace.sizes[i], gaps.get(i)
        out.append(Grow(i, trace.where(i), "malloc" if op == ALLOC else "realloc", size,
                        trace.aligns.get(i, 0) if op == ALLOC else 0,
                        run.heap_bytes[i - 1] if i else run.initial_bytes, run.heap_bytes[i],
                        gap, None if gap is None else POLICY if gap >= size else FORCED,
                        sum(holes) if holes is not None else None,
                        max(holes, default=0) if holes is not None else None))
    return out


def totals(grows):
    """(forced, policy, not classed) counts."""
    forced = sum(g.cause == FORCED for g in grows)
    policy = sum(g.cause == POLICY for g in grows)
    return forced, policy, len(grows) - forced - policy


def _largest_gaps(trace, run, points, budget=None):
    """{i: the longest stretch of [heap base, end of memory) holding no live block's requested
    bytes, before event i}, for i in `points`: one sweep over the run, the live blocks sorted at
    each point. That costs as many steps as blocks are live there, so with a `budget` the points
    past it (counted in those steps) are left out: a summary of a big run stays quick."""
    out, wanted = {}, set(points)
    ends = {}                    # address -> end of the live block's requested bytes
    held = {}                    # id -> address
    addresses, heap = run.addresses, run.heap_bytes
    for i, (op, id, size) in enumerate(zip(trace.ops, trace.ids, trace.sizes)):
        if i in wanted:
            if budget is not None:
                budget -= len(ends)
                if budget < 0:
                    break
            starts = sorted(ends)
            lows = [run.heap_base, *map(ends.__getitem__, starts)]
            starts.append(heap[i - 1] if i else run.initial_bytes)
            out[i] = max(map(sub, starts, lows))
            if len(out) == len(wanted):
                break
        if i >= run.events:
            break
        if op == FREE:
            a = held.pop(id, None)
            if a is not None:
                del ends[a]
            continue
        p = addresses[i]
        # a realloc that moved or resized the block, or realloc(p, 0) that freed it
        if op != ALLOC and id in held and (p or not size):
            del ends[held.pop(id)]
        if p:
            held[id] = p                  # an alloc of a held id leaks the old block: it stays
            ends[p] = p + size
    return out

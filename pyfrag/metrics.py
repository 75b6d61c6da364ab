"""Summary numbers for a heap or a replayed run.

Main entry points: `run_metrics(run)` and `heap_metrics(heap)`, both giving a
`Metrics`. Definitions (the article's where it has one):

    utilization             live bytes / heap bytes (heap = memory.buffer.byteLength)
    wasted_bytes            heap bytes - live bytes ("Wasted (Fragmented)")
    total_free              free bytes inside the heap, per the allocator's spans
    largest_free_block      the biggest single free span
    external_fragmentation  1 - largest free / total free (0 = one hole, -> 1 = dust)
    free_histogram          free spans by size class: {2**k: count of sizes in [2**k, 2**(k+1))}
    overhead_bytes          heap - heap base - live - total free: headers, padding, lost
                            cells, pages the allocator never uses (not free: it cannot
                            hand them out)
    discardable_bytes       whole pages inside free spans at the end: what a memory.discard-
                            aware allocator could give back to the OS
    resident_bytes          heap bytes - discardable bytes: what stays resident once they are
                            discarded (the address space, memory.buffer.byteLength, does not
                            shrink: discard zeroes pages, it cannot unmap them)
    peak_resident_bytes     the most resident over the run: with discard "on-free" (every
                            whole free page discarded as it appears) the largest heap minus
                            discardable at the run's samples; with "at-end" the peak heap
    ideal_bytes             heap base + peak live bytes, in whole pages: the heap an allocator
                            that never wasted a byte would have needed
    times_ideal             peak heap / ideal_bytes

Span-based numbers are None for a real module, whose free spans cannot be seen
(unless its model ran in step with it: see pyfrag.real.beside).
"""

from dataclasses import dataclass

from .memory import PAGE
from .steps import Steps

ON_FREE, AT_END = "on-free", "at-end"        # when whole free pages are discarded
DISCARD_MODES = (AT_END, ON_FREE)


@dataclass(frozen=True)
class Metrics:
    events: int | None        # None for a Heap used by hand: it replays no trace
    heap_bytes: int
    live_bytes: int
    peak_heap_bytes: int
    peak_live_bytes: int
    utilization: float
    wasted_bytes: int
    grow_events: int
    grow_calls: int | None
    total_free: int | None
    largest_free_block: int | None
    external_fragmentation: float | None
    free_blocks: int | None
    free_histogram: dict | None
    failures: int
    oom_kind: str | None
    oom_index: int | None
    overhead_bytes: int | None = None
    discard: str = AT_END
    discardable_bytes: int | None = None
    resident_bytes: int | None = None
    peak_resident_bytes: int | None = None
    ideal_bytes: int | None = None

    @property
    def times_ideal(self):
        return self.peak_heap_bytes / self.ideal_bytes if self.ideal_bytes else None

    def as_dict(self):
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def span_metrics(spans):
    """(total free, largest free, external fragmentation, free block count, histogram)."""
    holes = [length for _, length, used in spans if not used]
    total = sum(holes)
    largest = max(holes, default=0)
    histogram = {}
    for length in holes:
        bucket = 1 << (length.bit_length() - 1)
        histogram[bucket] = histogram.get(bucket, 0) + 1
    frag = 1 - largest / total if total else 0.0
    return total, largest, frag, len(holes), dict(sorted(histogram.items()))


def discardable_bytes(spans):
    """Bytes of the whole pages that lie inside free spans."""
    out = 0
    for start, length, used in spans:
        if not used:
            out += max(0, (start + length) // PAGE - -(-start // PAGE)) * PAGE
    return out


def _build(events, heap, live, peak_heap, peak_live, grow_events, grow_calls, spans,
           failures, heap_base, discard=AT_END, samples=None):
    if spans is None:
        total = largest = frag = count = histogram = None
        overhead = discardable = resident = peak_resident = None
    else:
        total, largest, frag, count, histogram = span_metrics(spans)
        overhead = heap - heap_base - live - total
        discardable = discardable_bytes(spans)
        resident = heap - discardable
        if discard == AT_END:
            peak_resident = peak_heap
        elif samples is not None:
            # flat (event, heap bytes, discardable bytes) triples
            peak_resident = max([samples[k + 1] - samples[k + 2]
                                 for k in range(0, len(samples), 3)] + [resident])
        else:
            peak_resident = None
    first = failures[0] if failures else None
    return Metrics(
        events=events, heap_bytes=heap, live_bytes=live,
        peak_heap_bytes=peak_heap, peak_live_bytes=peak_live,
        utilization=live / heap if heap else 0.0, wasted_bytes=heap - live,
        grow_events=grow_events, grow_calls=grow_calls,
        total_free=total, largest_free_block=largest, external_fragmentation=frag,
        free_blocks=count, free_histogram=histogram, failures=len(failures),
        oom_kind=first.kind if first else None, oom_index=first.index if first else None,
        overhead_bytes=overhead, discard=discard, discardable_bytes=discardable,
        resident_bytes=resident, peak_resident_bytes=peak_resident,
        ideal_bytes=-(-(heap_base + peak_live) // PAGE) * PAGE)


def grow_indices(run):
    """Event indices at which the memory grew (a reset's fresh instance starts smaller: not a
    grow, but the next one counts from there)."""
    if isinstance(run.heap_bytes, Steps):
        return run.heap_bytes.changes(run.initial_bytes)
    out, before = [], run.initial_bytes
    for i, b in enumerate(run.heap_bytes):
        if b > before:
            out.append(i)
        before = b
    return out


def run_metrics(run):
    heap = run.heap_bytes[-1] if run.events else run.initial_bytes
    live = run.live_bytes[-1] if run.events else 0
    return _build(run.events, heap, live,
                  max(run.heap_bytes, default=run.initial_bytes),
                  max(run.live_bytes, default=0),
                  len(grow_indices(run)), run.grow_calls, run.spans, run.failures,
                  run.heap_base, run.discard, run.discard_samples)


def heap_metrics(heap):
    mem = heap.memory
    return _build(None, mem.pages * PAGE, heap.live_bytes, mem.pages * PAGE, heap.peak_live,
                  0, mem.grow_calls, heap.spans(), [], heap.allocator.heap_base)

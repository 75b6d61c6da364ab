"""Summary numbers for a heap or a replayed run.

Main entry points: `run_metrics(run)` and `heap_metrics(heap)`, both giving a
`Metrics`. Definitions (the article's where it has one):

    utilization             live bytes / heap bytes (heap = memory.buffer.byteLength)
    wasted_bytes            heap bytes - live bytes ("Wasted (Fragmented)")
    total_free              free bytes inside the heap, per the allocator's spans
    largest_free_block      the biggest single free span
    external_fragmentation  1 - largest free / total free (0 = one hole, -> 1 = dust)
    free_histogram          free spans by size class: {2**k: count of sizes in [2**k, 2**(k+1))}

Span-based numbers are None for a real module, whose free spans cannot be seen.
"""

from dataclasses import dataclass

from .memory import PAGE


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


def _build(events, heap, live, peak_heap, peak_live, grow_events, grow_calls, spans,
           failures):
    if spans is None:
        total = largest = frag = count = histogram = None
    else:
        total, largest, frag, count, histogram = span_metrics(spans)
    first = failures[0] if failures else None
    return Metrics(
        events=events, heap_bytes=heap, live_bytes=live,
        peak_heap_bytes=peak_heap, peak_live_bytes=peak_live,
        utilization=live / heap if heap else 0.0, wasted_bytes=heap - live,
        grow_events=grow_events, grow_calls=grow_calls,
        total_free=total, largest_free_block=largest, external_fragmentation=frag,
        free_blocks=count, free_histogram=histogram, failures=len(failures),
        oom_kind=first.kind if first else None, oom_index=first.index if first else None)


def grow_indices(run):
    """Event indices at which the memory grew."""
    out, before = [], run.initial_bytes
    for i, b in enumerate(run.heap_bytes):
        if b != before:
            out.append(i)
            before = b
    return out


def run_metrics(run):
    heap = run.heap_bytes[-1] if run.events else run.initial_bytes
    live = run.live_bytes[-1] if run.events else 0
    return _build(run.events, heap, live,
                  max(run.heap_bytes, default=run.initial_bytes),
                  max(run.live_bytes, default=0),
                  len(grow_indices(run)), run.grow_calls, run.spans, run.failures)


def heap_metrics(heap):
    mem = heap.memory
    return _build(None, mem.pages * PAGE, heap.live_bytes, mem.pages * PAGE, heap.peak_live,
                  0, mem.grow_calls, heap.spans(), [])

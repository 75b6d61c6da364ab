"""Strategies that act on the whole module rather than inside one allocator.

Main entry points: `periodic_reset(trace, allocator, every)`, the article's
"reset pattern": every `every` events, serialize the live state, throw the
instance away, start a fresh one and allocate the live blocks again, packed
(a manual compaction); and `reset_at(trace, points, replay_segment)`, the same
at chosen events, on a model or on a real module. The heap's byte length drops
back at each reset, which no allocator can do inside one instance.

The in-allocator strategies (arena, pool, hot/cold split) are allocator models:
see `pyfrag.allocators` ("arena:first-fit", "pool:dlmalloc", ...).
"""

from array import array
from dataclasses import replace as _with

from .replay import MASK, SHIFT, InvariantBroken, Run, replay
from .trace import Trace


def periodic_reset(trace, allocator="dlmalloc", every=10_000, **heap_options):
    """Replay `trace` restarting the instance every `every` events; one stitched `Run`.

    Restoring the live blocks into the fresh instance happens between two trace
    events, so it shows in the timeline only through the next event's sizes;
    a block that cannot be restored is a failure at the first event after the
    reset (op "restore"). heap_options go to `replay` (its `check` too).

    >>> from pyfrag import scenarios
    >>> run = periodic_reset(scenarios.image_task(), "dlmalloc", every=128)
    >>> run.allocator, run.oom is None, run.resets
    ('dlmalloc (reset every 128)', True, 2)
    """
    if every <= 0:
        raise ValueError(f"every must be a positive number of events, got {every}")
    run = reset_at(trace, range(every, len(trace), every),
                   lambda segment: replay(segment, allocator, **heap_options))
    run.allocator = f"{run.allocator} (reset every {every})"
    return run


def reset_at(trace, points, replay_segment):
    """Replay `trace` in segments that start at `points` (event indices), each on a fresh instance
    that first gets the live blocks of the segment before, allocated again packed in the order of
    their addresses: one stitched
    `Run` whose `resets` counts the restarts (at `reset_points`) and `restored` the bytes they
    copied.
    `replay_segment(segment_trace) -> Run` replays one segment: on a model (periodic_reset) or
    on a fresh real module (pyfrag.real.replay_real)."""
    addresses = live_bytes = None       # typed as the runs' own (array.extend needs that)
    heap_bytes = array("q")
    failures, issues, survivors = [], [], {}
    first = last = None
    grow_calls, restored_bytes, checks = None, 0, None
    bounds = [0] + sorted({p for p in points if 0 < p < len(trace)}) + [len(trace)]
    for start, end in zip(bounds, bounds[1:]):
        segment = Trace(trace.name, maximum=trace.maximum)
        for id, size in survivors.items():
            segment.alloc(id, size, tag="restored")
        restored_bytes += sum(survivors.values())
        restored = len(segment)
        segment.extend(trace, start, end)
        try:
            last = run = replay_segment(segment)
        except InvariantBroken as e:
            # named by the whole trace's events; broken while restoring: at the reset
            raise InvariantBroken(trace, start + max(e.index - restored, -1),
                                  start + max(e.since - restored, 0), e.allocator, e.message,
                                  e.every) from e
        first = first or run
        if run.checks is not None:
            checks = (checks or 0) + run.checks
        grow_calls = None if run.grow_calls is None else (grow_calls or 0) + run.grow_calls
        if addresses is None:
            addresses, live_bytes = array(run.addresses.typecode), array(run.live_bytes.typecode)
        addresses.extend(run.addresses[restored:])
        heap_bytes.extend(run.heap_bytes[restored:])
        live_bytes.extend(run.live_bytes[restored:])
        for f in run.failures:
            index = start + max(f.index - restored, 0)
            failures.append(_with(f, index=index, where=trace.where(index),
                                  op=f.op if f.index >= restored else "restore"))
        issues.extend(_with(x, index=start + x.index - restored,
                            where=trace.where(start + x.index - restored))
                      for x in run.issues)
        # packed in address order: the same instance state gives the same restore, on a model
        # and on a real module alike
        survivors = {id: v >> SHIFT for id, v in sorted(run.live_ids.items(),
                                                       key=lambda kv: kv[1] & MASK)}
        if run.trap is not None:
            break
    if first is None:
        return replay_segment(trace)
    trap = last.trap
    if trap is not None:            # (a trap while restoring is named at the segment's start)
        at = start + max(trap.index - restored, 0)
        trap = _with(trap, index=at, where=trace.where(at))
    stitched = Run(trace, first.allocator, addresses, heap_bytes, live_bytes,
                   heap_base=first.heap_base, initial_bytes=first.initial_bytes,
                   maximum_bytes=first.maximum_bytes, failures=failures, issues=issues,
                   spans=last.spans, grow_calls=grow_calls, live_ids=last.live_ids, trap=trap,
                   like=first.like, checks=checks)
    stitched.resets, stitched.restored = len(bounds) - 2, restored_bytes
    stitched.reset_points = bounds[1:-1]
    stitched.reported_live = getattr(last, "reported_live", None)
    return stitched

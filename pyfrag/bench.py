"""`python -m pyfrag bench`: how fast the simulator replays, per allocator.

Main entry point: `main(events, names, seed)`. One fixed random trace
(`scenarios.random_trace(events, seed)`) is replayed on every model; for each
it prints events per second (wall clock, best of three runs after a warm-up
on a shorter trace) and the simulator's memory per live block, measured with
tracemalloc on a separate 100,000-event replay (the per-event timeline arrays
are subtracted: they grow with events, not with live blocks).

    python -m pyfrag bench                       # every model, 1,000,000 events
    python -m pyfrag bench --allocators bump,dlmalloc --events 200000
"""

import gc
import time
import tracemalloc

from . import allocators, scenarios
from .heap import Heap
from .replay import drive, replay

MEMORY_EVENTS = 100_000


def events_per_second(trace, name, repeat=3):
    """Best of `repeat` runs: the machine's other work only ever slows a run down."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        replay(trace, name)
        best = min(best, time.perf_counter() - start)
    return len(trace) / best


def bytes_per_live_block(trace, name):
    """Replay state (model + the replay's id map) per block live at the end; results
    made afterwards, such as the final spans list, are not state and not counted."""
    gc.collect()
    tracemalloc.start()
    try:
        heap = Heap(name)
        run = drive(trace, heap.allocator, heap.memory, name)
        current = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    timeline = sum(a.buffer_info()[1] * a.itemsize
                   for a in (run.addresses, run.heap_bytes, run.live_bytes))
    live = len(run.live_ids)
    return (current - timeline) / live if live else float("nan")


def main(events=1_000_000, names=None, seed=1):
    names = names or allocators.names()
    start = time.perf_counter()
    trace = scenarios.random_trace(events, seed=seed)
    small = scenarios.random_trace(MEMORY_EVENTS, seed=seed)
    print(f"trace: {len(trace)} random events (seed {seed}), generated in "
          f"{time.perf_counter() - start:.1f} s; memory measured on {MEMORY_EVENTS} events")
    print(f"{'allocator':24} {'events/s':>12} {'bytes/live block':>18}")
    for name in names:
        replay(small, name)        # warm-up: imports, caches
        rate = events_per_second(trace, name)
        per_block = bytes_per_live_block(small, name)
        print(f"{name:24} {rate:12,.0f} {per_block:18.0f}", flush=True)

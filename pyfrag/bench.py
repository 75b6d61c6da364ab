"""`python -m pyfrag bench`: how fast the simulator replays, per allocator.

Main entry point: `main(events, names, seed)`. One fixed random trace
(`scenarios.random_trace(events, seed)`) is replayed on every model; for each
it prints events per second (CPU time and wall clock, best of three runs
after a warm-up on a shorter trace) and the simulator's memory per live block, measured with
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
    """(CPU, wall) events per second, best of `repeat` runs. CPU time is the steadier
    figure on a shared machine; the machine's other work only ever slows a run down."""
    cpu = wall = float("inf")
    for _ in range(repeat):
        gc.collect()
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        replay(trace, name)
        cpu = min(cpu, time.process_time() - start_cpu)
        wall = min(wall, time.perf_counter() - start_wall)
    return len(trace) / cpu, len(trace) / wall


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
    print(f"{'allocator':24} {'events/s (CPU)':>15} {'events/s (wall)':>16} "
          f"{'bytes/live block':>17}")
    for name in names:
        replay(small, name)        # warm-up: imports, caches
        cpu, wall = events_per_second(trace, name)
        per_block = bytes_per_live_block(small, name)
        print(f"{name:24} {cpu:15,.0f} {wall:16,.0f} {per_block:17.0f}", flush=True)

"""`python -m pyfrag bench`: how fast the simulator replays, per allocator.

Main entry point: `main(events, names, seed, full)`. One fixed random trace
(`scenarios.random_trace(events, seed)`) is replayed on every model; for each
it prints events per second (CPU time and wall clock, best of three runs
after a warm-up on a shorter trace) and the simulator's memory per live block, measured with
tracemalloc on a separate replay of 50,000 events (100,000 with --full; the
per-event timeline arrays are subtracted: they grow with events, not with live
blocks).

    python -m pyfrag bench                       # every model, 200,000 events
    python -m pyfrag bench --full                # 1,000,000 events: the README's figures
    python -m pyfrag bench --allocators bump,dlmalloc --events 200000

Before it starts it says how long it will take, from a short replay timed on
this machine as it is now (a busy machine runs everything slower).
"""

import gc
import sys
import time
import tracemalloc

from .. import allocators, scenarios
from ..heap import Heap
from ..replay import drive, replay
from ..report import plural

QUICK_EVENTS = 200_000             # the default run
FULL_EVENTS = 1_000_000
MEMORY_EVENTS = 100_000            # the memory replay runs under tracemalloc: ~5x slower
QUICK_MEMORY_EVENTS = 50_000
CALIBRATION_EVENTS = 20_000
REPEAT = 3


def events_per_second(trace, name, repeat=REPEAT):
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
    timeline = sum(map(sys.getsizeof, (run.addresses, run.heap_bytes, run.live_bytes)))
    live = len(run.live_ids)
    return (current - timeline) / live if live else float("nan")


def estimate(models, events, memory_events, seed):
    """Seconds the bench will take: one short generation, replay and traced replay on
    dlmalloc (a model of middling speed), timed now and scaled to the whole run."""
    start = time.perf_counter()
    sample = scenarios.random_trace(CALIBRATION_EVENTS, seed=seed)
    generate = time.perf_counter() - start
    start = time.perf_counter()
    replay(sample, "dlmalloc")
    plain = time.perf_counter() - start
    tracemalloc.start()
    try:
        start = time.perf_counter()
        replay(sample, "dlmalloc")
        traced = time.perf_counter() - start
    finally:
        tracemalloc.stop()
    per_model = ((memory_events + REPEAT * events) * plain + memory_events * traced)
    return ((events + memory_events) * generate + models * per_model) / CALIBRATION_EVENTS


def duration(seconds):
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def main(events=None, names=None, seed=1, full=False):
    names = names or allocators.names()
    events = events or (FULL_EVENTS if full else QUICK_EVENTS)
    memory_events = min(MEMORY_EVENTS if full else QUICK_MEMORY_EVENTS, events)
    seconds = estimate(len(names), events, memory_events, seed)
    print(f"bench: {plural(len(names), 'model')} x {events:,} events, best of {REPEAT}: about "
          f"{duration(seconds)} on this machine now"
          + ("" if full or events >= FULL_EVENTS else
             f" (--full: {FULL_EVENTS:,} events, about "
             f"{duration(estimate(len(names), FULL_EVENTS, MEMORY_EVENTS, seed))})"),
          flush=True)
    start = time.perf_counter()
    trace = scenarios.random_trace(events, seed=seed)
    small = scenarios.random_trace(memory_events, seed=seed)
    print(f"trace: {len(trace)} random events (seed {seed}), generated in "
          f"{time.perf_counter() - start:.1f} s; memory measured on {memory_events} events")
    print(f"{'allocator':24} {'events/s (CPU)':>15} {'events/s (wall)':>16} "
          f"{'bytes/live block':>17}")
    for name in names:
        replay(small, name)        # warm-up: imports, caches
        cpu, wall = events_per_second(trace, name)
        per_block = bytes_per_live_block(small, name)
        print(f"{name:24} {cpu:15,.0f} {wall:16,.0f} {per_block:17.0f}", flush=True)
    print(f"took {duration(time.perf_counter() - start)}")

"""A sweep's grid and its cells: traces x allocators x memory limits x scenario parameters.

Main entry points: `grid(sources, allocators, limits, params) -> [Cell]`, which
checks everything it is given before any work starts (unknown allocator, memory
limit or scenario parameter, missing trace file), and `run_cell(trace, cell)`,
which replays one cell and returns its table row. Pure Python, no Dask:
`pyfrag.sweep.cluster` runs cells on a cluster, `pyfrag.sweep.table` stores rows.

Every cell starts from the state `compare` uses (heap base 1024, one page), so
rows compare allocators, and from the cell's memory limit, which replaces any
limit the trace carries.
"""

import inspect
import itertools
import os
import time
from dataclasses import dataclass

from .. import allocators, scenarios
from ..memory import PAGE, WASM32_MAX_PAGES, resolve_limit, user_limit
from ..replay import replay
from ..sources import (COMPARE_START, UsageError, checked_params, param_item, param_value,
                       source_trace)

# (name, type) of every column, in table order; None in a cell means "not applicable"
# (no OOM, or a number the allocator cannot tell)
COLUMNS = (
    ("trace", str), ("params", str), ("allocator", str), ("limit", str), ("limit_bytes", int),
    ("events", int), ("peak_heap_bytes", int), ("final_heap_bytes", int),
    ("final_live_bytes", int), ("utilization", float), ("heap_utilization", float),
    ("oom_index", int), ("oom_kind", str), ("failures", int), ("largest_free", int),
    ("external_fragmentation", float), ("seconds", float), ("events_per_s", float),
)
KEY = ("trace", "params", "allocator", "limit_bytes")


@dataclass(frozen=True)
class Cell:
    trace: str          # scenario name or trace file, as given
    params: tuple       # ((key, value), ...) sorted, scenario parameters
    allocator: str
    limit: str          # as given, e.g. "512mib"
    limit_bytes: int

    @property
    def params_text(self):
        return " ".join(f"{k}={v}" for k, v in self.params)

    @property
    def key(self):
        return (self.trace, self.params_text, self.allocator, self.limit_bytes)


def expand_params(items):
    """`-p key=v1,v2` options as {key: [values]} (each value typed as `run -p` types it)."""
    values = {}
    for item in items or ():
        key, text = param_item(item, "key=value[,value...]")
        values.setdefault(key, []).extend(param_value(one) for one in text.split(","))
    return values


def scenario_params(source, params):
    """The parameter combinations a source takes: each -p key its scenario has, in
    every combination of the given values; a trace file takes none."""
    if os.path.exists(source):
        return [()]
    key = source.replace("_", "-").lower()
    generator = scenarios.SCENARIOS[key]
    own = sorted(k for k in params if k in inspect.signature(generator).parameters)
    combos = [tuple(zip(own, values)) for values in itertools.product(*(params[k] for k in own))]
    for combo in combos:
        checked_params(source, generator, dict(combo))
    return combos


def grid(sources, allocator_names, limits, params=None):
    """Every cell of the sweep, in a stable order; bad input raises before any work."""
    params = params or {}
    # a name given twice is one cell, not two rows with one key
    sources, allocator_names, limits = (list(dict.fromkeys(x))
                                        for x in (sources, allocator_names, limits))
    for what, given in (("trace file or scenario", sources), ("allocator", allocator_names),
                        ("memory limit", limits)):
        if not given:
            raise UsageError(f"a sweep needs at least one {what}")
    for source in sources:
        if source == "-":
            raise UsageError("a sweep reads each source once per cell: give a trace file, "
                             "not - (standard input)")
        if not os.path.exists(source) and \
                source.replace("_", "-").lower() not in scenarios.names():
            source_trace(source)            # raises the error `run` gives for it
    for name in allocator_names:
        allocators.get(name)
    sized = []
    for limit in limits:
        pages = resolve_limit(user_limit(limit, f"--limits {limit}"))
        if not 1 <= pages <= WASM32_MAX_PAGES:
            raise UsageError(f"memory limit {limit!r} must lie between one page and 4gib")
        if pages * PAGE not in {nbytes for _, nbytes in sized}:
            sized.append((limit, pages * PAGE))
    per_source = {s: scenario_params(s, params) for s in sources}
    used = {k for combos in per_source.values() for combo in combos for k, _ in combo}
    unused = sorted(set(params) - used)
    if unused:
        raise UsageError(f"-p {unused[0]}: no scenario of this sweep takes it")
    return [Cell(source, combo, name, limit, nbytes)
            for source in sources for combo in per_source[source]
            for name in allocator_names for limit, nbytes in sized]


def load_trace(source, params):
    """The trace of a cell: a scenario generated with `params`, or a trace file read."""
    return source_trace(source, params=dict(params))


def run_cell(trace, cell):
    """Replay `trace` for one cell and return its row (a dict over COLUMNS)."""
    start = time.perf_counter()
    run = replay(trace, cell.allocator, maximum=cell.limit_bytes // PAGE, **COMPARE_START)
    seconds = time.perf_counter() - start
    m = run.metrics
    heap_only = m.heap_bytes - run.heap_base
    return {
        "trace": cell.trace, "params": cell.params_text, "allocator": cell.allocator,
        "limit": cell.limit, "limit_bytes": cell.limit_bytes, "events": m.events,
        "peak_heap_bytes": m.peak_heap_bytes, "final_heap_bytes": m.heap_bytes,
        "final_live_bytes": m.live_bytes, "utilization": m.utilization,
        # live / the heap the allocator manages: static data below the heap base is not its
        "heap_utilization": m.live_bytes / heap_only if heap_only > 0 else 0.0,
        "oom_index": m.oom_index, "oom_kind": m.oom_kind, "failures": m.failures,
        "largest_free": m.largest_free_block,
        "external_fragmentation": m.external_fragmentation,
        "seconds": seconds, "events_per_s": m.events / seconds if seconds > 0 else None,
    }

"""Replaying a trace on a real module: the fastest way the module offers.

Main entry point: `replay_real(trace, module) -> Run`.
"""

import os

from ..replay import drive, named
from ..strategies import reset_at
from .beside import judge
from .module import RealModule, load
from .runner import run_in_module


def replay_real(trace, module, *, stop_at_oom=False, progress=None, discard="at-end",
                batched=True, model=True, call_budget=None, maximum=None, reset_every=None):
    """Replay `trace` on a real module (a name, a path, or a fresh `RealModule`).

    Every module built here replays whole traces itself (pyfrag.real.runner): any
    number of live blocks, a few host calls per million events. `batched=False`,
    or a module without that export (an upload), drives it one call per event
    with the same loop the models run (pyfrag.replay.drive); both give the same
    `Run`.

    Returns the same `Run` the simulator returns, with `reported_live` set to the
    module's own `live_bytes()` at the end (None when the run ended at a trap,
    `run.trap`). A name or path gets a fresh instance, with the trace's memory
    memory limit enforced by the engine: `maximum` (pages, or "512mib"-style text)
    if given, else the trace's own, if any; when its manifest names a model, that
    model is replayed beside it (pyfrag.real.beside): where the two agree, failed
    requests are judged from the model's free blocks, and with `model=True` the
    run's spans and discard figures are the model's. `model="failures"` replays
    the model only when requests failed, up to them; `model=False` never (the
    verdicts are estimates). `run.beside` says how far the model went along.
    `discard` is as for `pyfrag.replay.replay`; `call_budget` as for `load`.

    `reset_every=N` is the article's reset pattern for real: every N events the
    instance is thrown away, a fresh one instantiated and the live blocks
    allocated again, packed (pyfrag.strategies.reset_at), as
    `periodic_reset(trace, model, every=N)` does to the model.

    >>> from pyfrag import replay, scenarios
    >>> t = scenarios.image_task()
    >>> run = replay_real(t, "c-dlmalloc")
    >>> run.oom.kind, run.oom.index, run.reported_live == run.live_bytes[-1]
    ('fragmentation', 256, True)
    >>> list(run.addresses) == list(replay(t, like="c-dlmalloc").addresses)
    True
    """
    if reset_every is not None:
        if reset_every <= 0 or not isinstance(module, (str, os.PathLike)):
            raise ValueError("reset_every wants a number of events above 0 and a module named "
                             "by name or path (each segment gets a fresh instance of it)")
        run = reset_at(trace, range(reset_every, len(trace), reset_every), lambda segment:
                       replay_real(segment, module, stop_at_oom=stop_at_oom, discard=discard,
                                   batched=batched, model=False, call_budget=call_budget,
                                   maximum=maximum))
        run.allocator = f"{run.allocator} (reset every {reset_every})"
        return run
    fresh = not isinstance(module, RealModule)
    if fresh:
        module = load(module, limit=trace.maximum if maximum is None else maximum,
                      call_budget=call_budget)
    if batched and fresh and module.runs:
        run = run_in_module(trace, module, stop_at_oom=stop_at_oom, progress=progress,
                            discard=discard)
    else:
        run = drive(trace, module, module.memory, module.name,
                    stop_at_oom=stop_at_oom, progress=progress, discard=discard)
    if run.trap is None:
        run.reported_live = module.live_bytes()
    run.module = module
    # a module handed in may have been used already: its model cannot know how
    run.beside = judge(run, module, model, discard) if fresh else None
    # what no verdict from free blocks can tell: a request the module never serves, a
    # bump allocator run out (verdicts adopted from the model carry it already)
    run.failures[:] = [f if f.kind not in ("true", "fragmentation") else named(f, module, trace)
                       for f in run.failures]
    return run

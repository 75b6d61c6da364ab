"""A real run and its model's run side by side: the model's verdicts where the two agree.

Main entry point: `judge(run, module, model, discard)`, which
`pyfrag.real.replay_real` calls after the module's replay.

A real module's free lists live inside its memory, out of sight. Its
address-exact model (the manifest's "model") is replayed on the same events,
and stands for the module's heap while it returned every address the module
returned and had the memory size the module had, event by event. There the
failed requests' verdicts (free blocks, largest free block, overhead) are the
model's; from the first difference on they are estimates, as the replay loop
makes them for any allocator whose spans cannot be read. When the model was in
step through the whole run, the run's final spans and discard samples are the
model's too. The same idea, in the same words, is the page's (web/src/timeline.js).

Two depths, since the model costs its own replay time:

- "failures": only when the run has failed requests, and only up to the last one
  the loop judges from spans (EXACT_FAILURES): what `pyfrag real` does by default.
- True: the whole run, for its free blocks, overhead and discard figures.
"""

from dataclasses import dataclass, replace

from ..metrics import ON_FREE
from ..replay import EXACT_FAILURES, estimate, replay
from ..steps import Steps
from ..trace import FREE, Trace

FAILURES = "failures"
CALLS = ("malloc", "free", "realloc")     # by trace op


@dataclass(frozen=True, slots=True)
class Beside:
    """How far the model went along with the run."""
    events: int             # events the model replayed (a prefix of the run)
    in_step: int            # events, from the first, on which the two agreed
    difference: str | None  # what differed at event `in_step`, when they parted

    @property
    def parted(self):
        return self.difference is not None


def judge(run, module, model=True, discard=None):
    """Replay the module's model beside `run` and adopt its verdicts where in step ->
    a `Beside`, or None when the model did not run (none in the manifest, or not needed)."""
    from ..heap import Heap
    entry = module.entry
    if not model or not entry or not entry.get("model"):
        return None
    full = model is not FAILURES or discard == ON_FREE
    if full:
        events = run.events - (run.trap is not None)     # the trapped event never finished
    elif run.failures:
        events = run.failures[min(len(run.failures), EXACT_FAILURES) - 1].index + 1
    else:
        return None
    trace = run.trace if events == len(run.trace) else \
        Trace(run.trace.name).extend(run.trace, 0, events)
    shadow = replay(trace, Heap.like(entry, maximum=module.memory.maximum),
                    discard=discard or run.discard)
    n = min(events, shadow.events)
    in_step = min(first_difference(run.addresses, shadow.addresses, n),
                  first_difference(run.heap_bytes, shadow.heap_bytes, n))
    _adopt_failures(run, shadow.failures, in_step)
    if in_step == events == shadow.events and full:
        run.spans, run.discard_samples = shadow.spans, shadow.discard_samples
    difference = None if in_step == n and n == events else _difference(run, shadow, in_step)
    return Beside(events, in_step, difference)


def first_difference(a, b, n):
    """The first index below n where sequences a and b differ, or n. Slices compare in C;
    two `Steps` compare at their change points (no per-event copy)."""
    if isinstance(a, Steps) and isinstance(b, Steps):
        return a.first_difference(b, n)
    if a[:n] == b[:n] if len(a) != n or len(b) != n else a == b:
        return n
    lo, hi = 0, n               # a[:lo] == b[:lo]; a difference lies in [lo, hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def _adopt_failures(run, judged, in_step):
    """The model's failures up to in_step; later ones estimated again, from the last adopted."""
    judged = {f.index: f for f in judged}
    failures = []
    for f in run.failures:
        g = judged.get(f.index) if f.index < in_step else None
        if g is not None:
            g = replace(g, where=f.where)       # the model replayed a copy of the trace's start
        else:
            g = estimate(run.trace, f.index, f.op, f.size, run.live_bytes[f.index],
                         f.heap_bytes, run.heap_base, failures[-1] if failures else None)
        failures.append(g)
    run.failures[:] = failures


def _difference(run, shadow, i):
    """What the module and its model did differently at event i."""
    if i >= shadow.events:
        return f"the model stopped at {run.trace.where(i)}"
    e = run.trace[i]
    what = "free" if e.op == FREE else f"{CALLS[e.op]}({e.size})"
    if run.addresses[i] != shadow.addresses[i]:
        return (f"{what} at {run.trace.where(i)} gave {run.addresses[i]:#x} on the module, "
                f"{shadow.addresses[i]:#x} on its model")
    return (f"memory after {what} at {run.trace.where(i)} was {run.heap_bytes[i]} bytes on "
            f"the module, {shadow.heap_bytes[i]} on its model")

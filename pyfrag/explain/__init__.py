"""Why did the heap die, and what would have saved it?

Main entry point: `explain(trace, module=None, allocator=None) -> Explanation`, and its
`describe()`, which `pyfrag explain` prints.

    >>> from pyfrag import explain, scenarios
    >>> e = explain.explain(scenarios.image_task(), "c-dlmalloc", real=False)
    >>> e.run.oom.kind, [g.name for g in e.pinners if g.kind == "tag"]
    ('fragmentation', ['thumbnail', 'image'])
    >>> e.best.kind, e.best.outcome.ok
    ('region', True)

It answers in four parts, each from the trace and the model replayed like the module (address-exact,
so what the model's free blocks say holds for the module):

1. the verdict: the first failed request, the peak heap, and the ideal: the peak of live bytes
   above the heap base, what an allocator that never wasted a byte would need;
2. why each memory.grow happened: forced (no free block could hold the request) or the
   allocator's policy (pyfrag.grows);
3. which blocks pin the holes: lifetimes by tag and size class, and the free bytes each group
   holds apart at the peak heap and just before the first failure (pyfrag.explain.lifetimes);
4. what would have saved it: fixes derived from those lifetimes, each a transform of the trace
   replayed on the model and, where wasmtime is installed, on the real module, ranked
   (pyfrag.explain.fixes).
"""

from dataclasses import dataclass, field

from ..grows import grow_causes, totals
from ..memory import PAGE
from ..replay import replay
from ..report import human, plural
from . import fixes as _fixes
from .lifetimes import blocks as _blocks, groups as _groups, pinned_bytes, pinners


@dataclass
class Explanation:
    trace: object
    model: str                      # the model replayed (like the module, where one is named)
    module: str | None              # the real module the model started like
    real: bool                      # whether the fixes were replayed on that module too
    run: object                     # the Run of the trace as it is
    grows: list                     # Grow, one per grow event
    groups: list                    # Group, by tag and by size class
    fixes: list = field(default_factory=list)     # Fix, ranked best first


    @property
    def pinners(self):
        """The groups that pin free bytes at the first failure (else at the peak), most first."""
        key = "pinned_failure" if self.run.oom else "pinned_peak"
        return sorted((g for g in self.groups if getattr(g, key)),
                      key=lambda g: -getattr(g, key))

    @property
    def best(self):
        return self.fixes[0] if self.fixes else None

    def describe(self):
        return "\n".join(_describe(self))


def explain(trace, module=None, allocator=None, *, real=True, **heap_options):
    """The explanation of `trace` on the model of `module` (started like it) or on `allocator`
    (a model name; dlmalloc when neither is given). With `real` and a `module`, every fix is
    replayed on the real module too (it needs wasmtime; without it, the model's outcome stands)."""
    if module is not None:
        heap_options["like"] = module

    def model_run(t, pause=None):
        return replay(t, allocator, pause=pause, **heap_options)

    run = model_run(trace)
    bl = _blocks(trace)
    gs = _groups(bl)
    heap = run.heap_bytes
    # the layouts to look at: just before the first failure, and once the heap reached its peak
    moments = {"peak": max(range(run.events), key=lambda i: (heap[i], -i)) + 1 if run.events else 0}
    if run.oom is not None:
        moments["failure"] = run.oom.index
    layouts = {}

    def spans_at(points):
        """The model's spans and memory size before each event in `points` and each moment: one
        more replay, which pauses there."""
        def look(i, allocator_):
            layouts[i] = (allocator_.spans(), allocator_.memory.pages * PAGE)
        model_run(trace, (sorted(set(points) | set(moments.values())), look))
        return {i: layouts[i][0] for i in points}

    grows = grow_causes(run, spans_at)
    if not layouts:                            # no grow: only the moments
        spans_at([])
    pins = {}
    for name, k in moments.items():
        spans, end = layouts[k]
        pins[name] = pinners(bl, run, k, spans, end)
        for g in gs:
            setattr(g, f"pinned_{name}", pinned_bytes(g, pins[name]))
    candidates = _fixes.fixes(trace, bl, run, pins.get("failure"))
    for f in candidates:
        f.model = _fixes.replayed(f, model_run)
        if real and module is not None:
            f.real = _on_module(f, module)
    return Explanation(trace, run.allocator, module, bool(real and module), run, grows, gs,
                       _fixes.rank(candidates))


def _on_module(fix, module):
    """The fix replayed on a fresh instance of the real module; None where that cannot run here
    (no wasmtime, or no such module)."""
    try:
        from ..real import RealModuleError, replay_real
        return _fixes.replayed(fix, lambda t: replay_real(t, module, model=False))
    except RealModuleError:
        return None


def _describe(e):
    run, m = e.run, e.run.metrics
    like = f" (started like {e.module})" if e.module and e.module != e.model else ""
    out = [f"{e.trace.name} on {e.model}{like}: {plural(run.events, 'event')}"]
    f = run.oom
    out.append("  verdict      " + ("no failed request" if f is None else
               f"{f.label} at {f.where}: {f.op}({human(f.size)}) failed with "
               f"{human(f.free_bytes)} free in a {human(f.heap_bytes)} heap"
               + ("" if f.largest_free is None else f", largest free block {human(f.largest_free)}")))
    out.append(f"  peak heap    {human(m.peak_heap_bytes)}: {m.times_ideal:.2f}x the ideal "
               f"{human(m.ideal_bytes)} (heap base + peak live {human(m.peak_live_bytes)}, in "
               "whole pages)")
    forced, policy, _ = totals(e.grows)
    out.append(f"  grows        {plural(len(e.grows), 'grow event')}: {forced} forced (no stretch "
               f"of memory free of live data could hold the request), {policy} policy (one "
               "could; the allocator's design did not use it)")
    policy_grows = [g for g in e.grows if g.cause == "policy"][:3]
    out += [f"               {g.describe()}" for g in policy_grows]
    when = "at the failure" if f is not None else "at the peak"
    out += ["", f"who pins the holes {when} (live blocks with free space on both sides, and the "
            "free bytes they hold apart):"]
    rows = [("group", "blocks", "to the end", "median life", "p90 life", "bytes", "pins")]
    key = "pinned_failure" if f is not None else "pinned_peak"
    for g in sorted(e.groups, key=lambda g: -(getattr(g, key) or 0)):
        rows.append((f"{g.kind} {g.name}", str(g.count), str(g.to_end),
                     plural(g.median_life, "event"), plural(g.p90_life, "event"), human(g.bytes),
                     human(getattr(g, key) or 0)))
    out += _columns(rows)
    where = f"the model and the real module {e.module}" if e.real else "the model"
    out += ["", f"what would have saved it (each fix replayed on {where}, best first):"]
    out += [f"  {k}. {line}" for k, line in enumerate(_fixes.describe(e.fixes), 1)]
    base = next(x for x in e.fixes if x.kind == "none")
    best = e.best
    out += ["", "answer: " + (best.sentence(base) if best.kind != "none" or not base.outcome.ok
                              else "nothing to fix: no failed request, and no fix lowers the peak")
            + "."]
    return out


def _columns(rows):
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    return ["  " + "  ".join(cell.ljust(w) if c == 0 else cell.rjust(w)
                             for c, (cell, w) in enumerate(zip(row, widths))).rstrip()
            for row in rows]

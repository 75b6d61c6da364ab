"""Answer "which allocator and which strategy would have saved my app?" for one trace.

Main entry point: `recommend(trace, runs, **heap_options) -> list[Candidate]`,
best first, and `describe(candidates)`, the text `pyfrag compare` ends with.

Candidates are every allocator already replayed (`runs`) and, on the best
allocators that ship as a real module (and on the allocator a recording was
made with), the article's strategies: an arena, a size-class pool, a hot/cold
split, and a periodic reset of the instance.

They are ranked by RANKING, one criterion after the other, each a cost the
app would pay: failed requests first (what the app dies of), then resets (a
restart of the instance, its live state serialized and restored, each time),
then a heap that never reuses freed memory (a bump allocator: it fits this
trace, but its heap grows with every byte a longer run allocates), then the
peak heap, then the size of the real module that carries the allocator
(wasm_modules/manifest.json; a textbook model has none), and last the name,
so that a tie has one order. Each row says the first criterion that puts it
below the row above it.
"""

from dataclasses import dataclass

from ..allocators import get
from ..report import human, plural
from ..strategies import periodic_reset

STRATEGIES = ("arena", "pool", "hot-cold")
BASES = 2             # strategies are tried on this many of the best shippable allocators
RESETS = 10           # a periodic reset restarts the instance about this often over the trace


@dataclass
class Candidate:
    allocator: str        # model name, e.g. "dlmalloc" or "arena:dlmalloc"
    strategy: str         # "none", "arena", "pool", "hot-cold" or "periodic reset (every N events)"
    base: str             # the allocator the strategy sits on
    peak_heap: int
    failures: int
    module: dict | None   # manifest entry of the real module carrying `base`
    resets: int = 0       # times the instance is thrown away and rebuilt
    reuses_freed: bool = True   # False: a bump allocator (pyfrag.allocators.base)

    @property
    def oom(self):
        return self.failures > 0

    @property
    def module_bytes(self):
        return self.module["bytes"] if self.module else None

    def key(self):
        return tuple(criterion.key(self) for criterion in RANKING)

    def what(self):
        return self.base + (" (no strategy)" if self.strategy == "none"
                            else f" with {self.strategy}")


@dataclass(frozen=True)
class Criterion:
    """One step of the ranking: `key` orders candidates (lower first); `why(c, above)` says
    how `c` pays more than the candidate ranked above it, where the keys differ."""
    name: str
    key: object
    why: object


RANKING = (
    Criterion("failed requests", lambda c: c.failures,
              lambda c, a: f"more failed requests ({c.failures} vs {a.failures})"),
    Criterion("resets", lambda c: c.resets,
              lambda c, a: f"resets the instance {plural(c.resets, 'time')}"
                           + (f" (vs {a.resets})" if a.resets else "")),
    Criterion("reuse of freed memory", lambda c: not c.reuses_freed,
              lambda c, a: "never reuses freed memory: a longer run needs a larger heap"),
    Criterion("peak heap", lambda c: c.peak_heap,
              lambda c, a: f"higher peak heap (+{human(c.peak_heap - a.peak_heap)})"),
    Criterion("real module size",
              lambda c: c.module_bytes if c.module else float("inf"),
              lambda c, a: "no real module carries it" if not c.module else
              f"larger real module (+{c.module_bytes - a.module_bytes} bytes)"),
    Criterion("name (no strategy first)", lambda c: (c.strategy != "none", c.base, c.strategy),
              lambda c, a: "the same figures, but a strategy to adopt"
              if c.strategy != "none" and a.strategy == "none" else "the same figures: by name"),
)
RULE = ", then ".join(c.name for c in RANKING)


def _modules():
    try:
        from ..modules import manifest
        entries = manifest()
    except (FileNotFoundError, KeyError, ValueError):
        return {}
    by_model = {}
    for e in sorted(entries, key=lambda e: (e["name"] != e.get("model"), e["bytes"])):
        if e.get("model"):
            by_model.setdefault(e["model"], e)
    return by_model


def _candidate(run, strategy, base, modules, resets=0):
    return Candidate(run.allocator, strategy, base, run.metrics.peak_heap_bytes,
                     len(run.failures), modules.get(base), resets, get(base).reuses_freed)


def recommend(trace, runs, **heap_options):
    modules = _modules()
    plain = [_candidate(r, "none", r.allocator, modules) for r in runs
             if ":" not in r.allocator and r.allocator not in STRATEGIES]
    plain.sort(key=Candidate.key)
    bases = [c.base for c in plain if c.module][:BASES]
    recorded = trace.recorded.allocator if trace.recorded is not None else None
    if recorded and recorded not in bases:
        bases.append(recorded)
    tried = list(plain) + [_candidate(r, r.allocator.split(":")[0], r.allocator.split(":")[-1],
                                      modules)
                           for r in runs if ":" in r.allocator]
    done = {c.allocator for c in tried}
    every = max(len(trace) // RESETS, 1)
    resets = max(-(-len(trace) // every) - 1, 0)    # a fresh instance per `every` events
    for base in bases:
        for strategy in STRATEGIES:
            name = f"{strategy}:{base}"
            if name not in done:
                tried.append(_candidate(trace.replay(name, **heap_options), strategy, base,
                                        modules))
        run = periodic_reset(trace, base, every=every, **heap_options)
        tried.append(_candidate(run, f"periodic reset (every {every} events)", base, modules,
                                resets))
    return sorted(tried, key=Candidate.key)


def why_here(c, above):
    """How `c` ranks below `above`: the first criterion of RANKING on which they differ."""
    for criterion in RANKING:
        if criterion.key(c) != criterion.key(above):
            return criterion.why(c, above)
    return RANKING[-1].why(c, above)


def costs(c):
    """What the candidate costs the app, in words."""
    out = [plural(c.failures, "failed request") if c.oom else "no failed request"]
    if c.resets:
        out.append(f"{plural(c.resets, 'reset')} of the instance")
    if not c.reuses_freed:
        out.append("a heap that only grows")
    out.append(f"module {c.module['name']}, {c.module_bytes} bytes" if c.module
               else "no real module (a textbook model)")
    return "; ".join(out)


def describe(candidates, top=5, recorded=None):
    """The recommendation: a sentence with the best candidate's cost and why it wins, then
    the best few with what puts each below the one above, and where the allocator the
    app was `recorded` with stands."""
    if not candidates:
        return "recommendation: nothing to compare"
    best = candidates[0]
    head = (f"recommendation: {best.what()}: peak heap {human(best.peak_heap)} "
            f"({best.peak_heap} bytes); cost: {costs(best)}")
    if best.oom:
        head += "\n  every candidate runs out of memory: this one fails the fewest requests"
    calm = next((c for c in candidates if not c.resets), None)
    if best.resets and calm is not None:
        head += (f"\n  it ranks first because it fails fewer requests than any candidate "
                 f"without resets: the best of those, {calm.what()}, fails "
                 f"{plural(calm.failures, 'request')}")
    rows = [("#", "allocator", "strategy", "peak heap", "failed", "real module (size)",
             "why it ranks here")]
    for k, c in enumerate(candidates[:top]):
        rows.append((str(k + 1), c.base, c.strategy, human(c.peak_heap), str(c.failures),
                     f"{c.module['name']} ({c.module_bytes} bytes)" if c.module
                     else "none (textbook model)",
                     "first" if not k else f"below #{k}: {why_here(c, candidates[k - 1])}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    table = ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
             for row in rows]
    lines = [head, f"  ranked by: {RULE}"] + table
    own = next((c for c in candidates if c.allocator == recorded), None)
    if own is not None:
        lines.append(f"  the app's own allocator, {own.base}: peak heap {human(own.peak_heap)}, "
                     + (plural(own.failures, "failed request") if own.oom
                        else "no failed request")
                     + f" (rank {candidates.index(own) + 1} of {len(candidates)})")
    return "\n".join(lines)

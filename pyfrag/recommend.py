"""Answer "which allocator and which strategy would have saved my app?" for one trace.

Main entry point: `recommend(trace, runs, **heap_options) -> list[Candidate]`,
best first, and `describe(candidates)`, the text `pyfrag compare` ends with.

Candidates are every allocator already replayed (`runs`) and, on the best
allocators that ship as a real module (and on the allocator a recording was
made with), the article's strategies: an arena, a size-class pool, a hot/cold
split, and a periodic reset of the instance. The best is the one with no OOM
and the lowest peak heap; ties go to a smaller real module. The cost beside
each is the size of the real module that carries the allocator
(wasm_modules/manifest.json); a textbook model has no real build.
"""

from dataclasses import dataclass

from .report import human, plural
from .strategies import periodic_reset

STRATEGIES = ("arena", "pool", "hot-cold")
BASES = 2             # strategies are tried on this many of the best shippable allocators
RESETS = 10           # a periodic reset restarts the instance this many times over the trace


@dataclass
class Candidate:
    allocator: str        # model name, e.g. "dlmalloc" or "arena:dlmalloc"
    strategy: str         # "none", "arena", "pool", "hot-cold" or "periodic reset (every N)"
    base: str             # the allocator the strategy sits on
    peak_heap: int
    failures: int
    module: dict | None   # manifest entry of the real module carrying `base`

    @property
    def oom(self):
        return self.failures > 0

    def key(self):
        size = self.module["bytes"] if self.module else float("inf")
        return (self.oom, self.failures, self.peak_heap, size, self.strategy != "none")


def _modules():
    try:
        from .modules import manifest
        entries = manifest()
    except (FileNotFoundError, KeyError, ValueError):
        return {}
    by_model = {}
    for e in sorted(entries, key=lambda e: (e["name"] != e.get("model"), e["bytes"])):
        if e.get("model"):
            by_model.setdefault(e["model"], e)
    return by_model


def _candidate(run, strategy, base, modules):
    m = run.metrics
    return Candidate(run.allocator, strategy, base, m.peak_heap_bytes, len(run.failures),
                     modules.get(base))


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
    for base in bases:
        for strategy in STRATEGIES:
            name = f"{strategy}:{base}"
            if name not in done:
                tried.append(_candidate(trace.replay(name, **heap_options), strategy, base,
                                        modules))
        run = periodic_reset(trace, base, every=every, **heap_options)
        tried.append(_candidate(run, f"periodic reset (every {every} events)", base, modules))
    return sorted(tried, key=Candidate.key)


def describe(candidates, top=5, recorded=None):
    """The recommendation: a sentence and the best few candidates with their cost, and
    where the allocator the app was `recorded` with stands."""
    if not candidates:
        return "recommendation: nothing to compare"
    best = candidates[0]
    own = next((c for c in candidates if c.allocator == recorded), None)
    rows = [("allocator", "strategy", "peak heap", "OOM", "real module (size)")]
    for c in candidates[:top]:
        rows.append((c.base, c.strategy, human(c.peak_heap),
                     f"{c.failures} failed" if c.oom else "none",
                     f"{c.module['name']} ({c.module['bytes']} bytes)" if c.module
                     else "none (textbook model)"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    table = ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
             for row in rows]
    what = best.base + ("" if best.strategy == "none" else f" with {best.strategy}")
    cost = (f"; cost: module {best.module['name']}, {best.module['bytes']} bytes"
            if best.module else "; no real module carries it (a textbook model)")
    if best.oom:
        head = (f"recommendation: every candidate runs out of memory; the fewest failures: "
                f"{what} ({best.failures}), peak heap {human(best.peak_heap)}{cost}")
    else:
        head = (f"recommendation: {what}: lowest peak heap without an OOM, "
                f"{human(best.peak_heap)} ({best.peak_heap} bytes){cost}")
    if own is not None:
        table.append(f"  the app's own allocator, {own.base}: peak heap {human(own.peak_heap)}, "
                     + (plural(own.failures, "failed request") if own.oom else "no OOM")
                     + f" (rank {candidates.index(own) + 1} of {len(candidates)})")
    return "\n".join([head] + table)

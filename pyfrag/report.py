"""Text views of runs: the summary `run` and `real` print and the table `compare` prints.

Main entry points: `summary(run)` and `table(runs)`. Pure formatting: every
number comes from `run.metrics` or `run.grows`, nothing is computed twice. The table's
"resident" is the heap left resident by memory.discard: at the end, or with
discard "on-free" its peak over the run.

One wording for *when* a figure holds: "at the end" is the state after the last
event; a failed request's figures are those of the moment it failed ("when it
failed"); "peak" is the most over the run. A real module's summary says which
figures the module gave and which its model (pyfrag.real.beside).
"""

from .audit import audit
from .memory import describe_limit
from .metrics import ON_FREE


def human(n):
    """Bytes as a short human string: 1.5 MiB, 512 B."""
    if n is None:
        return "-"
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")


def summary(run):
    m = run.metrics
    t = run.trace
    lines = [f"{t.name} on {run.allocator}: {m.events} events"
             + (f" ({t.description})" if t.description else ""),
             f"  limit        {describe_limit(run.maximum_bytes)}",
             f"  heap         {human(m.heap_bytes)} ({m.heap_bytes} bytes) at the end, peak "
             f"{human(m.peak_heap_bytes)}; {plural(m.grow_events, 'grow event')}"
             + (f", {plural(m.grow_calls, 'memory.grow call')}"
                if m.grow_calls is not None else ""),
             f"  live         {human(m.live_bytes)} at the end, peak {human(m.peak_live_bytes)}",
             f"  ideal        {human(m.ideal_bytes)}: heap base + peak live, in whole pages; "
             f"the peak heap is {m.times_ideal:.2f}x it",
             "  grows        " + grow_line(run),
             f"  utilization  {m.utilization:.2%} at the end, wasted {human(m.wasted_bytes)}"]
    module = getattr(run, "module", None)
    if module is not None:
        lines.append("  figures      " + sources(run))
    if m.total_free is not None:
        lines.append(f"  free         {human(m.total_free)} at the end in "
                     f"{plural(m.free_blocks, 'block')}, largest "
                     f"{human(m.largest_free_block)}, external fragmentation "
                     f"{m.external_fragmentation:.2%}")
        lines.append(f"  overhead     {human(m.overhead_bytes)} at the end: heap - heap base - "
                     "live - free (headers, padding, lost cells, pages never used)")
        lines.append("  discard      " + discard_line(m))
    else:
        for label in ("free", "overhead", "discard"):
            lines.append(f"  {label:12} not seen: the module's free blocks are out of sight"
                         + (" (--model replays its model beside it for them)"
                            if module is not None and module.entry
                            and module.entry.get("model") else ""))
    if run.reported_live is not None:
        lines.append(f"  live_bytes() {run.reported_live} at the end (reported by the module)")
    lines.append("  failed       " + (plural(len(run.failures), "request") + "; the first: "
                                      + run.oom.describe() if run.oom else "none"))
    if run.issues:
        lines.append(f"  issues       {plural(len(run.issues), 'trace event')} skipped; "
                     f"first: {run.issues[0]}")
    if t.skipped:
        lines.append(f"  input        {plural(t.skipped, 'line')} of {t.source} "
                     "held no allocator call and were passed over")
    lines.append(audit(run))
    return "\n".join(lines)


def grow_line(run):
    """The run's grow events by cause (pyfrag.grows), in one line."""
    from .grows import totals
    forced, policy, unclassed = totals(run.grows)
    return (f"{forced} forced (no stretch free of live data held the request), {policy} by "
            "the allocator's policy (one did)"
            + (f", {unclassed} not classed (too many blocks live to class them all in a "
               "summary: pyfrag explain classes them)" if unclassed else ""))


def sources(run):
    """Where a real run's figures come from: the module, or its model replayed beside it."""
    beside = run.beside
    own = "heap, live and utilization from the module"
    model = run.module.entry and run.module.entry.get("model")
    if beside is None:
        if not run.failures:
            return own + "; no failed request to judge"
        # with a model and failed requests, only --no-model leaves it out
        return (own + "; failure verdicts estimated from heap - live "
                + ("(--no-model)" if model else "(no model of this module)"))
    if beside.parted:
        reach = (f"its model {model}, in step up to event {beside.in_step}, then left "
                 f"behind: {beside.difference}; from there on verdicts are estimates")
    else:
        reach = f"its model {model}, in step at all {beside.events} events it replayed"
    what = "free blocks, overhead, discard and failure verdicts" \
        if run.spans is not None else "failure verdicts"
    return f"{own}; {what} from {reach}"


def discard_line(m):
    """What memory.discard would give back, in one line."""
    peak = "" if m.peak_resident_bytes is None else \
        f", peak {human(m.peak_resident_bytes)}"
    when = ("every whole free page discarded as it appears" if m.discard == ON_FREE
            else "whole free pages discarded at the end")
    return (f"resident {human(m.resident_bytes)} of {human(m.heap_bytes)} reserved at the "
            f"end{peak} ({when}; the address space does not shrink)")


COLUMNS = ("allocator", "peak heap", "x ideal", "utilization", "ext. frag", "largest free",
           "overhead", "resident", "grows forced+policy", "first failure")
# what the table's figures are, printed under it
TABLE_NOTE = ("at the end of the run, except peak heap (its peak), x ideal (the peak heap "
              "over heap base + peak live, in whole pages), grows (every grow event, forced: "
              "no stretch free of live data held the request, or the allocator's policy) and "
              "the first failure (its kind and event)")


def table_rows(runs):
    from .grows import totals
    rows = []
    for run in runs:
        m = run.metrics
        forced, policy, unclassed = totals(run.grows)
        rows.append((run.allocator, human(m.peak_heap_bytes), f"{m.times_ideal:.2f}x",
                     f"{m.utilization:.2%}",
                     "-" if m.external_fragmentation is None else f"{m.external_fragmentation:.2%}",
                     human(m.largest_free_block), human(m.overhead_bytes),
                     human(m.peak_resident_bytes if m.discard == ON_FREE else m.resident_bytes),
                     f"{forced}+{policy}" + (f" ({unclassed} ?)" if unclassed else ""),
                     f"{m.oom_kind} @ {m.oom_index}" if m.oom_kind else "none"))
    return rows


def table(runs):
    rows = [COLUMNS] + table_rows(runs)
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    out = []
    for k, row in enumerate(rows):
        out.append("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                             for i, (cell, w) in enumerate(zip(row, widths))).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)

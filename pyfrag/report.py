"""Text views of runs: the summary `run` prints and the table `compare` prints.

Main entry points: `summary(run)` and `table(runs)`. Pure formatting: every
number comes from `run.metrics`, nothing is computed twice.
"""

from .audit import audit


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
             f"  heap         {human(m.heap_bytes)} ({m.heap_bytes} bytes) at the end; "
             f"{plural(m.grow_events, 'grow event')}"
             + (f", {plural(m.grow_calls, 'memory.grow call')}"
                if m.grow_calls is not None else ""),
             f"  live         {human(m.live_bytes)} at the end, peak {human(m.peak_live_bytes)}",
             f"  utilization  {m.utilization:.2%}, wasted {human(m.wasted_bytes)}"]
    if m.total_free is not None:
        lines.append(f"  free         {human(m.total_free)} in "
                     f"{plural(m.free_blocks, 'block')}, largest "
                     f"{human(m.largest_free_block)}, external fragmentation "
                     f"{m.external_fragmentation:.2%}")
    if run.reported_live is not None:
        lines.append(f"  live_bytes() {run.reported_live} (reported by the module)")
    lines.append("  OOM          " + (run.oom.describe() if run.oom else "none")
                 + (f" (+{plural(len(run.failures) - 1, 'more failed request')})"
                    if len(run.failures) > 1 else ""))
    if run.issues:
        lines.append(f"  issues       {plural(len(run.issues), 'trace event')} skipped; "
                     f"first: {run.issues[0]}")
    if t.skipped:
        lines.append(f"  input        {plural(t.skipped, 'line')} of {t.source} "
                     "held no allocator call and were passed over")
    lines.append(audit(run))
    return "\n".join(lines)


COLUMNS = ("allocator", "peak heap", "utilization", "ext. frag", "largest free",
           "grow calls", "OOM")


def table_rows(runs):
    rows = []
    for run in runs:
        m = run.metrics
        rows.append((run.allocator, human(m.peak_heap_bytes), f"{m.utilization:.2%}",
                     "-" if m.external_fragmentation is None else f"{m.external_fragmentation:.2%}",
                     human(m.largest_free_block),
                     str(m.grow_calls if m.grow_calls is not None else m.grow_events),
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

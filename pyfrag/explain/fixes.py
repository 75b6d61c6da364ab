"""Fixes derived from a trace's lifetimes, each proven by replaying it: what would have saved it.

Main entry points: `fixes(trace, blocks, run) -> list[Fix]` (the candidates), `replayed(fix,
replay)` (one replayed, on a model or on a real module) and `rank(fixes)`. Each fix is what the
app would change, expressed as the calls the allocator would then see:

- *region*: blocks that live to the end (all of them, or those of one tag) are copied into a
  region of their own, reserved at the start and sized from the trace: the allocator sees one
  allocation of the region and none of theirs, so they no longer sit between the holes;
- *reserve*: the largest request (the one that failed, if one did) is allocated at the start and
  kept for reuse;
- *reset*: the instance is restarted at the quietest point before the failure (the fewest live
  bytes since the live peak) and the live blocks are allocated again, packed
  (pyfrag.strategies.reset_at).

Ranked: no failed request (and no trap) first, then the lowest peak heap, then the fewest resets
(a reset restarts the app), then the lowest cost in bytes (held from the start that the app did
not hold, or copied by a reset).
"""

from dataclasses import dataclass, field, replace as _with

from ..report import human, plural
from ..trace import ALLOC, FREE, Trace

REGION_TAGS = 3          # region fixes for the tags whose to-end blocks pin the most


@dataclass
class Outcome:
    """A fix replayed: what the heap did."""
    failures: int
    first: object           # the first Failure, named at its event of the original trace
    peak_heap: int
    trap: object = None

    @property
    def ok(self):
        return not self.failures and self.trap is None


@dataclass
class Fix:
    kind: str                    # "none", "region", "reserve" or "reset"
    label: str                   # what it is, in a few words
    change: str                  # what the app would change (the first half of its sentence)
    source: Trace                # the trace as the app made it
    trace: Trace                 # the calls the allocator would then see (a reset: `source`)
    origin: list | None = None   # trace's events -> source's (None: an event the fix added)
    reserved: int = 0            # bytes held from the start that the app did not hold
    points: list = field(default_factory=list)    # a reset's events
    restored: int = 0            # bytes a reset copies (known once replayed)
    model: Outcome | None = None
    real: Outcome | None = None

    @property
    def outcome(self):
        """The real module's outcome where it was replayed there, else the model's."""
        return self.real or self.model

    @property
    def cost(self):
        return self.reserved + self.restored

    def key(self):
        # a reset restarts the app: at the same peak, any fix that keeps the instance comes first
        o = self.outcome
        return (not o.ok, o.failures, o.peak_heap, len(self.points), self.cost, self.kind != "none")

    def sentence(self, baseline):
        """What the app would change, and what it gives, in one sentence."""
        o, before = self.outcome, baseline.outcome
        if o.ok and before.first is not None:
            f = before.first
            gives = f"the {human(f.size)} {f.op} at {f.where} then fits"
        elif o.ok:
            gives = f"the peak heap is then {human(o.peak_heap)} (was {human(before.peak_heap)})"
        elif o.trap is not None:
            gives = f"the module still traps, at event {o.trap.index}"
        else:
            gives = f"it still fails: {o.first.label} at {o.first.where}"
        return f"{self.change}: {gives}"


def replayed(fix, replay):
    """The outcome of `fix` replayed with `replay(trace) -> Run` (a model's replay, or a fresh
    real module's); a reset's segments each get `replay`, on a fresh instance."""
    if fix.kind == "reset":
        from ..strategies import reset_at
        run = reset_at(fix.source, fix.points, replay)
        fix.restored = run.restored
    else:
        run = replay(fix.trace)
    first = run.oom
    if first is not None and fix.origin is not None:
        i = fix.origin[first.index]
        first = _with(first, index=0, where="the fix's allocation at the start") if i is None \
            else _with(first, index=i, where=fix.source.where(i))
    return Outcome(len(run.failures), first, run.metrics.peak_heap_bytes, run.trap)


def fixes(trace, blocks, run, pins=None):
    """The candidate fixes for `trace` (not replayed), the baseline ("none") first. `pins`
    (lifetimes.pinners at the first failure) orders the per-tag regions."""
    out = [Fix("none", "as it is", "change nothing", trace, trace)]
    target = run.oom.index if run.oom else len(trace)
    failed = {b for b in range(len(blocks)) if blocks.starts[b] < run.events
              and not run.addresses[blocks.starts[b]]}
    to_end = [b for b in range(len(blocks)) if blocks.ends[b] is None
              and blocks.starts[b] < target and b not in failed]
    if to_end and len(to_end) < len(blocks):
        out.append(_region(trace, blocks, to_end, "the blocks that live to the end"))
        by_tag = {}
        for b in to_end:
            if blocks.tags[b] is not None:
                by_tag.setdefault(blocks.tags[b], []).append(b)
        pins = pins or {}
        pinning = sorted(by_tag.items(), key=lambda kv: -sum(
            length for b in kv[1] for _, length in pins.get(b, ())))
        for tag, members in pinning[:REGION_TAGS] if len(by_tag) > 1 else ():
            out.append(_region(trace, blocks, members, f"the {tag} blocks that live to the end"))
    request = _largest_request(trace, run)
    if request is not None:
        out.append(_reserve(trace, blocks, request))
    quiet = _quietest(run, target, len(trace))
    if quiet is not None:
        out.append(Fix("reset", f"one reset at event {quiet}",
                       f"restart the instance at event {quiet}, its quietest point "
                       f"({human(run.live_bytes[quiet - 1])} live), and allocate the live blocks "
                       "again, packed", trace, trace, points=[quiet]))
    return out


def rank(fixes_):
    """Best first (see the module docstring); the baseline keeps its place among them."""
    return sorted(fixes_, key=Fix.key)


def describe(fixes_):
    """One line per fix, as ranked."""
    lines = []
    for f in fixes_:
        o = f.outcome
        verdict = "no failed request" if o.ok else \
            f"trap at event {o.trap.index}" if o.trap else \
            f"{plural(o.failures, 'failed request')}, the first a {o.first.label} at {o.first.where}"
        cost = [f"{human(f.reserved)} held from the start"] if f.reserved else []
        cost += [f"{plural(len(f.points), 'reset')} copying {human(f.restored)}"] if f.points else []
        lines.append(f"{f.label}: peak heap {human(o.peak_heap)}, {verdict}"
                     f" ({'real module' if f.real else 'model'})"
                     + (f"; cost: {', '.join(cost)}" if cost else ""))
    return lines


# -- the transforms ---------------------------------------------------------------

def _rebuilt(trace, drop, first=()):
    """(`trace` without the events in `drop`, after allocations of the (id, size, align) in
    `first`; its events' origins)."""
    t = Trace(trace.name, trace.description, trace.maximum)
    origin = [None] * len(first)
    for id, size, align in first:
        t.alloc(id, size, align, tag="fix")
    aligns, tags = trace.aligns, trace.tags
    for i, (op, id, size) in enumerate(zip(trace.ops, trace.ids, trace.sizes)):
        if i in drop:
            continue
        if op == ALLOC:
            t.alloc(id, size, aligns.get(i, 0), tags.get(i))
        elif op == FREE:
            t.free(id)
        else:
            t.realloc(id, size, tags.get(i))
        origin.append(i)
    return t, origin


def _events_of(blocks, members):
    drop = set()
    for b in members:
        drop.update(blocks.placed[b])
        if blocks.ends[b] is not None:
            drop.add(blocks.ends[b])
    return drop


def _fresh_id(trace):
    high = max(trace.ids, default=-1)
    return high + 1 if high < (1 << 63) - 1 else min(trace.ids) - 1


def _region(trace, blocks, members, what):
    size = sum(-(-blocks.sizes[b] // 16) * 16 for b in members)     # packed, 16-aligned
    t, origin = _rebuilt(trace, _events_of(blocks, members), [(_fresh_id(trace), size, 0)])
    return Fix("region", f"a {human(size)} region for {what}",
               f"copy {_described(blocks, members, what)} into a region of their own "
               f"({human(size)}), reserved at the start", trace, t, origin, reserved=size)


def _described(blocks, members, what):
    """The blocks in the app's words, by tag: "the images you keep, and the thumbnails,"."""
    count, size, every = {}, {}, {}
    for b in members:
        tag = blocks.tags[b]
        count[tag] = count.get(tag, 0) + 1
        size[tag] = size.get(tag, 0) + blocks.sizes[b]
    if None in count:
        return what
    for tag in blocks.tags:
        if tag in count:
            every[tag] = every.get(tag, 0) + 1
    parts = [f"the {tag if tag.endswith('s') else tag + 's'}"
             + ("" if count[tag] == every[tag] else " you keep")
             for tag in sorted(count, key=lambda t: -size[t])]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + ", and " + parts[-1] + ","


def _largest_request(trace, run):
    """The event of the request to reserve: the first that failed, else the largest alloc."""
    if run.oom is not None and trace.ops[run.oom.index] == ALLOC:
        return run.oom.index
    allocs = [i for i, op in enumerate(trace.ops) if op == ALLOC]
    return max(allocs, key=trace.sizes.__getitem__, default=None)


def _reserve(trace, blocks, event):
    size, align = trace.sizes[event], trace.aligns.get(event, 0)
    b = next(b for b in range(len(blocks)) if blocks.starts[b] == event)
    t, origin = _rebuilt(trace, _events_of(blocks, [b]), [(_fresh_id(trace), size, align)])
    return Fix("reserve", f"the {human(size)} request reserved at the start",
               f"allocate the {human(size)} buffer at the start and keep it for reuse",
               trace, t, origin, reserved=size)


def _quietest(run, target, n):
    """Where a reset would go: after the event with the fewest live bytes between the live peak
    and `target` (the latest of equals); None when that is the very start or end."""
    live = run.live_bytes
    end = min(target, run.events)
    if end < 2:
        return None
    peak = max(range(end), key=live.__getitem__)
    k = min(range(peak, end), key=lambda i: (live[i], -i)) + 1
    return k if 0 < k < n else None

"""Blocks and their lifetimes, straight from the trace, in groups; and which blocks pin the holes.

Main entry points: `blocks(trace) -> Blocks`, `groups(blocks) -> list[Group]` (by tag and by
size class), `pinners(blocks, run, k, spans, heap_end)` (the blocks that pin holes in the layout
before event k) and `pinned_bytes(group, pins)`: the free bytes a group holds apart.

A block is one id from its allocation to its free (a realloc moves or resizes it, the same block);
one never freed lives to the end. Its lifetime is counted in events, and its weight in bytes x
events. A *pinner* is a live block with free space on both sides: freeing or moving it would merge
the holes around it, so the free bytes of those holes are what it pins. The free space at the top
of the heap (up to the end of memory) is not a hole: anything can grow into it.
"""

from bisect import bisect_right
from dataclasses import dataclass, field

from ..trace import ALLOC, FREE


@dataclass
class Blocks:
    """Every block of a trace, in parallel lists indexed by block."""
    n: int                                              # events in the trace
    ids: list = field(default_factory=list)
    starts: list = field(default_factory=list)          # the event that allocated it
    ends: list = field(default_factory=list)            # the event that freed it, or None
    sizes: list = field(default_factory=list)           # the largest size it had
    tags: list = field(default_factory=list)            # the tag of its allocation, or None
    placed: list = field(default_factory=list)          # events that (re)placed it: alloc, reallocs

    def __len__(self):
        return len(self.ids)

    def lifetime(self, b):
        end = self.ends[b]
        return (self.n if end is None else end) - self.starts[b]

    def live_at(self, k):
        """The blocks live once events [0, k) have run."""
        return [b for b in range(len(self.ids))
                if self.starts[b] < k and (self.ends[b] is None or self.ends[b] >= k)]


def blocks(trace):
    """The trace's blocks. An alloc of an id still live leaks the old block (it lives to the end,
    as the replay loop leaves it); a free of an id not live frees nothing."""
    out = Blocks(len(trace))
    open_ = {}                                          # id -> block
    tags = trace.tags
    for i, (op, id, size) in enumerate(zip(trace.ops, trace.ids, trace.sizes)):
        if op == FREE:
            b = open_.pop(id, None)
            if b is not None:
                out.ends[b] = i
            continue
        b = open_.get(id) if op != ALLOC else None
        if b is None:
            b = open_[id] = len(out.ids)
            out.ids.append(id)
            out.starts.append(i)
            out.ends.append(None)
            out.sizes.append(size)
            out.tags.append(tags.get(i))
            out.placed.append([i])
        else:
            out.sizes[b] = max(out.sizes[b], size)
            out.placed[b].append(i)
    return out


@dataclass
class Group:
    """Blocks that share a tag or a size class."""
    kind: str                    # "tag" or "size"
    name: str                    # the tag, or the size class ("4.0 MiB-8.0 MiB")
    members: list                # block indices
    bytes: int                   # their sizes summed
    to_end: int                  # how many are never freed
    median_life: int             # lifetimes in events
    p90_life: int
    longest_life: int
    byte_events: int             # sum of size x lifetime
    pinned_peak: int | None = None       # free bytes its pinners hold apart at the peak heap
    pinned_failure: int | None = None    # ... and just before the first failed request

    @property
    def count(self):
        return len(self.members)


def size_class(size):
    """A block's size class, the power-of-two range it falls in: "2 KiB-4 KiB" holds the sizes
    over 2 KiB up to 4 KiB."""
    if size <= 16:
        return "0-16 B"
    low = 1 << (size - 1).bit_length() - 1
    return f"{_power(low)}-{_power(2 * low)}"


def _power(n):
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n >> shift} {unit}"
    return f"{n} B"


def groups(blocks):
    """Groups by tag (where the trace has tags) and by size class, biggest byte x events first."""
    by = {}
    for b in range(len(blocks)):
        tag = blocks.tags[b]
        if tag is not None:
            by.setdefault(("tag", tag), []).append(b)
        by.setdefault(("size", size_class(blocks.sizes[b])), []).append(b)
    out = [_group(blocks, kind, name, members) for (kind, name), members in by.items()]
    return sorted(out, key=lambda g: (g.kind != "tag", -g.byte_events))


def _group(blocks, kind, name, members):
    lives = sorted(blocks.lifetime(b) for b in members)
    return Group(kind, name, members, sum(blocks.sizes[b] for b in members),
                 sum(blocks.ends[b] is None for b in members), lives[len(lives) // 2],
                 lives[min(len(lives) - 1, len(lives) * 9 // 10)], lives[-1],
                 sum(blocks.sizes[b] * blocks.lifetime(b) for b in members))


def holes(spans, heap_end):
    """The free spans that are holes: all but the free space reaching the end of memory."""
    return [(start, length) for start, length, used in spans
            if not used and start + length < heap_end]


def pinners(blocks, run, k, spans, heap_end):
    """block -> the holes (start, length) it pins, for the blocks live before event k whose used
    run of the heap has a hole on each side."""
    starts = [s for s, _, _ in spans]
    kinds = {s: (length, used) for s, length, used in spans}
    hole = set(holes(spans, heap_end))
    out = {}
    for b in blocks.live_at(k):
        placed = [j for j in blocks.placed[b] if j < k]
        address = run.addresses[placed[-1]] if placed else 0
        if not address:
            continue                     # its allocation failed: it holds nothing
        u = bisect_right(starts, address) - 1
        if u < 0 or not kinds[starts[u]][1]:
            continue
        left = (starts[u - 1], kinds[starts[u - 1]][0]) if u > 0 else None
        right = (starts[u + 1], kinds[starts[u + 1]][0]) if u + 1 < len(starts) else None
        if left in hole and right in hole:
            out[b] = (left, right)
    return out


def pinned_bytes(group, pins):
    """The free bytes `group`'s blocks pin (from `pinners`): the holes next to any of them, each
    counted once."""
    seen = set()
    for b in group.members:
        seen.update(pins.get(b, ()))
    return sum(length for _, length in seen)

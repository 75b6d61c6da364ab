"""What the strategy allocators (arena, pool, hot-cold) share: sitting on a parent.

Main entry point: `Layered`, the base class of an allocator that takes its
memory in large pieces from another model (the *parent*) living in the same
linear memory, and hands out smaller blocks inside them.

Choosing the parent (default "first-fit"), two equivalent ways:

    Heap("arena:dlmalloc")                     # name convention, parsed by allocators.get
    Arena(memory, heap_base, parent="best-fit")   # constructor option

Names nest: "hot-cold:arena:bump" is a hot-cold split whose parent is an arena
on a bump allocator.

Tags: a replay calls the optional protocol hook `tag(label)` just before an
alloc or realloc event that carries a tag (and `Heap.malloc(..., tag=...)`
does too). Models that use tags mix in `Tagged`, which remembers the label
for that one request only; they read it with `take_tag()`. Only the outermost
model of a composition sees tags.
"""

from bisect import bisect_right
from functools import cache

from .base import Allocator, merge_spans


class Layered(Allocator):
    parent_name = "first-fit"

    def __init__(self, memory, heap_base, parent=None):
        from . import get
        super().__init__(memory, heap_base)
        self.parent = get(parent or self.parent_name)(memory, heap_base)

    @classmethod
    @cache
    def over(cls, parent):
        """This model on the parent named `parent`: a subclass Heap can construct."""
        from . import get
        parent_cls = get(parent)
        return type(cls.__name__, (cls,), {
            "name": f"{cls.name}:{parent_cls.name}",
            "parent_name": parent,
            "default_start": parent_cls.default_start,
            "summary": f"{cls.summary} (parent: {parent_cls.name})",
        })

    # -- inspection -------------------------------------------------------

    def spans(self):
        return overlay(self.parent.spans(), self.inner_spans())

    def inner_spans(self):
        """Spans inside the pieces taken from the parent, in address order; each
        lies inside one block the parent counts as used."""
        raise NotImplementedError

    def pieces(self):
        """(start, end) of every piece this model holds from the parent."""
        raise NotImplementedError

    def check(self):
        """The parent's invariants, then that every piece taken from it is still a block the
        parent counts as used (a parent that freed or reused one would hand it out twice).
        A subclass calls this first, then checks its own state."""
        self.parent.check()
        used = [(s, s + n) for s, n, u in self.parent.spans() if u]
        starts = [s for s, _ in used]
        for start, end in self.pieces():
            k = bisect_right(starts, start) - 1
            assert k >= 0 and end <= used[k][1], \
                f"piece [{start:#x}, {end:#x}) is not a block {self.parent.name} holds as used"


class Tagged:
    """Mixin for models that read trace tags: the `tag(label)` hook and `take_tag()`."""

    pending_tag = None

    def tag(self, label):
        self.pending_tag = label

    def take_tag(self):
        """The tag of the request being served (None if it had none); consumed."""
        label, self.pending_tag = self.pending_tag, None
        return label


# -- span helpers -----------------------------------------------------------


def fill(pieces, live):
    """Spans covering `pieces` (sorted (start, end)): `live` (sorted (start, end), each
    inside a piece) used, the rest free."""
    raw, j, n = [], 0, len(live)
    for start, end in pieces:
        pos = start
        while j < n and live[j][0] < end:
            s, e = live[j]
            raw.append((pos, s - pos, False))
            raw.append((s, e - s, True))
            pos = e
            j += 1
        raw.append((pos, end - pos, False))
    return [s for s in raw if s[1] > 0]


def overlay(outer, inner):
    """`outer` spans with the (sorted) `inner` spans written over them; inner spans lie
    inside outer used spans, so a sweep over both in address order suffices."""
    raw, j, n = [], 0, len(inner)
    for start, length, used in outer:
        end, pos = start + length, start
        while j < n and inner[j][0] < end:
            s, l, u = inner[j]
            raw.append((pos, s - pos, used))
            raw.append((s, l, u))
            pos = s + l
            j += 1
        raw.append((pos, end - pos, used))
    return merge_spans(raw)

"""Object pool on a parent model: the article's strategy 2.

Main entry point: `Pool` (registered as "pool"; "pool:<parent>" picks the
parent, default first-fit). Small requests (up to the largest class, 1 KiB)
are rounded up to a slot class and served from slabs of SLAB bytes taken from
the parent, one class per slab. A freed slot goes on its class's free list
(last in, first out, like an app-level pool) and is reused only for that
class, so churn of same-sized objects never leaves mismatched holes; slabs are
kept for good, never handed back. Larger requests, and requests aligned beyond
8, go to the parent unchanged. Slots carry no header: a real pool finds the
class from the slab an address lies in.
"""

from bisect import bisect_left

from .base import align_up, check_power_of_two
from .layered import Layered, fill

SLAB = 64 * 1024
# slot sizes: multiples of 8, about four per octave, up to 1 KiB
CLASSES = (8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256,
           320, 384, 448, 512, 640, 768, 896, 1024)


class Pool(Layered):
    name = "pool"
    summary = "fixed-size slot classes on per-class free lists in slabs from a parent"

    def __init__(self, memory, heap_base, parent=None):
        super().__init__(memory, heap_base, parent)
        self.free_slots = [[] for _ in CLASSES]   # per class: free slot addresses (a stack)
        self.carve = [(0, 0)] * len(CLASSES)      # per class: untouched room (next, end) of its newest slab
        self.slabs = []                           # (start, end, class index), every slab taken
        self.slot = {}                            # live slot address -> class index

    # -- alloc ------------------------------------------------------------

    def malloc(self, size):
        if size > CLASSES[-1]:
            return self.parent.malloc(size)
        c = bisect_left(CLASSES, size)
        stack = self.free_slots[c]
        if stack:
            ptr = stack.pop()
        else:
            ptr, end = self.carve[c]
            if ptr + CLASSES[c] > end:
                ptr = self._new_slab(c)
                if not ptr:
                    return 0
                end = self.carve[c][1]
            self.carve[c] = (ptr + CLASSES[c], end)
        self.slot[ptr] = c
        return ptr

    def _new_slab(self, c):
        start = self.parent.malloc(SLAB)
        if not start:
            return 0
        ptr = align_up(start, 8)
        self.slabs.append((start, start + SLAB, c))
        self.carve[c] = (ptr, start + SLAB)
        return ptr

    def aligned_alloc(self, align, size):
        check_power_of_two(align, self.name)
        if align <= 8:
            return self.malloc(size)
        return self.parent.aligned_alloc(align, size)

    def unsupported(self, size, align=None):
        # the requests passed on to the parent are the parent's to refuse
        if align and align > 8:
            return self.parent.unsupported(size, align)
        return self.parent.unsupported(size) if size > CLASSES[-1] else None

    def realloc(self, ptr, size):
        c = self.slot.get(ptr)
        if c is None:
            if size > CLASSES[-1]:
                return self.parent.realloc(ptr, size)
        elif size <= CLASSES[c] and (c == 0 or size > CLASSES[c - 1]):
            return ptr                  # still the same class: the slot fits as it is
        new = self.malloc(size)
        if new:
            self.free(ptr)
        return new

    # -- free -------------------------------------------------------------

    def free(self, ptr):
        c = self.slot.pop(ptr, None)
        if c is None:
            self.parent.free(ptr)
        else:
            self.free_slots[c].append(ptr)

    # -- inspection -------------------------------------------------------

    def pieces(self):
        return sorted((s, e) for s, e, _ in self.slabs)

    def inner_spans(self):
        live = sorted((ptr, ptr + CLASSES[c]) for ptr, c in self.slot.items())
        return fill(self.pieces(), live)

    def check(self):
        super().check()
        slabs = sorted(self.slabs)
        for (_, a_end, _), (b_start, _, _) in zip(slabs, slabs[1:]):
            assert a_end <= b_start, f"pool slabs overlap at {b_start:#x}"
        starts = [s for s, _, _ in slabs]
        seen = set()

        def slab_of(ptr, c, what):
            k = bisect_left(starts, ptr + 1) - 1
            assert k >= 0, f"{what} {ptr:#x} lies in no slab"
            start, end, sc = slabs[k]
            assert sc == c and ptr + CLASSES[c] <= end, f"{what} {ptr:#x} not in a class-{c} slab"
            assert (ptr - align_up(start, 8)) % CLASSES[c] == 0, f"{what} {ptr:#x} is off the slot grid"
            assert ptr not in seen, f"slot {ptr:#x} is both free and live, or free twice"
            seen.add(ptr)

        for ptr, c in self.slot.items():
            slab_of(ptr, c, "live slot")
        for c, stack in enumerate(self.free_slots):
            for ptr in stack:
                slab_of(ptr, c, "free slot")
        for ptr, c in list(self.slot.items()) + [(p, c) for c, st in enumerate(self.free_slots)
                                                 for p in st]:
            nxt, end = self.carve[c]
            assert not nxt <= ptr < end, f"slot {ptr:#x} lies in its class's uncarved room"

"""Binary buddy allocator: power-of-two blocks that split in halves and merge with their buddy.

Main entry point: `Buddy.malloc`. Every block is 2**order bytes (at least 16)
and lies at an offset from the region base that is a multiple of its size, so
a block's buddy is found by flipping one bit: `offset ^ size`. A request takes
the lowest-addressed free block of the smallest order that holds it plus an
8-byte header (the header records the order, as a C buddy allocator's free()
needs it), splitting larger blocks in halves on the way down; a freed block
merges with its buddy for as long as the buddy is free and whole.

Growth is page-wise, not by doubling: the region is always all of
[base, memory end), cut into the largest aligned power-of-two blocks that fit
(64 KiB pages, so mostly 64 KiB blocks and their merges). When no free block
is large enough for order k, memory grows just far enough that an aligned
2**k block fits in the free run at the top of the region plus the new space
(which merges with that run); space skipped for alignment becomes free
blocks. This keeps each `memory.grow` as small as a Wasm allocator's, at the
price that a block larger than the memory grown so far can cost up to twice
its size in growth. Internal fragmentation (the rounding to a power of two)
shows as used bytes in `spans()`.
"""

from bisect import bisect_left, insort

from .base import Allocator, align_up, check_power_of_two, merge_spans

HEADER = 8
MIN_ORDER = 4          # 16-byte blocks: a header and 8 bytes of payload
MAX_ORDER = 64         # past any memory64 address space


def order_for(nbytes):
    """The smallest order whose block holds `nbytes`."""
    k = (nbytes - 1).bit_length()
    return k if k > MIN_ORDER else MIN_ORDER


class Buddy(Allocator):
    name = "buddy"
    summary = "binary buddy: power-of-two blocks, split and merged with their buddy; grows page-wise"

    def __init__(self, memory, heap_base):
        super().__init__(memory, heap_base)
        self.base = align_up(heap_base, 1 << MIN_ORDER)
        self.end = 0            # region size: [base, base + end) is cut into blocks
        self.free_lists = [[] for _ in range(MAX_ORDER + 1)]   # order -> sorted offsets
        self.nonempty = 0       # bit k set when free_lists[k] is not empty
        # address returned -> order of its block: a small int, which costs no memory
        self.used = {}
        # address returned -> block offset, only where the address is not offset + HEADER
        # (aligned requests): everywhere else the offset follows from the address
        self.padded = {}
        self._extend(memory.byte_length)

    # -- free blocks ------------------------------------------------------

    def _is_free(self, off, order):
        offsets = self.free_lists[order]
        i = bisect_left(offsets, off)
        return i < len(offsets) and offsets[i] == off

    def _push(self, off, order):
        insort(self.free_lists[order], off)
        self.nonempty |= 1 << order

    def _pop(self, off, order):
        offsets = self.free_lists[order]
        del offsets[bisect_left(offsets, off)]
        if not offsets:
            self.nonempty &= ~(1 << order)

    def _release(self, off, order):
        """Free a block, merging it with its buddy as far as possible."""
        while self._is_free(off ^ (1 << order), order):
            self._pop(off ^ (1 << order), order)
            off &= ~(1 << order)
            order += 1
        self._push(off, order)

    def _extend(self, memory_end):
        """Cut the new space [base + end, memory_end) into aligned blocks, all free."""
        new_end = (memory_end - self.base) & -(1 << MIN_ORDER)
        off = self.end
        while off < new_end:
            fits = (new_end - off).bit_length() - 1
            order = min(fits, (off & -off).bit_length() - 1) if off else fits
            self._release(off, order)
            off += 1 << order
        self.end = max(self.end, new_end)

    def _free_top(self):
        """Start of the run of free blocks that reaches the end of the region: new space
        merges with it, so growth only has to complete an aligned block from there."""
        cursor = self.end
        while cursor:
            # a block ending at the cursor is aligned to its size: no larger than the
            # cursor's own alignment (the lowest set bit) allows
            for order in range(MIN_ORDER, (cursor & -cursor).bit_length()):
                if self._is_free(cursor - (1 << order), order):
                    cursor -= 1 << order
                    break
            else:
                break
        return cursor

    # -- alloc ------------------------------------------------------------

    def _take(self, order):
        """Offset of a free block of `order`, split from the smallest larger one; None if none."""
        bigger = self.nonempty >> order
        if not bigger:
            size = 1 << order
            if not self.grow_to(self.base + align_up(self._free_top(), size) + size):
                return None
            self._extend(self.memory.byte_length)
            bigger = self.nonempty >> order
        have = order + (bigger & -bigger).bit_length() - 1
        off = self.free_lists[have][0]
        self._pop(off, have)
        while have > order:           # keep the lower half, free the upper one
            have -= 1
            self._push(off + (1 << have), have)
        return off

    def malloc(self, size):
        order = order_for(size + HEADER)
        off = self._take(order)
        if off is None:
            return 0
        ptr = self.base + off + HEADER
        self.used[ptr] = order
        return ptr

    def aligned_alloc(self, align, size):
        check_power_of_two(align, self.name)
        if align <= self.alignment:
            return self.malloc(size)
        # the header plus padding to the alignment take at most `align` bytes
        order = order_for((size or 1) + align)
        off = self._take(order)
        if off is None:
            return 0
        ptr = align_up(self.base + off + HEADER, align)
        self.used[ptr] = order
        if ptr != self.base + off + HEADER:
            self.padded[ptr] = off
        return ptr

    def _offset(self, ptr):
        off = self.padded.get(ptr)
        return ptr - self.base - HEADER if off is None else off

    # -- free -------------------------------------------------------------

    def free(self, ptr):
        off = self._offset(ptr)
        self.padded.pop(ptr, None)
        self._release(off, self.used.pop(ptr))

    def realloc(self, ptr, size):
        off, order = self._offset(ptr), self.used[ptr]
        want = order_for(ptr - self.base - off + (size or 1))
        if want > order:
            return super().realloc(ptr, size)
        while order > want:           # shrink in place: hand back upper halves
            order -= 1
            self._push(off + (1 << order), order)
        self.used[ptr] = order
        return ptr

    # -- inspection -------------------------------------------------------

    def _blocks(self):
        """(offset, order, used) of every block, in address order."""
        return sorted([(self._offset(p), order, True) for p, order in self.used.items()]
                      + [(off, order, False) for order, offsets in enumerate(self.free_lists)
                         for off in offsets])

    def spans(self):
        raw = [(self.heap_base, self.base - self.heap_base, True)]
        raw += [(self.base + off, 1 << order, used) for off, order, used in self._blocks()]
        top = self.base + self.end
        raw.append((top, self.memory.byte_length - top, False))
        return merge_spans(raw)

    def check(self):
        assert 0 <= self.memory.byte_length - self.base - self.end < 1 << MIN_ORDER \
            or self.end == 0, "region does not reach the end of memory"
        cursor = 0
        for off, order, used in self._blocks():
            assert off == cursor, f"gap or overlap at offset {off:#x} (expected {cursor:#x})"
            assert off % (1 << order) == 0, f"block at {off:#x} not aligned to its size"
            assert used or not self._is_free(off ^ (1 << order), order), \
                f"free buddies at {off:#x} and {off ^ (1 << order):#x} not merged"
            cursor = off + (1 << order)
        assert cursor == self.end, f"blocks end at {cursor:#x}, region at {self.end:#x}"
        for ptr, order in self.used.items():
            off = self._offset(ptr)
            assert self.base + off + HEADER <= ptr < self.base + off + (1 << order)
        assert set(self.padded) <= set(self.used), "offset kept for a block that is gone"
        for order, offsets in enumerate(self.free_lists):
            assert offsets == sorted(set(offsets)), f"order {order} list out of order"
            assert bool(offsets) == bool(self.nonempty >> order & 1), f"order {order} mask"

"""Free-list allocators: address-ordered first-fit, best-fit and next-fit, each with
and without coalescing of adjacent free blocks.

Main entry point: `FreeList` (one implementation; the six registered models are
declarations below that pick a placement policy and the coalescing flag).

Block layout, as a classic boundary-tag allocator in linear memory has it:

    block start  | 8-byte header (size word + flags) | payload ... |
                 ^ block                             ^ block + 8 = address returned

Block sizes are multiples of 8 and at least MIN_BLOCK (room for the header and
the two free-list links a real allocator keeps in a free block). [start, top) is
cut into blocks with no gaps; [top, memory end) is a sliver too small for a block
(it only exists before the first growth). When no free block fits, the top is
extended: the last block is grown if it is free (with or without coalescing),
otherwise a new block starts at the top; memory grows by just enough pages.

Placement is exact; the indexes only make it fast (see fits.py):
    first-fit   the lowest-addressed free block that fits
    next-fit    the lowest-addressed fitting block at or above the end of the
                previous allocation, wrapping round to the bottom
    best-fit    the smallest fitting block, the lowest address among equals
A fitting block is split from its front; the rest stays free if it can hold a
block. Without coalescing, freed neighbours stay separate blocks forever.
"""

from .base import Allocator, align_up, check_power_of_two, merge_spans
from .fits import AddressIndex, SizeIndex

HEADER = 8
MIN_BLOCK = 16


def block_size(size):
    """Bytes a request of `size` occupies: header + payload, 8-aligned, at least MIN_BLOCK."""
    need = (size + HEADER + 7) & -8
    return need if need > MIN_BLOCK else MIN_BLOCK


class FreeList(Allocator):
    name = "free-list"
    coalesce = True
    index_type = AddressIndex      # placement policy: see fits.py
    next_fit = False

    def __init__(self, memory, heap_base):
        super().__init__(memory, heap_base)
        # the first block starts where its payload is 8-aligned
        self.start = self.top = align_up(heap_base, 8)
        self.used = {}         # address returned (block start + HEADER) -> block size
        self.free_at = {}      # block start -> size, free blocks
        self.free_end = {}     # block end -> start, free blocks (the boundary tag)
        self.index = self.index_type(self.free_at)
        self.rover = 0         # next-fit: where the previous allocation ended (else 0)
        self._extend_top(memory.byte_length)

    # -- free block bookkeeping -------------------------------------------

    def _add_free(self, b, size):
        self.free_at[b] = size
        self.free_end[b + size] = b
        self.index.add(b, size)

    def _remove_free(self, b, size):
        del self.free_at[b]
        del self.free_end[b + size]
        self.index.remove(b, size)

    def _resize_free(self, b, size, nb, nsize):
        """Free block [b, b+size) becomes [nb, nb+nsize); no other free block lies between."""
        del self.free_at[b]
        del self.free_end[b + size]
        self.free_at[nb] = nsize
        self.free_end[nb + nsize] = nb
        self.index.move(b, size, nb, nsize)

    def _extend_top(self, end):
        """Turn [top, end) into free space: it extends the last block if that is free."""
        last = self.free_end.get(self.top)
        if last is not None:
            self._resize_free(last, self.top - last, last, end - last)
            self.top = end
        elif end - self.top >= MIN_BLOCK:
            self._add_free(self.top, end - self.top)
            self.top = end

    # -- alloc ------------------------------------------------------------

    def malloc(self, size):
        need = block_size(size)
        b = self.index.find(need, self.rover)
        if b is None:
            b = self._grow_for(need)
            if b is None:
                return 0
        return self._carve(b, self.free_at[b], need, b)

    def _grow_for(self, need):
        """Grow memory so that a free block at the top holds `need` bytes; its start, or None."""
        last = self.free_end.get(self.top)
        b = self.top if last is None else last
        if not self.grow_to(b + need):
            return None
        self._extend_top(self.memory.byte_length)
        return b if b in self.free_at else None

    def _carve(self, b, size, need, at):
        """Use [at, at+need) of free block [b, b+size) for a live block, the rest stays
        free; returns the block's address."""
        head, tail = at - b, b + size - at - need
        if tail < MIN_BLOCK:
            need += tail
            tail = 0
        if head:
            self._resize_free(b, size, b, head)
            if tail:
                self._add_free(at + need, tail)
        elif tail:
            self._resize_free(b, size, at + need, tail)
        else:
            self._remove_free(b, size)
        if self.next_fit:
            self.rover = at + need
        # the returned int is also the dict key, so the caller's copy costs nothing more
        ptr = at + HEADER
        self.used[ptr] = need
        return ptr

    def aligned_alloc(self, align, size):
        check_power_of_two(align, self.name)
        if align <= self.alignment:
            return self.malloc(size)
        # room for the worst-case padding, which must itself be a free block
        need = block_size(size)
        padded = need + align + MIN_BLOCK
        b = self.index.find(padded, self.rover)
        if b is None:
            b = self._grow_for(padded)
            if b is None:
                return 0
        at = align_up(b + HEADER, align) - HEADER
        while 0 < at - b < MIN_BLOCK:
            at += align
        return self._carve(b, self.free_at[b], need, at)

    # -- free -------------------------------------------------------------

    def free(self, ptr):
        size = self.used.pop(ptr)
        b = ptr - HEADER
        if not self.coalesce:
            self._add_free(b, size)
            return
        end = b + size
        nsize = self.free_at.get(end)
        prev = self.free_end.get(b)
        if prev is not None:
            if nsize is not None:
                self._remove_free(end, nsize)
                size += nsize
            self._resize_free(prev, b - prev, prev, end + (nsize or 0) - prev)
        elif nsize is not None:
            self._resize_free(end, nsize, b, size + nsize)
        else:
            self._add_free(b, size)

    def realloc(self, ptr, size):
        have, need = self.used[ptr], block_size(size)
        if need <= have:
            if have - need >= MIN_BLOCK:           # give the tail back
                self.used[ptr] = need
                self.used[ptr + need] = have - need
                self.free(ptr + need)
            return ptr
        end = ptr - HEADER + have
        nsize = self.free_at.get(end) if self.coalesce else None
        if nsize is not None and have + nsize >= need:
            # grow in place into the free block that follows
            rest = have + nsize - need
            if rest < MIN_BLOCK:
                self._remove_free(end, nsize)
                self.used[ptr] = have + nsize
            else:
                self._resize_free(end, nsize, end - have + need, rest)
                self.used[ptr] = need
            return ptr
        return super().realloc(ptr, size)

    # -- inspection -------------------------------------------------------

    def _blocks(self):
        """(start, size, used) of every block, in address order."""
        return sorted([(p - HEADER, s, True) for p, s in self.used.items()]
                      + [(b, s, False) for b, s in self.free_at.items()])

    def spans(self):
        raw = [(self.heap_base, self.start - self.heap_base, True)]
        raw += self._blocks()
        raw.append((self.top, self.memory.byte_length - self.top, False))
        return merge_spans(raw)

    def check(self):
        assert self.heap_base <= self.start <= self.top <= self.memory.byte_length
        assert self.memory.byte_length - self.top < MIN_BLOCK, \
            f"unused space [{self.top:#x}, {self.memory.byte_length:#x}) above the top"
        assert (self.start + HEADER) % self.alignment == 0
        cursor, prev_free = self.start, False
        for b, size, used in self._blocks():
            assert b == cursor, f"gap or overlap at {b:#x} (expected {cursor:#x})"
            assert size >= MIN_BLOCK and size % 8 == 0, f"bad block size {size} at {b:#x}"
            if not used:
                assert self.free_end.get(b + size) == b, f"boundary tag of {b:#x} missing"
                assert not (self.coalesce and prev_free), f"free blocks not merged at {b:#x}"
            prev_free = not used
            cursor = b + size
        assert cursor == self.top, f"blocks end at {cursor:#x}, top is {self.top:#x}"
        assert len(self.free_end) == len(self.free_at)
        self.index.check(self.free_at)


# -- the registered models ------------------------------------------------

class FirstFit(FreeList):
    name = "first-fit"
    summary = "address-ordered first-fit free list, coalescing neighbours"


class BestFit(FreeList):
    name = "best-fit"
    summary = "best-fit free list (smallest block that fits), coalescing neighbours"
    index_type = SizeIndex


class NextFit(FreeList):
    name = "next-fit"
    summary = "next-fit free list (search resumes after the last allocation), coalescing"
    next_fit = True


class FirstFitNoCoalesce(FirstFit):
    name = "first-fit-nocoalesce"
    summary = "address-ordered first-fit free list; freed neighbours are never merged"
    coalesce = False


class BestFitNoCoalesce(BestFit):
    name = "best-fit-nocoalesce"
    summary = "best-fit free list; freed neighbours are never merged"
    coalesce = False


class NextFitNoCoalesce(NextFit):
    name = "next-fit-nocoalesce"
    summary = "next-fit free list; freed neighbours are never merged"
    coalesce = False

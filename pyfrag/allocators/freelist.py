"""Free-list allocators: address-ordered first-fit, best-fit and next-fit, each with
and without coalescing of adjacent free blocks.

Main entry points: `Merging` and `Unmerged` (the two ways of keeping the heap's
blocks, sharing everything in `FreeList`); the six registered models at the
bottom pick one of them and a placement policy.

Block layout, as a classic boundary-tag allocator in linear memory has it:

    block start  | 8-byte header (size word + flags) | payload ... |
                 ^ block                             ^ block + 8 = address returned

Block sizes are multiples of 8 and at least MIN_BLOCK (room for the header and
the two free-list links a real allocator keeps in a free block). [start, top) is
cut into blocks with no gaps; [top, memory end) is a sliver too small for a block
(it only exists before the first growth). When no free block fits, the top is
extended: the last block is grown if it is free (with or without coalescing),
otherwise a new block starts at the top; memory grows by just enough pages.

Placement is exact; the structures in fits.py only make it fast:
    first-fit   the lowest-addressed free block that fits
    next-fit    the lowest-addressed fitting block at or above the end of the
                previous allocation, wrapping round to the bottom
    best-fit    the smallest fitting block, the lowest address among equals
A fitting block is split from its front; the rest stays free if it can hold a
block. Without coalescing, freed neighbours stay separate blocks forever.

How the blocks are kept differs, because the two kinds of heap differ:
coalescing needs every block's neighbours (`Merging`: a BlockMap of all blocks
in address order), while a heap that never coalesces holds tens to hundreds of
free blocks per live one and needs no neighbours at all (`Unmerged`: live blocks
in a dict, free blocks only in the policy's index), which makes it about twice
as fast.

realloc shrinks in place and frees the tail; it grows in place into a free
neighbour only when coalescing, otherwise it moves (malloc, then free).
aligned_alloc looks for a block of size + alignment + MIN_BLOCK, so that any
block it finds can be aligned; the padding in front stays a free block.
"""

from .base import Allocator, align_up, check_power_of_two, merge_spans
from .fits import (CLASS_OF, CLASSED, AddressBins, BlockMap, FreeMap, SizeBins,
                   size_class)

HEADER = 8
MIN_BLOCK = 16


def _ignore(b, size):
    """The free-block report of policies that keep no index of their own."""


def block_size(size):
    """Bytes a request of `size` occupies: header + payload, 8-aligned, at least MIN_BLOCK."""
    need = (size + HEADER + 7) & -8
    return need if need > MIN_BLOCK else MIN_BLOCK


class FreeList(Allocator):
    """What both ways of keeping blocks share: the request paths and the checks.
    A subclass provides `_find(need)` and `_grow_for(need)`, both giving the free block
    to use as (start, size, k, i) or None, where (k, i) is its position in the
    structure searched or (None, None); `_carve`, `layout` and `_check_store`."""

    name = "free-list"
    next_fit = False

    def __init__(self, memory, heap_base):
        super().__init__(memory, heap_base)
        # the first block starts where its payload is 8-aligned
        self.start = align_up(heap_base, 8)

    def malloc(self, size):
        need = (size + HEADER + 7) & -8         # block_size(size), inline on the hot path
        if need < MIN_BLOCK:
            need = MIN_BLOCK
        found = self._find(need) or self._grow_for(need)
        if found is None:
            return 0
        b = found[0]
        return self._carve(need, b, *found)

    def aligned_alloc(self, align, size):
        check_power_of_two(align, self.name)
        if align <= self.alignment:
            return self.malloc(size)
        # room for the worst-case padding, which must itself be a free block
        need = block_size(size)
        padded = need + align + MIN_BLOCK
        found = self._find(padded) or self._grow_for(padded)
        if found is None:
            return 0
        b = found[0]
        at = align_up(b + HEADER, align) - HEADER
        while 0 < at - b < MIN_BLOCK:
            at += align
        return self._carve(need, at, *found)

    # -- inspection ---------------------------------------------------------

    def spans(self):
        top = self.top
        raw = [(self.heap_base, self.start - self.heap_base, True)]
        raw += self.layout()
        raw.append((top, self.memory.byte_length - top, False))
        return merge_spans(raw)

    def free_blocks(self):
        """(start, size) of every free block, in address order."""
        return [(b, size) for b, size, used in self.layout() if not used]

    def check(self):
        top = self.top
        assert self.heap_base <= self.start <= top <= self.memory.byte_length
        assert self.memory.byte_length - top < MIN_BLOCK, \
            f"unused space [{top:#x}, {self.memory.byte_length:#x}) above the top"
        assert (self.start + HEADER) % self.alignment == 0
        cursor, prev_free = self.start, False
        for b, size, used in self.layout():
            assert b == cursor, f"block at {b:#x}, expected {cursor:#x}"
            assert size >= MIN_BLOCK and size % 8 == 0, f"bad block size {size} at {b:#x}"
            assert used or not (self.merges and prev_free), f"free blocks not merged at {b:#x}"
            prev_free = not used
            cursor = b + size
        assert cursor == top, f"blocks end at {cursor:#x}, top is {top:#x}"
        self._check_store()


# -- coalescing: every block in a block map ------------------------------------------

class Merging(FreeList):
    merges = True

    def __init__(self, memory, heap_base):
        super().__init__(memory, heap_base)
        self.blocks = BlockMap(self.start)     # every block; its `top` is where they end
        self._find, self._freed, self._taken = self._policy()
        self._extend_top(memory.byte_length)

    @property
    def top(self):
        return self.blocks.top

    def _policy(self):
        """(find, freed, taken) for this policy, bound once because they run per event:
        find(need) -> (start, size, k, i) of the free block to use or None, where (k, i)
        is its block-map position or (None, None) if the policy does not know it;
        freed(b, size) / taken(b, size) report a free block appearing / disappearing
        (split, merged or allocated). First-fit and next-fit search the block map
        (next-fit moves its rover) and need no reports."""
        find = self.blocks.next_fit if self.next_fit else self.blocks.first_fit
        return find, _ignore, _ignore

    # -- growth -------------------------------------------------------------

    def _last(self):
        """Position of the block that ends at the top."""
        chunks = self.blocks.chunks
        return len(chunks) - 1, len(chunks[-1]) - 1

    def _extend_top(self, end):
        """Turn [top, end) into free space: it extends the last block if that is free."""
        blocks = self.blocks
        top = blocks.top
        if blocks.chunks and blocks.marks[-1][-1]:
            b = blocks.chunks[-1][-1]
            self._taken(b, top - b)
            blocks.top = end
            blocks.set_mark(*self._last(), size_class(end - b))
            self._freed(b, end - b)
        elif end - top >= MIN_BLOCK:
            blocks.insert(top, size_class(end - top))
            blocks.top = end
            self._freed(top, end - top)

    def _grow_for(self, need):
        """Grow memory until the top free block holds `need` bytes: (start, size, k, i) as
        `_find` gives it, or None if memory cannot grow that far."""
        blocks = self.blocks
        b = blocks.chunks[-1][-1] if blocks.chunks and blocks.marks[-1][-1] else blocks.top
        if not self.grow_to(b + need):
            return None
        self._extend_top(self.memory.byte_length)
        return (b, blocks.top - b) + self._last()

    # -- alloc --------------------------------------------------------------

    def _carve(self, need, at, b, size, k, i):
        """Use [at, at+need) of free block [b, b+size) at position (k, i) for a live block,
        the rest stays free; returns the block's address."""
        head, tail = at - b, b + size - at - need
        if tail < MIN_BLOCK:
            need += tail
            tail = 0
        blocks = self.blocks
        self._taken(b, size)
        if k is None:
            k, i = blocks.locate(b)
        if head:
            blocks.set_mark(k, i, size_class(head))
            self._freed(b, head)
            blocks.insert(at, 0)
            if tail:
                blocks.insert(at + need, size_class(tail))
        else:
            blocks.marks[k][i] = 0          # a used mark never raises the chunk's bound
            if tail:
                blocks.insert_at(k, i + 1, at + need,
                                 CLASS_OF[tail >> 3] if tail < CLASSED else 255)
        if tail:
            self._freed(at + need, tail)
        if self.next_fit:
            blocks.rover = at + need
        return at + HEADER

    # -- free ---------------------------------------------------------------

    def free(self, ptr):
        b = ptr - HEADER
        blocks = self.blocks
        k, i, end, after, before = blocks.around(b)
        start = b
        marks = blocks.marks
        if after and marks[after[0]][after[1]]:
            n_end = blocks.end_of(*after)
            self._taken(end, n_end - end)
            blocks.delete_at(*after)        # lies after (k, i): that stays valid
            end = n_end
        if before and marks[before[0]][before[1]]:
            start = blocks.chunks[before[0]][before[1]]
            self._taken(start, b - start)
            blocks.delete_at(k, i)          # lies after `before`: that stays valid
            k, i = before
        size = end - start
        blocks.set_mark(k, i, CLASS_OF[size >> 3] if size < CLASSED else 255)
        self._freed(start, size)

    def realloc(self, ptr, size):
        b = ptr - HEADER
        blocks = self.blocks
        k, i, end, after, _ = blocks.around(b)
        need = block_size(size)
        if need <= end - b:
            if end - b - need >= MIN_BLOCK:        # give the tail back as a freed block
                blocks.insert_at(k, i + 1, b + need, 0)
                self.free(b + need + HEADER)
            return ptr
        if after and blocks.marks[after[0]][after[1]]:
            n_end = blocks.end_of(*after)
            if n_end - b >= need:                # grow in place into the free neighbour
                self._taken(end, n_end - end)
                rest = n_end - b - need
                if rest < MIN_BLOCK:
                    blocks.delete_at(*after)
                else:
                    blocks.move(end, b + need, size_class(rest))
                    self._freed(b + need, rest)
                return ptr
        return super().realloc(ptr, size)

    # -- inspection ---------------------------------------------------------

    def layout(self):
        """(start, size, used) of every block, in address order."""
        return self.blocks.blocks()

    def _check_store(self):
        self.blocks.check()
        self._check_policy()

    def _check_policy(self):
        """Invariants of the policy's own index (first-fit and next-fit keep none)."""


class BestFitPolicy(Merging):
    """Free blocks also indexed by size."""

    def __init__(self, memory, heap_base):
        self.by_size = SizeBins(memory.max_bytes.bit_length())
        super().__init__(memory, heap_base)

    def _policy(self):
        return self.by_size.find, self.by_size.add, self.by_size.remove

    def _check_policy(self):
        self.by_size.check(self.free_blocks())


# -- never coalescing: live blocks in a dict, free blocks in the policy's index -------

class Unmerged(FreeList):
    """A block's bounds never change once it exists except when a free one is split, so
    a live block is just start -> size, and the free ones live only in `index` (an
    AddressBins, SizeBins or FreeMap of fits.py: add / remove / find)."""

    merges = False
    Index = None

    def __init__(self, memory, heap_base):
        super().__init__(memory, heap_base)
        self.live = {}                  # start -> size of every used block
        self.top = self.start           # where the last block ends
        self.last = None                # start of the last block when it is free
        self.index = self.Index(memory.max_bytes.bit_length())
        index = self.index
        self._find = index.next_fit if self.next_fit else index.find
        self._add, self._remove, self._shrink = index.add, index.remove, index.shrink
        self._extend_top(memory.byte_length)

    def _extend_top(self, end):
        """Turn [top, end) into free space: it extends the last block if that is free."""
        last, top = self.last, self.top
        if last is not None:
            self._remove(last, top - last)
            self._add(last, end - last)
            self.top = end
        elif end - top >= MIN_BLOCK:
            self._add(top, end - top)
            self.last, self.top = top, end

    def _grow_for(self, need):
        """Grow memory until the top free block holds `need` bytes: (start, size, None,
        None) as `_find` gives it, or None if memory cannot grow that far."""
        b = self.top if self.last is None else self.last
        if not self.grow_to(b + need):
            return None
        self._extend_top(self.memory.byte_length)
        return b, self.top - b, None, None

    def _carve(self, need, at, b, size, k, i):
        """Use [at, at+need) of free block [b, b+size) (found at index position (k, i),
        or (None, None)) for a live block, the rest stays free; returns its address."""
        head, tail = at - b, b + size - at - need
        if tail < MIN_BLOCK:
            need += tail
            tail = 0
        if head:
            self._remove(b, size)
            self._add(b, head)
            if tail:
                self._add(at + need, tail)
        elif tail:
            self._shrink(b, size, at + need, tail, k, i)
        else:
            self._remove(b, size)
        self.live[at] = need
        if b == self.last:
            self.last = at + need if tail else None
        if self.next_fit:
            self.index.rover = at + need
        return at + HEADER

    def free(self, ptr):
        b = ptr - HEADER
        size = self.live.pop(b)
        self._add(b, size)
        if b + size == self.top:
            self.last = b

    def realloc(self, ptr, size):
        b = ptr - HEADER
        have = self.live[b]
        need = block_size(size)
        if need > have:
            return super().realloc(ptr, size)
        if have - need >= MIN_BLOCK:            # give the tail back as a freed block
            self.live[b] = need
            self.live[b + need] = have - need
            self.free(b + need + HEADER)
        return ptr

    def layout(self):
        blocks = [(b, size, True) for b, size in self.live.items()]
        blocks += [(b, size, False) for b, size in self.index.free_blocks()]
        blocks.sort()
        return blocks

    def _check_store(self):
        free = self.free_blocks()
        self.index.check(free)
        last = free[-1][0] if free and sum(free[-1]) == self.top else None
        assert self.last == last, f"last free block {self.last}, expected {last}"


# -- the registered models ----------------------------------------------------

class FirstFit(Merging):
    name = "first-fit"
    summary = "address-ordered first-fit free list, coalescing neighbours"


class BestFit(BestFitPolicy):
    name = "best-fit"
    summary = "best-fit free list (smallest block that fits), coalescing neighbours"


class NextFit(Merging):
    name = "next-fit"
    summary = "next-fit free list (search resumes after the last allocation), coalescing"
    next_fit = True


class FirstFitNoCoalesce(Unmerged):
    name = "first-fit-nocoalesce"
    summary = "address-ordered first-fit free list; freed neighbours are never merged"
    Index = AddressBins


class BestFitNoCoalesce(Unmerged):
    name = "best-fit-nocoalesce"
    summary = "best-fit free list; freed neighbours are never merged"
    Index = SizeBins


class NextFitNoCoalesce(Unmerged):
    name = "next-fit-nocoalesce"
    summary = "next-fit free list; freed neighbours are never merged"
    Index = FreeMap
    next_fit = True

"""Bump allocator: a pointer that only moves up.

Main entry point: `Bump.malloc`. Frees are ignored except for the most recent
block, which rolls the pointer back (the rule AssemblyScript's stub runtime
uses), so any other freed block is a hole that is never reused: the purest
"Swiss cheese" generator there is. Such a hole is not free space (nothing can
hand it out again): `spans()` counts it as used, so the only free span is the
untouched top, and running out is "memory exhausted" (`reuses_freed`).
"""

from .base import Allocator, align_up, check_power_of_two, merge_spans


class Bump(Allocator):
    name = "bump"
    summary = "bump pointer; only freeing the newest block gives memory back"
    reuses_freed = False

    # Bytes of block header in front of each address; a bump allocator with
    # headers (as_stub.py) also overrides _extent, _end and _grow.
    header = 0

    def __init__(self, memory, heap_base):
        super().__init__(memory, heap_base)
        # `top` is where the next block (its header first) goes
        self.top = align_up(heap_base + self.header, self.alignment) - self.header
        self.blocks = {}     # live ptr -> size, in address order (bump order)
        # the plain geometry is computed inline on the hot path: a method call per
        # event would cost a tenth of the replay's speed
        self._plain = type(self)._end is Bump._end

    # -- block geometry (the hooks) -------------------------------------

    def _extent(self, size):
        """Bytes a block of `size` occupies from its address on."""
        return size or 1

    def _end(self, ptr, size):
        """Where the block after one of `size` at `ptr` may put its header."""
        return (ptr + self._extent(size) + 7) & -8

    def _grow(self, end):
        """Make memory cover [0, end); False if memory.grow refuses."""
        return self.grow_to(end)

    # -- alloc ------------------------------------------------------------

    def malloc(self, size):
        ptr = self.top + self.header
        end = (ptr + (size or 1) + 7) & -8 if self._plain else self._end(ptr, size)
        if end > self.memory.pages << 16 and not self._grow(end):
            return 0
        self.top = end
        self.blocks[ptr] = size
        return ptr

    def aligned_alloc(self, align, size):
        check_power_of_two(align, self.name)
        saved = self.top
        self.top = align_up(self.top + self.header, align) - self.header
        ptr = self.malloc(size)
        if not ptr:
            self.top = saved
        return ptr

    # -- free -------------------------------------------------------------

    def free(self, ptr):
        size = self.blocks.pop(ptr)
        end = (ptr + (size or 1) + 7) & -8 if self._plain else self._end(ptr, size)
        if end == self.top:
            self.top = ptr - self.header

    def _held(self, ptr):
        """The size of the block at `ptr`."""
        return self.blocks[ptr]

    def realloc(self, ptr, size):
        if self._end(ptr, self._held(ptr)) == self.top:
            # the newest block can simply be extended or shrunk in place
            end = self._end(ptr, size)
            if end > self.memory.byte_length and not self._grow(end):
                return 0
            self.top = end
            self.blocks[ptr] = size
            return ptr
        return super().realloc(ptr, size)

    # -- inspection -------------------------------------------------------

    def spans(self):
        # below the top: live blocks, headers and freed holes, none of which can be
        # handed out again; above it: the untouched rest of memory (after AssemblyScript's
        # stub wrapped past 4 GiB, handed out again over live blocks)
        top = max(self.top, self.heap_base)
        return merge_spans([(self.heap_base, top - self.heap_base, True),
                            (top, self.memory.byte_length - top, False)])

    def check(self):
        last_end = self.heap_base
        for ptr, size in self.blocks.items():
            assert ptr % self.alignment == 0, f"misaligned block {ptr:#x}"
            assert ptr - self.header >= last_end, f"block {ptr:#x} overlaps the one before it"
            last_end = ptr + self._extent(size)
        assert last_end <= self.top <= self.memory.byte_length or not self.blocks, \
            f"top {self.top:#x} outside [{last_end:#x}, {self.memory.byte_length:#x}]"

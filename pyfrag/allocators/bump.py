"""Bump allocator: a pointer that only moves up.

Main entry point: `Bump.malloc`. Frees are ignored except for the most recent
block, which rolls the pointer back (the rule AssemblyScript's stub runtime
uses), so any other freed block is a hole that is never reused: the purest
"Swiss cheese" generator there is.
"""

from .base import Allocator, align_up, check_power_of_two, merge_spans


class Bump(Allocator):
    name = "bump"
    summary = "bump pointer; only freeing the newest block gives memory back"

    def __init__(self, memory, heap_base):
        super().__init__(memory, heap_base)
        self.top = align_up(heap_base, self.alignment)
        self.blocks = {}     # live ptr -> size, in address order (bump order)

    # -- alloc ------------------------------------------------------------

    def malloc(self, size):
        ptr = self.top
        end = ptr + (size or 1)
        if end > self.memory.byte_length and not self.grow_to(end):
            return 0
        self.top = (end + 7) & -8
        self.blocks[ptr] = size
        return ptr

    def aligned_alloc(self, align, size):
        check_power_of_two(align, self.name)
        saved = self.top
        self.top = align_up(self.top, align)
        ptr = self.malloc(size)
        if not ptr:
            self.top = saved
        return ptr

    # -- free -------------------------------------------------------------

    def free(self, ptr):
        size = self.blocks.pop(ptr)
        if ((ptr + (size or 1) + 7) & -8) == self.top:
            self.top = ptr

    def realloc(self, ptr, size):
        if ((ptr + (self.blocks[ptr] or 1) + 7) & -8) == self.top:
            # the newest block can simply be extended or shrunk in place
            end = ptr + (size or 1)
            if end > self.memory.byte_length and not self.grow_to(end):
                return 0
            self.top = (end + 7) & -8
            self.blocks[ptr] = size
            return ptr
        return super().realloc(ptr, size)

    # -- inspection -------------------------------------------------------

    def spans(self):
        raw, cursor = [], self.heap_base
        for ptr, size in self.blocks.items():
            raw.append((cursor, ptr - cursor, False))
            raw.append((ptr, max(size, 1), True))
            cursor = ptr + max(size, 1)
        raw.append((cursor, self.memory.byte_length - cursor, False))
        return merge_spans(raw)

    def check(self):
        last_end = self.heap_base
        for ptr, size in self.blocks.items():
            assert ptr % self.alignment == 0, f"misaligned block {ptr:#x}"
            assert ptr >= last_end, f"block {ptr:#x} overlaps the one before it"
            last_end = ptr + max(size, 1)
        assert last_end <= self.top <= self.memory.byte_length or not self.blocks, \
            f"top {self.top:#x} outside [{last_end:#x}, {self.memory.byte_length:#x}]"

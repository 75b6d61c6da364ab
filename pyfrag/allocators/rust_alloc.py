"""What wasm_modules/src/global_alloc.rs puts around a Rust allocator crate, shared by
the models of the crates it builds (talc.py, lol_alloc.py, rlsf.py).

Main entry point: `GlobalAllocModel`, their base class: malloc asks `Layout(size, 8)`,
aligned_alloc `Layout(size, align)`; a zero-byte request asks for one byte (GlobalAlloc
forbids zero-sized layouts); a Layout whose size rounded up to its alignment passes
isize::MAX (2 GiB - 1 on wasm32) fails before the allocator is asked (realloc's new
size goes to the allocator unchecked, as src/abi.rs passes it); realloc is GlobalAlloc's default (allocate, copy, free) unless the
crate has its own. A subclass provides `_alloc(size, align)` for a valid layout,
`align_of(ptr)` for a live block, and `free(ptr)`.
"""

from .base import Allocator, check_power_of_two, merge_spans

MALLOC_ALIGN = 8                # what the modules' malloc asks
ISIZE_MAX = (1 << 31) - 1


def layout_ok(size, align):
    """core::alloc::Layout::from_size_align: size rounded up to align within isize::MAX."""
    return size <= ISIZE_MAX - (align - 1)


def free_run_spans(heap_base, total, runs):
    """spans() of a heap whose free memory is `runs`, (start, length) in address
    order: everything else from heap_base to `total` is used."""
    raw, cursor = [], heap_base
    for start, length in runs:
        raw.append((cursor, start - cursor, True))
        raw.append((start, length, False))
        cursor = start + length
    raw.append((cursor, total - cursor, True))
    return merge_spans(raw)


class GlobalAllocModel(Allocator):
    alignment = MALLOC_ALIGN

    def _alloc(self, size, align):
        raise NotImplementedError

    def align_of(self, ptr):
        raise NotImplementedError

    def malloc(self, size):
        return self.aligned_alloc(MALLOC_ALIGN, size)

    def aligned_alloc(self, align, size):
        check_power_of_two(align, self.name)
        size = max(size, 1)
        return self._alloc(size, align) if layout_ok(size, align) else 0

    def realloc(self, ptr, size):
        # src/abi.rs hands realloc's size to the allocator unchecked
        return self._realloc(ptr, max(size, 1))

    def _realloc(self, ptr, size):
        """GlobalAlloc::realloc's default: a new block with the same alignment, the data
        copied, the old block freed."""
        new = self._alloc(size, self.align_of(ptr))
        if new:
            self.free(ptr)
        return new

"""Zig's `std.heap.wasm_allocator`, as our Zig module wraps it into malloc/free.

Main entry point: `ZigWasm`. In Zig 0.17 `WasmAllocator` is `BrkAllocator`
(lib/std/heap/BrkAllocator.zig), a size-class allocator with no coalescing:

- a request of `len` bytes at alignment `a` needs `max(len + 4, a)` bytes (room
  for the free-list link) rounded up to a power of two: its *slot*;
- slots of 8 B .. 32 KiB are carved, in order, out of 64 KiB *bigpages*, one
  bump pointer (`next_addrs`) per size class; freed slots go on a LIFO list of
  their class and are never returned or merged;
- anything bigger takes a power-of-two run of bigpages, reused through LIFO
  lists per run length (`big_frees`) and otherwise obtained with one
  `memory.grow` per request, at the current end of memory;
- resize/remap succeed only when the slot (or bigpage run) stays the same.

Our Zig module (wasm_modules/src/wasm_allocator.zig) calls rawAlloc / rawFree
/ rawRemap with alignment 8 and keeps each block's length in a static table,
outside the heap: malloc(n) is alloc(n, 8) and returns the block itself;
realloc tries remap, else alloc + copy + free. Zig's libc malloc
(zig_libc.py) is the same allocator behind a 16-byte header, so both share
this class; `_layout()` is where they differ.

Not modelled: requests whose length plus a header passes 4 GiB. The sum
then overflows u32, which is illegal behaviour in Zig; the ReleaseSmall build
wraps and even writes outside the free-list array. The model refuses them.
"""

from ..memory import PAGE
from .base import Allocator, check_power_of_two, merge_spans

# -- BrkAllocator constants for wasm32 ----------------------------------------

USIZE = 4                                     # @sizeOf(usize): the free-list link
USIZE_MASK = 0xFFFFFFFF
BIGPAGE = 64 * 1024                           # max(64 KiB, page_size_max)
MIN_CLASS = 3                                 # log2(ceilPow2(1 + @sizeOf(usize)))
SIZE_CLASS_COUNT = BIGPAGE.bit_length() - 1 - MIN_CLASS     # 13: slots 8 B .. 32 KiB
MAX_SLOT = 1 << 31                            # ceilPowerOfTwo(u32) overflows past this


def slot_size(length, align):
    """The power-of-two slot a request occupies, or 0 if it overflows (Zig returns null)."""
    actual = max(min(length + USIZE, USIZE_MASK), align)      # `len +| @sizeOf(usize)`
    slot = 1 << (actual - 1).bit_length()
    return slot if slot <= MAX_SLOT else 0


def bigpages_needed(actual):
    # Zig's rounding, reproduced as written: one bigpage more than ceil() when
    # `actual` is one of the 4 values ending at a multiple of 64 KiB.
    return (actual + BIGPAGE + USIZE - 1) // BIGPAGE


def big_run(length, align):
    """Bigpages in the power-of-two run a large request occupies."""
    actual = max(length + USIZE, align)
    return 1 << (bigpages_needed(actual) - 1).bit_length()


class ZigWasm(Allocator):
    name = "zig-wasm"
    summary = "Zig std.heap.wasm_allocator: power-of-two slots in 64 KiB bigpages, no coalescing"
    exact = "zig-wasm"
    alignment = 8
    default_start = (1835200, 29)       # as wasm_modules/zig-wasm.wasm: stack and table below

    # the alignment the wrapper asks rawAlloc for
    block_align = 8

    def __init__(self, memory, heap_base):
        super().__init__(memory, heap_base)
        self.next_addrs = [0] * SIZE_CLASS_COUNT
        self.frees = [[] for _ in range(SIZE_CLASS_COUNT)]   # LIFO stacks of slot addresses
        # by log2(bigpages in run): Zig has 16 lists; a 2 GiB request asks for list
        # 16, past Zig's array, and finds it empty, as the extra list here is.
        self.big_frees = [[] for _ in range(17)]
        self.blocks = {}          # user pointer -> (raw address, raw length, alignment)
        # Every bigpage comes from memory.grow, so the initial memory above
        # heap_base is never handed out: spans() shows it as used (unusable).
        self.floor = memory.byte_length

    # -- BrkAllocator vtable ----------------------------------------------

    def _alloc(self, length, align):
        slot = slot_size(length, align)
        if not slot:
            return 0
        cls = slot.bit_length() - 1 - MIN_CLASS
        if cls < SIZE_CLASS_COUNT:
            stack = self.frees[cls]
            if stack:
                return stack.pop()
            addr = self.next_addrs[cls]
            if addr % BIGPAGE == 0:                 # class exhausted its bigpage (or never had one)
                addr = self._alloc_bigpages(1)
                if not addr:
                    return 0
            self.next_addrs[cls] = addr + slot
            return addr
        return self._alloc_bigpages(bigpages_needed(max(length + USIZE, align)))

    def _alloc_bigpages(self, n):
        run = 1 << (n - 1).bit_length()
        stack = self.big_frees[run.bit_length() - 1]
        if stack:
            return stack.pop()
        old = self.memory.grow(run * (BIGPAGE // PAGE))
        return 0 if old == -1 else old * PAGE

    def _resize(self, length, align, new_length):
        """Zig's resize/remap: true when the block keeps its slot (or bigpage run)."""
        old_slot = slot_size(length, align)
        if old_slot.bit_length() - 1 - MIN_CLASS < SIZE_CLASS_COUNT:
            return slot_size(new_length, align) == old_slot
        new_actual = max(min(new_length + USIZE, USIZE_MASK), align)
        new_run = 1 << (bigpages_needed(new_actual) - 1).bit_length()
        return new_run == big_run(length, align)

    def _free(self, addr, length, align):
        # The class comes from the length Zig is told now; after a big block
        # was remapped down to a small length it lands on a small-class list.
        slot = slot_size(length, align)
        cls = slot.bit_length() - 1 - MIN_CLASS
        if cls < SIZE_CLASS_COUNT:
            self.frees[cls].append(addr)
        else:
            self.big_frees[big_run(length, align).bit_length() - 1].append(addr)

    # -- the wrapper: malloc / free / realloc -----------------------------

    def _layout(self, align):
        """(bytes in front of the returned pointer, alignment asked of alloc) for a request."""
        return 0, max(self.block_align, align)

    def aligned_alloc(self, align, size):
        check_power_of_two(align, self.name)
        header, block_align = self._layout(align)
        length = size + header
        if length > USIZE_MASK:
            return 0            # u32 overflow: illegal behaviour in the real wrapper, see above
        raw = self._alloc(length, block_align)
        if not raw:
            return 0
        self.blocks[raw + header] = (raw, length, block_align)
        return raw + header

    def malloc(self, size):
        return self.aligned_alloc(self.block_align, size)

    def free(self, ptr):
        raw, length, align = self.blocks.pop(ptr)
        self._free(raw, length, align)

    def realloc(self, ptr, size):
        raw, length, align = self.blocks[ptr]
        header = ptr - raw
        new_length = size + header
        if new_length > USIZE_MASK:
            return 0
        if self._resize(length, align, new_length):
            self.blocks[ptr] = (raw, new_length, align)
            return ptr
        new_raw = self._alloc(new_length, align)
        if not new_raw:
            return 0
        del self.blocks[ptr]
        self._free(raw, length, align)
        self.blocks[new_raw + header] = (new_raw, new_length, align)
        return new_raw + header

    # -- inspection -------------------------------------------------------

    def _slot_extent(self, length, align):
        slot = slot_size(length, align)
        if slot.bit_length() - 1 - MIN_CLASS < SIZE_CLASS_COUNT:
            return slot
        return big_run(length, align) * BIGPAGE

    def spans(self):
        """Live slots are used (header and rounding included), and the initial memory
        the allocator never touches; every other byte is free."""
        raw, cursor = [(self.heap_base, self.floor - self.heap_base, True)], self.floor
        for addr, length, align in sorted(self.blocks.values()):
            raw.append((cursor, addr - cursor, False))
            extent = self._slot_extent(length, align)
            raw.append((addr, extent, True))
            cursor = addr + extent
        raw.append((cursor, self.memory.byte_length - cursor, False))
        return merge_spans(raw)

    def check(self):
        end, last = self.memory.byte_length, self.floor
        for addr, length, align in sorted(self.blocks.values()):
            extent = self._slot_extent(length, align)
            assert addr >= last, f"slot {addr:#x} overlaps the slot before it"
            assert addr % min(extent, BIGPAGE) == 0, \
                f"slot {addr:#x} of {extent} bytes is not aligned to its size"
            last = addr + extent
        assert last <= end or not self.blocks, f"slot ends at {last:#x}, past memory end {end:#x}"
        live = {addr for addr, _, _ in self.blocks.values()}
        seen = set()
        for cls, stack in enumerate(self.frees):
            for addr in stack:
                assert addr not in live and addr not in seen, f"free slot {addr:#x} is live or listed twice"
                assert addr % (1 << (cls + MIN_CLASS)) == 0, f"free slot {addr:#x} misaligned for class {cls}"
                seen.add(addr)
        for stack in self.big_frees:
            for addr in stack:
                assert addr not in live and addr not in seen, f"free run {addr:#x} is live or listed twice"
                assert addr % BIGPAGE == 0, f"free run {addr:#x} is not bigpage aligned"
                seen.add(addr)
        for cls, addr in enumerate(self.next_addrs):
            assert addr <= end, f"class {cls} bump pointer {addr:#x} past memory end"

"""lol_alloc 0.4.1 (Craig-Macomber/lol_alloc) on wasm32: `FreeListAllocator` behind
`AssumeSingleThreaded`, as its README and talc's size comparison set it up, and its
bump allocator `LeakingAllocator`.

Owns the models of lol_alloc's one free list and its bump pointer. Main entry points:
`LolAlloc.malloc`, `LolAllocLeaking.malloc`.

Address-exact against the lol-alloc and lol-alloc-leaking modules (wasm_modules/,
lol_alloc at the commit that made it 0.4.1, under src/global_alloc.rs): the same
addresses and memory sizes, event by event (tests/fidelity/test_rust_allocators.py).

What the model does, after the source:

- One free list, sorted by address from the top down, each free run holding its
  size and the next run's address. Sizes are the request rounded up to 8 bytes
  (at least 8), alignments at least 8; a block has no header at all, so
  `dealloc` needs the size back and a block's address says nothing about it.
- Allocation walks the list from the highest run down and takes the first that
  holds the block at its *top*: the block ends at the run's end, or lower by what
  its alignment costs; what is left below stays a run, and an aligned block's
  slack above becomes a run of its own.
- Freeing puts the block back in address order and merges it with the runs
  that touch it on either side.
- When nothing fits, memory grows by the request rounded up to whole pages,
  the new pages are freed into the list (merging with a free run at the old
  top) and the request is tried again (and again, for an alignment the new
  pages cannot serve). A failed memory.grow fails the request. The initial pages
  (`__heap_base` included) are never used; nothing is given back.
- realloc is GlobalAlloc's default: always a new block, copy, free the old one,
  even to shrink. The wrapper's rules are rust_alloc.py's.

`LeakingAllocator` bumps a pointer and never frees. It aligns the pointer first,
then, if the block does not fit below its end, grows memory by the *size* in whole
pages (not size plus the alignment slack just added) and, when the new pages
follow its end, keeps bumping from where it was. Memory ends on a page boundary,
so the slack never passes it for alignments up to 64 KiB; above that the aligned
pointer can lie past the end, and the block with it: on a 128 KiB-aligned request
the module returns a block that starts at the end of memory, and so does the model.
A realloc (a new block, then a copy: dealloc does nothing) whose copy would touch
such bytes traps in the module; the model fails it with the state the module had
reached (the new block bumped, memory grown). Its arithmetic is 32-bit: when memory
reaches 4 GiB its end wraps to 0, so every later request asks memory.grow again
and fails, and a pointer plus size past 2^32 wraps too; the model wraps alike.
"""

from bisect import bisect_left, insort

from ..memory import PAGE
from .base import merge_spans
from .rust_alloc import GlobalAllocModel, free_run_spans

NODE = 8                        # FreeListNode: next, size
M32 = 0xFFFFFFFF


def full_size(size):
    return (max(size, NODE) + NODE - 1) & -NODE


class LolAlloc(GlobalAllocModel):
    name = "lol-alloc"
    summary = "lol_alloc 0.4.1 FreeListAllocator: one address-ordered list, blocks cut from the top"
    exact = "lol-alloc"
    # a no_std Rust cdylib: 1 MiB of stack, 64 KiB of replay arrays, data: 18 initial pages
    default_start = (1114128, 18)

    def __init__(self, memory, heap_base):
        super().__init__(memory, heap_base)
        self.starts = []        # free run addresses, ascending (the list walks them backwards)
        self.size = {}          # free run address -> its size
        self.blocks = {}        # live block -> (full size, alignment asked for)
        self.first = None       # the first page memory.grow gave: where the heap starts

    def _alloc(self, size, align):
        """FreeListAllocator::alloc for a valid Layout(size >= 1, align)."""
        need, align = full_size(size), max(align, NODE)
        while True:
            for k in range(len(self.starts) - 1, -1, -1):
                start = self.starts[k]
                end = start + self.size[start]
                if need >= end:
                    continue
                pos = (end - need) & -align
                if pos < start:
                    continue
                if pos + need < end:                    # slack above an aligned block
                    insort(self.starts, pos + need)
                    self.size[pos + need] = end - pos - need
                if pos == start:
                    self.starts.remove(start)
                    del self.size[start]
                else:
                    self.size[start] = pos - start
                self.blocks[pos] = (need, align)
                return pos
            grant = -(-need // PAGE) * PAGE
            old = self.memory.grow(grant // PAGE)
            if old == -1:
                return 0
            if self.first is None:
                self.first = old * PAGE
            self._dealloc(old * PAGE, grant)

    def _dealloc(self, ptr, size):
        """Back into the list in address order, merged with the runs it touches."""
        k = bisect_left(self.starts, ptr)
        above = self.starts[k] if k < len(self.starts) else None
        below = self.starts[k - 1] if k else None
        if below is not None and below + self.size[below] == ptr:
            self.size[below] += size
            start = below
        else:
            insort(self.starts, ptr)
            self.size[ptr] = size
            start = ptr
        if above == ptr + size:
            self.size[start] += self.size.pop(above)
            self.starts.remove(above)

    # -- the protocol ---------------------------------------------------------------

    def align_of(self, ptr):
        return self.blocks[ptr][1]

    def free(self, ptr):
        self._dealloc(ptr, self.blocks.pop(ptr)[0])

    # -- inspection -----------------------------------------------------------------

    def spans(self):
        """Free: the list's runs. Used: blocks, and the initial pages lol_alloc never uses."""
        return free_run_spans(self.heap_base, self.memory.byte_length,
                              ((start, self.size[start]) for start in self.starts))

    def check(self):
        assert self.starts == sorted(self.size), "the free list is out of order"
        pieces = sorted([(s, n, False) for s, n in self.size.items()]
                        + [(p, n, True) for p, (n, _) in self.blocks.items()])
        if self.first is None:
            assert not pieces, "blocks or runs before memory ever grew"
            return
        # runs and blocks tile everything from the first grant to the end of memory
        cursor, after_free = self.first, False
        for start, n, used in pieces:
            assert start == cursor, f"heap not tiled at {cursor:#x} (next piece {start:#x})"
            assert n % NODE == 0 and n >= NODE, f"bad piece {start:#x}+{n}"
            assert used or not after_free, f"free runs touch at {start:#x}"
            after_free, cursor = not used, start + n
        assert cursor == self.memory.byte_length, "the pieces do not reach the end of memory"
        for ptr, (_, align) in self.blocks.items():
            assert ptr % align == 0, f"block {ptr:#x} misaligned"


class LolAllocLeaking(GlobalAllocModel):
    name = "lol-alloc-leaking"
    overlaps = True        # past 4 GiB its offset wraps over live blocks, as the module's
    summary = "lol_alloc 0.4.1 LeakingAllocator: a bump pointer that never frees"
    exact = "lol-alloc-leaking"
    default_start = (1114128, 18)

    def __init__(self, memory, heap_base):
        super().__init__(memory, heap_base)
        self.used = 0           # the bump pointer (bytes, a u32)
        self.end = 0            # the end of the memory it owns (a u32: 4 GiB is 0)
        self.grown = False      # whether memory.grow ever gave it pages
        self.blocks = {}        # live block -> (size, alignment asked for)

    def _alloc(self, size, align):
        """LeakingAllocator::alloc for a valid Layout(size >= 1, align), in u32 arithmetic."""
        self.used = (self.used - self.used % align + (align if self.used % align else 0)) & M32
        if (self.used + size) & M32 > self.end:      # the aligned pointer stays, even on failure
            pages = -(-size // PAGE)
            old = self.memory.grow(pages)
            if old == -1:
                return 0
            if old * PAGE != self.end:               # the first growth: start there
                self.used = old * PAGE
            self.end = (old + pages) * PAGE & M32
            self.grown = True
        ptr, self.used = self.used, (self.used + size) & M32
        self.blocks[ptr] = (size, align)
        return ptr

    def align_of(self, ptr):
        return self.blocks[ptr][1]

    def free(self, ptr):
        del self.blocks[ptr]                         # dealloc does nothing

    def _realloc(self, ptr, size):
        old, align = self.blocks[ptr]
        new = self._alloc(size, align)
        if not new:
            return 0
        copy = min(old, size)
        if max(ptr, new) + copy > self.memory.byte_length:
            del self.blocks[new]                    # the module traps in the copy
            return 0
        self.free(ptr)
        return new

    def spans(self):
        """Free: the untouched top, [pointer, end). Used: all below it (blocks, freed or
        not, and alignment padding) and the initial pages."""
        total = self.memory.byte_length
        top = min(self.used, total) if self.end else total    # 4 GiB reached: nothing left
        return merge_spans([(self.heap_base, top - self.heap_base, True),
                            (top, total - top, False)])

    def check(self):
        assert self.end <= self.memory.byte_length, "the bump end is past memory"
        assert not self.blocks or self.grown, "blocks before memory ever grew"
        for ptr, (size, align) in self.blocks.items():
            assert ptr % align == 0, f"block {ptr:#x} misaligned"
            assert ptr + size <= self.used or self.used < ptr, f"block {ptr:#x} past the pointer"

"""rlsf 0.2.1 (yvt/rlsf) on wasm32 as `SmallGlobalTlsf`, the global allocator its README
gives for wasm32 (and the one talc's size comparison builds), and as `GlobalTlsf`, its
default options.

Owns the model of rlsf's two-level segregated fit and its wasm32 memory source. Main
entry points: `Rlsf.malloc`, `RlsfGlobal._realloc`.

Address-exact against the rlsf and rlsf-global modules (wasm_modules/, rlsf 0.2.1
built from its tag under src/global_alloc.rs): the same addresses and memory sizes,
event by event (tests/fidelity/test_rust_allocators.py).

What the model does, after the source (wasm32: GRANULARITY 16, FLLEN = SLLEN = 32):

- Blocks. Every block is a multiple of 16 bytes, aligned to 16, and starts with
  an 8-byte header (size with used/sentinel flags, the previous block's address);
  a free block also holds its free-list links. A block's payload starts right
  after the header (so malloc's blocks are 8 mod 16) or, for alignments of 16 and
  up, at the first aligned address past it, with a pointer back to the header in
  the word before. Free blocks never touch: freeing merges with both neighbours.
- Lists. Free blocks sit in 32 x 32 lists: the first level is the size's power of
  two (from 16 bytes), the second its next five bits. A request of n bytes looks
  for n plus the worst alignment slack, rounded up to 16, mapped *up* to the
  first list whose every block is large enough (the TLSF good fit), then the
  first non-empty list above that, and takes the head (the newest block there);
  the rest of the block, if any, goes back as a free block.
- Memory. `SmallGlobalTlsf` does not coalesce pools: each miss grows memory by
  whole pages for the smallest block that the list search would accept
  (request + slack rounded up to its list's step, plus a 16-byte sentinel) and
  makes those pages a pool of their own, one free block capped by a sentinel.
  Pools never merge, even when adjacent, so a block never spans two growths. The
  initial pages (`__heap_base` included) are never used; nothing is given back.
- realloc (with ENABLE_REALLOCATION off in SmallGlobalTlsf) allocates anew with
  the block's alignment, copies and frees, even to shrink. The wrapper's rules
  are rust_alloc.py's.

`GlobalTlsf` (ENABLE_REALLOCATION and COALESCE_POOLS on) differs only in realloc:
it shrinks in place (a free block comes back at the end), grows in place into a
free block after it, else moves down into a free block before it (merged with
the block itself and a free one after), else allocates, copies and frees. Its
pool coalescing never happens on wasm32: `realloc_inplace_grow` compares the
pool's *first* page with the memory size, which is never equal, so every growth
is a pool of its own there too.
"""

from ..memory import PAGE
from .rust_alloc import GlobalAllocModel, free_run_spans

GRAN = 16                       # GRANULARITY: 4 words
HEADER = GRAN // 2              # UsedBlockHdr: size, prev_phys_block
FLLEN = SLLEN = 32
SLI = 5                         # log2(SLLEN)
M32 = 0xFFFFFFFF
MAX_CEIL_INPUT = 0xFC000000     # MAX_MAP_CEIL_AND_UNMAP_INPUT for wasm32


def _rotr(x, k):
    k %= 32
    return ((x >> k) | (x << (32 - k))) & M32


def _fl_and_rotated(size):
    fl = size.bit_length() - 1 - 4
    return fl, _rotr(size, fl + 4 - SLI)


def map_floor(size):
    fl, sl = _fl_and_rotated(size)
    return fl, sl & (SLLEN - 1)


def map_ceil(size):
    """The first list all of whose blocks hold `size`; None past the last list."""
    fl, sl = _fl_and_rotated(size)
    sl = (sl & (SLLEN - 1)) + (sl >= 1 << (SLI + 1))
    fl += sl >> SLI
    return (fl, sl & (SLLEN - 1)) if fl < FLLEN else None


def search_size(size, align):
    """Request plus the worst alignment slack and the header, rounded up to 16; None
    when that does not fit 32 bits."""
    n = size + max(align - HEADER, 0) + HEADER + GRAN - 1
    return n & -GRAN if n <= M32 else None


def pool_size(size, align):
    """Tlsf::pool_size_to_contain_allocation: the smallest pool whose one block the
    search for this request would accept, sentinel included; None if there is none."""
    n = search_size(size, align)
    if n is None or n > MAX_CEIL_INPUT:
        return None
    fl = n.bit_length() - 1 - 4
    if fl >= SLI - 4:
        step = 1 << (fl + 4 - SLI)
        n = (n + step - 1) & -step
    return n + GRAN if n + GRAN <= M32 else None


class Rlsf(GlobalAllocModel):
    name = "rlsf"
    summary = "rlsf 0.2.1 SmallGlobalTlsf: TLSF good fit, a separate pool per memory.grow"
    exact = "rlsf"
    # a no_std Rust cdylib: 1 MiB of stack, 64 KiB of replay arrays, data: 18 initial pages
    default_start = (1118368, 18)

    def __init__(self, memory, heap_base):
        super().__init__(memory, heap_base)
        self.size = {}          # block -> its size (flags apart)
        self.prev = {}          # block -> previous block in its pool (0: the first)
        self.free_blocks = set()
        self.sentinels = set()
        self.pools = []         # (start, end) of each growth
        self.heads = {}         # (fl, sl) -> newest free block of that list
        self.nxt, self.prv = {}, {}     # free block -> next / previous in its list (0: none)
        self.fl_bitmap = 0
        self.sl_bitmap = [0] * FLLEN
        self.blocks = {}        # payload address -> [block, size asked, alignment]

    # -- free lists -------------------------------------------------------------------

    def _link(self, block, size):
        fl, sl = map_floor(size)
        head = self.heads.get((fl, sl), 0)
        self.nxt[block], self.prv[block] = head, 0
        if head:
            self.prv[head] = block
        self.heads[fl, sl] = block
        self.fl_bitmap |= 1 << fl
        self.sl_bitmap[fl] |= 1 << sl
        self.size[block] = size
        self.free_blocks.add(block)

    def _unlink(self, block):
        nxt, prv = self.nxt.pop(block), self.prv.pop(block)
        self.free_blocks.discard(block)
        if nxt:
            self.prv[nxt] = prv
        if prv:
            self.nxt[prv] = nxt
            return
        fl, sl = map_floor(self.size[block])
        if nxt:
            self.heads[fl, sl] = nxt
            return
        del self.heads[fl, sl]
        self.sl_bitmap[fl] &= ~(1 << sl)
        if not self.sl_bitmap[fl]:
            self.fl_bitmap &= ~(1 << fl)

    def _search(self, n):
        """The list to take a block of at least n bytes from, or None."""
        fl, sl = map_ceil(n)
        rest = self.sl_bitmap[fl] >> sl
        if rest:
            return fl, sl + (rest & -rest).bit_length() - 1
        rest = self.fl_bitmap >> (fl + 1)
        if not rest:
            return None
        fl += (rest & -rest).bit_length()
        bits = self.sl_bitmap[fl]
        return fl, (bits & -bits).bit_length() - 1

    # -- allocation --------------------------------------------------------------------

    def _take(self, size, align):
        """Tlsf::allocate, or 0 when no list holds a block."""
        n = search_size(size, align)
        found = None if n is None else self._search(n)
        if found is None:
            return 0
        block = self.heads[found]
        self._unlink(block)
        ptr = (block + HEADER + align - 1) & -align
        used = (ptr - block + size + GRAN - 1) & -GRAN
        have = self.size[block]
        if used != have:
            rest = block + used
            self.prev[rest] = block
            self.prev[block + have] = rest
            self._link(rest, have - used)
        self.size[block] = used
        self.blocks[ptr] = [block, size, align]
        return ptr

    def _add_pool(self, size, align):
        """The memory source: a fresh pool for this request; False if memory will not grow."""
        need = pool_size(size, align)
        if need is None or need + PAGE - 1 > M32:
            return False
        pages = -(-need // PAGE)
        old = self.memory.grow(pages)
        if old == -1:
            return False
        start, end = old * PAGE, (old + pages) * PAGE
        self.pools.append((start, end))
        sentinel = end - GRAN
        self.prev[start] = 0
        self.size[sentinel], self.prev[sentinel] = GRAN, start
        self.sentinels.add(sentinel)
        self._link(start, sentinel - start)
        return True

    def _alloc(self, size, align):
        """FlexTlsf::allocate for a valid Layout(size >= 1, align)."""
        ptr = self._take(size, align)
        if not ptr and self._add_pool(size, align):
            ptr = self._take(size, align)
        return ptr

    def _release(self, ptr):
        """Tlsf::deallocate: merge with free neighbours, back to the head of its list."""
        block = self.blocks.pop(ptr)[0]
        size = self.size[block]
        after = block + size
        if after in self.free_blocks:
            self._unlink(after)
            size += self.size.pop(after)
            del self.prev[after]
        before = self.prev[block]
        if before in self.free_blocks:
            self._unlink(before)
            size += self.size[before]
            del self.size[block], self.prev[block]
            block = before
        self.prev[block + size] = block
        self._link(block, size)

    # -- the protocol -------------------------------------------------------------------

    def align_of(self, ptr):
        return self.blocks[ptr][2]

    def free(self, ptr):
        self._release(ptr)

    # -- inspection ---------------------------------------------------------------------

    def spans(self):
        """Free: the free blocks, headers included. Used: blocks in use, sentinels, and
        the initial pages, which rlsf never uses."""
        return free_run_spans(self.heap_base, self.memory.byte_length,
                              ((b, self.size[b]) for b in sorted(self.free_blocks)))

    def check(self):
        owner = {b: p for p, (b, _, _) in self.blocks.items()}
        assert len(owner) == len(self.blocks), "two allocations share a block"
        walked = 0
        for start, end in self.pools:
            assert end <= self.memory.byte_length, f"pool {start:#x} runs past memory"
            block, prev, prev_free = start, 0, False
            while block not in self.sentinels:
                assert block in self.size and block < end, f"pool {start:#x}: no block at {block:#x}"
                size = self.size[block]
                assert block % GRAN == 0 and size % GRAN == 0 and size >= GRAN, \
                    f"bad block {block:#x}+{size}"
                assert self.prev[block] == prev, f"block {block:#x}: wrong previous block"
                free = block in self.free_blocks
                assert free != (block in owner), f"block {block:#x} neither free nor owned"
                assert not (free and prev_free), f"free blocks touch at {block:#x}"
                if not free:
                    ptr = owner[block]
                    _, asked, align = self.blocks[ptr]
                    assert ptr % align == 0 and ptr >= block + HEADER, f"block {ptr:#x} misplaced"
                    assert ptr + asked <= block + size, f"block {ptr:#x} runs out of its block"
                prev, prev_free, block = block, free, block + size
                walked += 1
            assert block == end - GRAN and self.prev[block] == prev, f"pool {start:#x} badly capped"
        assert walked == len(self.size) - len(self.sentinels), "blocks outside every pool"
        listed = 0
        for fl in range(FLLEN):
            assert bool(self.fl_bitmap >> fl & 1) == bool(self.sl_bitmap[fl]), f"bitmap {fl}"
            for sl in range(SLLEN):
                block, prev = self.heads.get((fl, sl), 0), 0
                assert bool(block) == bool(self.sl_bitmap[fl] >> sl & 1), f"bitmap {fl},{sl}"
                while block:
                    assert map_floor(self.size[block]) == (fl, sl), f"{block:#x} in list {fl},{sl}"
                    assert self.prv[block] == prev, f"{block:#x}: broken back link"
                    prev, block, listed = block, self.nxt[block], listed + 1
        assert listed == len(self.free_blocks), "free blocks missing from the lists"


class RlsfGlobal(Rlsf):
    name = "rlsf-global"
    summary = "rlsf 0.2.1 GlobalTlsf: as SmallGlobalTlsf, with in-place (and moving-down) realloc"
    exact = "rlsf-global"

    def _new_free(self, block, size, prev, after):
        """A free block [block, block + size) after `prev`, before the block at `after`."""
        self.prev[block] = prev
        self.prev[after] = block
        self._link(block, size)

    def _in_place(self, ptr, size):
        """Tlsf::reallocate_inplace: the new payload address, or 0."""
        entry = self.blocks[ptr]
        block, _, align = entry
        new_size = (ptr - block + size + GRAN - 1) & -GRAN
        if new_size > M32:
            return 0
        old_size = self.size[block]
        after = block + old_size
        if new_size <= old_size:
            if new_size < old_size:                     # shrink: a free block at the end
                rest = old_size - new_size
                if after in self.free_blocks:           # merged with a free block after
                    self._unlink(after)
                    rest += self.size.pop(after)
                    del self.prev[after]
                self.size[block] = new_size
                self._new_free(block + new_size, rest, block, block + new_size + rest)
            entry[1] = size
            return ptr
        clearance, clearance_end = old_size, after
        if after in self.free_blocks:                   # grow into the free block after
            free = self.size[after]
            clearance, clearance_end = clearance + free, after + free
            grow = new_size - old_size
            if grow <= free:
                self._unlink(after)
                del self.size[after], self.prev[after]
                self.size[block] = new_size
                if grow < free:
                    self._new_free(block + new_size, free - grow, block, clearance_end)
                else:
                    self.prev[clearance_end] = block
                entry[1] = size
                return ptr
        before = self.prev[block]
        if before not in self.free_blocks:
            return 0
        clearance += self.size[before]
        new_ptr = (before + HEADER + align - 1) & -align
        new_size = (new_ptr - before + size + GRAN - 1) & -GRAN
        if new_size > clearance:
            return 0
        self._unlink(before)                            # move down into it
        if after in self.free_blocks:
            self._unlink(after)
            del self.size[after], self.prev[after]
        del self.size[block], self.prev[block], self.blocks[ptr]
        self.size[before] = new_size
        if new_size == clearance:
            self.prev[clearance_end] = before
        else:
            rest = clearance - new_size
            if clearance_end in self.free_blocks:
                self._unlink(clearance_end)
                rest += self.size.pop(clearance_end)
                del self.prev[clearance_end]
            self._new_free(before + new_size, rest, before, before + new_size + rest)
        self.blocks[new_ptr] = [before, size, align]
        return new_ptr

    def _realloc(self, ptr, size):
        """FlexTlsf::reallocate: in place, else a block from the lists, else a new pool."""
        new = self._in_place(ptr, size) or self._alloc(size, self.align_of(ptr))
        if new and new != ptr and ptr in self.blocks:
            self._release(ptr)
        return new

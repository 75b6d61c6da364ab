"""wee_alloc 0.4.5 (rustwasm/wee_alloc) on wasm32, with its default `size_classes` feature.

Owns the model of the small Rust allocator the seed article warns about.
Main entry point: `WeeAlloc.malloc`.

Address-exact against the wee-alloc module (wasm_modules/, wee_alloc 0.4.5
built from its tagged source under src/tracking.rs's ABI): scenarios and
generated traces give the same addresses and memory sizes, event by event
(`benchmarks/fidelity.py`, tests/fidelity/test_wee.py).

What the model does, after the source and the real build:

- Cells. Every allocation is a cell with a two-word header (the addresses of
  the previous and next adjacent cells, tags in the low bits), so the
  overhead is 8 bytes and addresses are word (4-byte) aligned. Cells are cut
  from the *end* of a free cell, which leaves the remainder in place.
- Memory. Fresh memory only ever comes from `memory.grow`, a whole number of
  pages at a time, and each grant is a separate run of cells: cells of two
  grants never merge even when adjacent. The pages a module starts with are
  never used. Nothing is ever given back.
- Main free list: first fit over a singly linked list. A fresh grant is at
  least 8 x (alignment + 2 KiB) (the source's `(align + MIN_CELL_SIZE) *
  Words(2)` turns Words(2) into 8 bytes before multiplying), cells split
  only if 2 KiB (512 words) would remain. (A large request with alignment
  above 4 can therefore fail right after a grant: the grant is sized
  max(size, ...), not size plus the slack the alignment needs. The model returns 0 there, as the source
  returns null.) Freeing merges with a free left neighbour at once, or is
  queued behind a free right neighbour and merged on a later walk; with both
  neighbours free only the left merge happens.
- Size classes: requests of at most 256 words (1 KiB) with alignment <= 4
  each use their own list of that one size. A class refills with a block of
  max((words + 2)^2, 2048) words taken from the main list; that block stays
  with the class for ever, and cells in it never merge.
- The walk. In the published `walk_free_list` the cursor that should advance
  along the list is the list head itself, so every cell the first-fit walk
  steps over is unlinked and lost for good (its bytes stay free but no list
  reaches them). After a refill the main list holds only the new grant.
  This is the mechanism behind the unbounded growth users reported
  (wee_alloc issue #106): repeated alloc/free of varying sizes keeps calling
  `memory.grow` where a coalescing allocator stays flat.
- `malloc(n)` asks with alignment 8, as the module's malloc does (the ABI
  promises 8-aligned blocks). Only alignments up to 4 reach the size classes,
  so malloc never does: the article's byte buffers (`Box<[u8; N]>`, align 1)
  are `aligned_alloc(1, n)`, which the module passes through unchanged.
- `realloc` is Rust's default: allocate, copy, free. A zero-byte request is
  a one-byte request, as in the module's wrapper (wee_alloc itself would
  return the alignment as a dangling pointer, which a C-style heap cannot
  hold twice).
"""

from ..memory import PAGE
from .base import Allocator, check_power_of_two, merge_spans

# ---------------------------------------------------------------------------
# Constants of a wasm32 build
# ---------------------------------------------------------------------------

WORD = 4
HEADER = 2 * WORD                   # prev and next adjacent-cell pointers
NUM_SIZE_CLASSES = 256              # one list per size of 1..256 words
MAIN = NUM_SIZE_CLASSES             # index of the main list among the heads
MIN_CELL_WORDS = 2 * NUM_SIZE_CLASSES   # LargeAllocPolicy::MIN_CELL_SIZE
CLASS_REFILL_WORDS = 8192 // WORD   # a size class's smallest refill
MALLOC_ALIGN = 8                    # what the wee-alloc module's malloc asks (src/tracking.rs)


class WeeAlloc(Allocator):
    name = "wee-alloc"
    summary = "wee_alloc 0.4.5 with size classes: cells, first fit that loses what it walks past"
    exact = "wee-alloc"
    alignment = WORD
    # A small Rust cdylib: 1 MiB of stack, then data, in 17 initial pages
    default_start = (1048576 + 1024, 17)

    def __init__(self, memory, heap_base):
        super().__init__(memory, heap_base)
        # The adjacent-cell chains: every cell, used or free, reachable or not.
        self.end = {}           # cell -> address just past it (its `next` pointer)
        self.prev = {}          # cell -> previous adjacent cell, 0 for the first of a run
        self.last = set()       # cells whose `next` is the end of their run (next_cell_is_invalid)
        self.used = set()       # allocated cells, size-class blocks included
        # The free lists: singly linked through next_free, heads[MAIN] is the main list.
        self.heads = [0] * (NUM_SIZE_CLASSES + 1)
        self.next_free = {}     # free cell -> next cell in its list (may be stale once lost)
        self.merge_next = set() # free cells whose next_free is their left neighbour, to merge
        self.layout = {}        # live address -> (words, align), what dealloc is told
        self.class_blocks = {}  # main-list cell handed to a size class -> end of that block
        # After an OOM the replay asks for spans at every failure: they are kept
        # until the next malloc or free.
        self._spans = None
        self._passed = []       # cells the current request's walk has lost so far

    # -- cells ----------------------------------------------------------------

    def _new_run(self, start, end):
        """A single free cell covering [start, end), alone in its run."""
        self.end[start] = end
        self.prev[start] = 0
        self.last.add(start)
        self.next_free[start] = 0
        return start

    def _absorb(self, cell):
        """Neighbors::remove: `cell` disappears, its left neighbour grows over it."""
        left, after = self.prev.pop(cell), self.end.pop(cell)
        self.next_free.pop(cell, None)
        self.merge_next.discard(cell)
        if cell in self.last:
            self.last.discard(cell)
            self.last.add(left)
        else:
            self.prev[after] = left
        self.end[left] = after

    def _try_alloc(self, cell, k, words, align):
        """FreeCell::try_alloc: split the tail off `cell`, or take it whole; 0 if neither fits."""
        size = words * WORD
        after = self.end[cell]
        data = cell + HEADER
        if after - data < size:
            return 0
        split = (after - size) & -align
        min_words = MIN_CELL_WORDS if k == MAIN else words
        if data + HEADER + min_words * WORD <= split:
            new = split - HEADER
            self.end[new], self.prev[new] = after, cell
            if cell in self.last:
                self.last.discard(cell)
                self.last.add(new)
            else:
                self.prev[after] = new
            self.end[cell] = new
            self.used.add(new)
            return split
        if data & (align - 1) == 0:
            self.heads[k] = self.next_free.pop(cell)
            self.used.add(cell)
            return data
        return 0

    # -- free lists -----------------------------------------------------------

    def _first_fit(self, k, words, align):
        """alloc_first_fit over list k. The walk moves the head itself (see the docstring)."""
        heads = self.heads
        while True:
            cell = heads[k]
            if not cell:
                return 0
            while cell in self.merge_next:       # a merge queued by an earlier free
                left = self.prev[cell]
                self._absorb(cell)
                heads[k] = cell = left
            ptr = self._try_alloc(cell, k, words, align)
            if ptr:
                return ptr
            heads[k] = self.next_free[cell]      # the cell just passed is now lost
            self._passed.append(cell)

    def _refill(self, k, words, align):
        """new_cell_for_free_list: a fresh free cell for list k, or 0 when memory is exhausted."""
        if k == MAIN:
            # (align + MIN_CELL_SIZE) * Words(2): memory_units turns Words(2) into
            # 8 bytes before the multiply, so the floor is 8 x (align + 2 KiB)
            size = max(words * WORD, (align + MIN_CELL_WORDS * WORD) * 2 * WORD)
            pages = -(-(size + HEADER) // PAGE)
            old = self.memory.grow(pages)
            if old < 0:
                return 0
            start = old * PAGE
            return self._new_run(start, start + pages * PAGE)
        block_words = max((words + 2) ** 2, CLASS_REFILL_WORDS)
        data = self._alloc_with_refill(MAIN, block_words, WORD)
        if not data:
            return 0
        self.class_blocks[data - HEADER] = data + block_words * WORD
        return self._new_run(data, data + block_words * WORD)

    def _alloc_with_refill(self, k, words, align):
        ptr = self._first_fit(k, words, align)
        if ptr:
            return ptr
        cell = self._refill(k, words, align)
        if not cell:
            return 0
        self.next_free[cell], self.heads[k] = self.heads[k], cell
        return self._first_fit(k, words, align)

    def _alloc(self, size, align):
        self._spans = None
        self._passed = []
        words = max(1, -(-size // WORD))
        k = words - 1 if align <= WORD and words <= NUM_SIZE_CLASSES else MAIN
        ptr = self._alloc_with_refill(k, words, align)
        if ptr:
            self.layout[ptr] = (words, align)
        return ptr

    # -- the protocol ---------------------------------------------------------

    def malloc(self, size):
        return self._alloc(size, MALLOC_ALIGN)

    def aligned_alloc(self, align, size):
        check_power_of_two(align, self.name)
        return self._alloc(size, align)

    def free(self, ptr):
        words, align = self.layout.pop(ptr)
        k = words - 1 if align <= WORD and words <= NUM_SIZE_CLASSES else MAIN
        cell = ptr - HEADER
        self.used.discard(cell)
        self._spans = None
        if k == MAIN:
            left = self.prev[cell]
            if left and left not in self.used:
                self._absorb(cell)               # fold into the free left neighbour
                return
            right = self.end[cell]
            if cell not in self.last and right not in self.used:
                # queue behind the free right neighbour; merged on the next walk over it
                self.next_free[cell] = self.next_free[right]
                self.next_free[right] = cell
                self.merge_next.add(right)
                return
        self.next_free[cell], self.heads[k] = self.heads[k], cell

    def realloc(self, ptr, size):
        new = self._alloc(size, self.layout[ptr][1])
        if new:
            self.free(ptr)
        return new

    # -- inspection -----------------------------------------------------------

    def reachable(self, k=MAIN):
        """The cells list k still reaches, head first."""
        out, cell = [], self.heads[k]
        while cell:
            out.append(cell)
            cell = self.next_free[cell]
        return out

    def spans(self):
        """Free: the cells a free list still reaches, all wee_alloc can hand out
        without growing. Used: live cells and their headers, size-class blocks,
        the cells the walk lost (free bytes no list reaches) and the initial
        pages, which wee_alloc never touches: overhead, never counted as free."""
        if self._spans is None:
            self._spans = self._layout_spans(self._reachable_cells())
        return list(self._spans)

    def oom_spans(self):
        """The free blocks as the failed request found them: its own walk lost the
        cells it passed, but they were free when it was made (the replay's verdict)."""
        return self._layout_spans(self._reachable_cells() + self._passed)

    def _reachable_cells(self):
        # the queued-merge cells are in their lists too: reachable covers every list
        return [c for k, head in enumerate(self.heads) if head for c in self.reachable(k)]

    def _layout_spans(self, free_cells):
        total = self.memory.byte_length
        raw, cursor = [], self.heap_base
        for cell in sorted(free_cells):
            raw.append((cursor, cell - cursor, True))
            raw.append((cell, self.end[cell] - cell, False))
            cursor = self.end[cell]
        raw.append((cursor, total - cursor, True))
        return merge_spans(raw)

    def check(self):
        for cell, after in self.end.items():
            assert cell % WORD == 0 and cell + HEADER <= after, f"bad cell {cell:#x}..{after:#x}"
            assert after <= self.memory.byte_length, f"cell {cell:#x} runs past memory"
            if cell not in self.last:
                assert self.prev.get(after) == cell, f"cell {after:#x} does not point back to {cell:#x}"
            if self.prev[cell]:
                assert self.end[self.prev[cell]] == cell, f"left neighbour of {cell:#x} does not reach it"
        for ptr, (words, align) in self.layout.items():
            cell = ptr - HEADER
            assert cell in self.used and ptr % align == 0, f"live block {ptr:#x} not an aligned used cell"
            assert self.end[cell] - ptr >= words * WORD, f"live block {ptr:#x} is too small"
        assert len(self.layout) + len(self.class_blocks) == len(self.used), "used cells without an owner"
        for k in range(NUM_SIZE_CLASSES + 1):
            seen = set()
            for cell in self.reachable(k):
                assert cell not in seen, f"cycle in free list {k}"
                seen.add(cell)
                assert cell in self.end and cell not in self.used, f"list {k} holds a non-free cell {cell:#x}"
                if cell in self.merge_next:
                    assert self.next_free[cell] == self.prev[cell] not in self.used, \
                        f"queued merge of {cell:#x} does not point at its free left neighbour"
                if k < MAIN:
                    assert self.end[cell] - cell - HEADER >= (k + 1) * WORD, \
                        f"cell {cell:#x} too small for size class {k + 1}"


"""Hand-checked small cases for the free-list family and the buddy allocator.

Every expected address below is worked out from the layout the module docstring
describes (8-byte headers, 8-byte granules, 16-byte minimum blocks; buddy
blocks aligned to their size from the region base), so a change of placement,
splitting, coalescing or growth rule shows up as a wrong number.
"""

import random

import pytest

from pyfrag.allocators import fits, get
from pyfrag.heap import Heap
from pyfrag.memory import PAGE, Memory

FREELISTS = ["first-fit", "best-fit", "next-fit",
             "first-fit-nocoalesce", "best-fit-nocoalesce", "next-fit-nocoalesce"]
COALESCING = [n for n in FREELISTS if "nocoalesce" not in n]
NONCOALESCING = [n for n in FREELISTS if "nocoalesce" in n]


def heap(name, maximum="wasm32", pages=1):
    return Heap(name, heap_base=1024, initial_pages=pages, maximum=maximum)


def layout(h):
    """A free-list heap's blocks: start -> (size, used)."""
    return {b: (size, used) for b, size, used in h.allocator.layout()}


# -- free lists: layout ------------------------------------------------------------

@pytest.mark.parametrize("name", FREELISTS)
def test_blocks_are_laid_out_back_to_back_after_their_headers(name):
    h = heap(name)
    # block sizes: 10 -> 24, 100 -> 112, 1000 -> 1008, 0 -> 16 (header included)
    assert [h.malloc(n) for n in (10, 100, 1000, 0)] == [1032, 1056, 1168, 2176]
    h.check()


@pytest.mark.parametrize("name", FREELISTS)
def test_heap_base_is_rounded_to_the_block_granule(name):
    h = Heap(name, heap_base=1027, initial_pages=1)
    assert h.malloc(1) == 1032 + 8      # first block at 1032, payload after its header
    h.check()


def layout_with_two_holes(name, maximum="wasm32"):
    """Holes of 112 bytes at 1024 and 56 bytes at 1152, guards after each, top free from 1224."""
    h = heap(name, maximum)
    p1, g1, p2, g2 = h.malloc(100), h.malloc(8), h.malloc(48), h.malloc(8)
    assert (p1, g1, p2, g2) == (1032, 1144, 1160, 1216)
    h.free(p1)
    h.free(p2)
    return h


def test_first_fit_takes_the_lowest_hole_that_fits_and_splits_it():
    h = layout_with_two_holes("first-fit")
    assert h.malloc(40) == 1032          # 48-byte block from the 112-byte hole
    assert h.malloc(40) == 1032 + 48     # the 64-byte rest of that hole
    h.check()


def test_best_fit_takes_the_smallest_hole_that_fits():
    h = layout_with_two_holes("best-fit")
    assert h.malloc(40) == 1160          # the 56-byte hole; its 8-byte rest is too small to split
    assert h.malloc(40) == 1032
    h.check()


def test_best_fit_prefers_the_lower_of_equal_holes():
    h = heap("best-fit")
    a, _, b, _ = h.malloc(48), h.malloc(8), h.malloc(48), h.malloc(8)
    h.free(b)
    h.free(a)
    assert h.malloc(48) == a


def test_next_fit_resumes_after_the_previous_allocation_and_wraps():
    h = layout_with_two_holes("next-fit", maximum=1)
    assert h.malloc(40) == 1232          # the rover sits at 1224, past both holes
    h2 = layout_with_two_holes("next-fit", maximum=1)
    rest = PAGE - 1224
    assert h2.malloc(rest - 8) == 1232   # takes the whole top: the rover is at the end
    assert h2.malloc(40) == 1032         # nothing above it, so the search wraps round


# -- free lists: coalescing ----------------------------------------------------------

# next-fit is left out here: its rover sends the probe request past the holes
@pytest.mark.parametrize("name", [n for n in FREELISTS if not n.startswith("next-fit")])
def test_adjacent_frees_merge_only_when_coalescing(name):
    h = heap(name)
    a, b = h.malloc(100), h.malloc(100)       # two 112-byte blocks at 1024 and 1136
    h.malloc(8)                               # guard: keeps them off the top
    h.free(a)
    h.free(b)
    merged = h.malloc(200)                    # a 208-byte block: fits only in the merged hole
    assert (merged == a) == (name in COALESCING)
    h.check()


@pytest.mark.parametrize("name", COALESCING)
def test_freeing_between_two_holes_merges_all_three(name):
    h = heap(name)
    a, b, c = h.malloc(100), h.malloc(100), h.malloc(100)
    h.malloc(8)
    h.free(a)
    h.free(c)
    h.free(b)
    assert layout(h)[a - 8] == (3 * 112, False)
    h.check()


@pytest.mark.parametrize("name", FREELISTS)
def test_freeing_everything_returns_one_free_top_block_when_coalescing(name):
    h = heap(name)
    ptrs = [h.malloc(n) for n in (10, 200, 3000, 40)]
    for p in ptrs:
        h.free(p)
    h.check()
    expected = 1 if name in COALESCING else len(ptrs) + 1
    assert len(h.allocator.free_blocks()) == expected


# -- free lists: growth ----------------------------------------------------------------

@pytest.mark.parametrize("name", FREELISTS)
def test_memory_grows_at_the_first_request_that_does_not_fit(name):
    h = heap(name)
    assert h.malloc(60000) == 1032            # fits in the first page
    assert h.memory.pages == 1 and h.memory.grow_calls == 0
    # the free top is [61032, 65536): a 10008-byte block extends it past one page
    assert h.malloc(10000) == 61040
    assert h.memory.pages == 2 and h.memory.grow_calls == 1
    h.check()


@pytest.mark.parametrize("name", FREELISTS)
def test_a_used_last_block_makes_the_new_block_start_at_the_top(name):
    h = heap(name)
    h.malloc(PAGE - 1024 - 8)                 # exactly fills the first page
    assert h.malloc(100) == PAGE + 8
    assert h.memory.pages == 2
    h.check()


@pytest.mark.parametrize("name", FREELISTS)
def test_growth_is_by_whole_pages_and_no_more_than_needed(name):
    h = heap(name)
    h.malloc(5 * PAGE)
    assert h.memory.pages == 6                # 1024 + 8 + 5 pages needs 6 pages, not 7
    h.check()


@pytest.mark.parametrize("name", FREELISTS + ["buddy"])
def test_a_refused_grow_fails_the_request_and_leaves_the_heap_as_it_was(name):
    h = heap(name, maximum=2)
    kept = h.malloc(1000)
    before = h.spans()
    assert h.malloc(3 * PAGE) == 0
    assert h.spans() == before and h.memory.pages <= 2
    h.check()
    h.free(kept)
    h.check()


# -- free lists: realloc and aligned_alloc --------------------------------------------

@pytest.mark.parametrize("name", FREELISTS)
def test_realloc_shrinks_in_place_and_frees_the_tail(name):
    h = heap(name)
    p = h.malloc(1000)
    h.malloc(8)
    assert h.realloc(p, 100) == p
    # the 1008-byte block keeps 112 bytes; the 896-byte tail is a free block
    assert layout(h)[p - 8] == (112, True)
    assert layout(h)[p - 8 + 112] == (896, False)
    h.check()


@pytest.mark.parametrize("name", FREELISTS)
def test_realloc_grows_in_place_into_a_free_neighbour_only_when_coalescing(name):
    h = heap(name)
    p = h.malloc(100)                         # the free top follows it
    q = h.realloc(p, 1000)
    assert (q == p) == (name in COALESCING)
    if q != p:
        assert q == p + 112                   # moved to a fresh block just above
    h.check()


@pytest.mark.parametrize("name", FREELISTS + ["buddy"])
@pytest.mark.parametrize("align", [16, 64, 4096, 65536])
def test_aligned_alloc_returns_aligned_blocks(name, align):
    h = heap(name)
    ptrs = [h.malloc(24), h.malloc(0, align), h.malloc(100, align), h.malloc(8)]
    assert ptrs[1] % align == 0 and ptrs[2] % align == 0
    assert len(set(ptrs)) == 4
    h.check()


@pytest.mark.parametrize("name", ["first-fit", "best-fit"])
@pytest.mark.parametrize("align", [4096, 65536])
def test_aligned_alloc_keeps_the_padding_usable(name, align):
    h = heap(name)
    h.malloc(24)
    p = h.malloc(0, align)
    assert h.malloc(8) < p                    # the padding below p is a free block
    h.check()


# -- buddy ----------------------------------------------------------------------------

def test_buddy_cuts_the_first_page_into_aligned_power_of_two_blocks():
    h = heap("buddy")
    # [1024, 65536) is 64512 bytes: blocks of 32K, 16K, 8K, 4K, 2K, 1K from offset 0
    free = [(off, order) for off, order, used in h.allocator._blocks() if not used]
    assert free == [
        (0, 15), (32768, 14), (49152, 13), (57344, 12), (61440, 11), (63488, 10)]


def test_buddy_splits_the_smallest_block_and_merges_buddies_back():
    h = heap("buddy")
    # 100 + 8 bytes -> a 128-byte block split from the 1 KiB block at offset 63488
    p, q = h.malloc(100), h.malloc(100)
    assert (p, q) == (1024 + 63488 + 8, 1024 + 63616 + 8)
    h.free(p)
    h.free(q)
    # merged back into the 1 KiB block, which a 1000-byte request takes again
    assert h.malloc(1000) == p
    h.check()


def test_buddy_rounds_each_request_up_to_a_power_of_two():
    h = heap("buddy")
    p = h.malloc(1016)                        # 1016 + 8 = 1024: exactly one 1 KiB block
    q = h.malloc(1017)                        # 1025 needs a 2 KiB block
    assert (p, q) == (1024 + 63488 + 8, 1024 + 61440 + 8)
    h.check()


def test_buddy_grows_only_as_far_as_an_aligned_block_needs():
    h = heap("buddy")
    # 40000 bytes need a 64 KiB block. The whole first page is free and merges
    # with new space, so growing to 2 pages gives the block at offset 0.
    assert h.malloc(40000) == 1024 + 8
    assert h.memory.pages == 2 and h.memory.grow_calls == 1
    h.check()


def test_buddy_realloc_shrinks_in_place_and_frees_upper_halves():
    h = heap("buddy")
    p = h.malloc(1000)                        # the 1 KiB block at offset 63488
    assert h.realloc(p, 100) == p
    assert h.malloc(100) == p + 128           # the upper half of the old 256-byte half
    h.check()


# -- free lists: against a naive reference ----------------------------------------------

class NaiveFreeList:
    """The free-list semantics of freelist.py written the slow, obvious way: a Python
    list of [start, size, free] walked from the bottom on every request."""

    def __init__(self, policy, coalesce, memory, heap_base):
        self.policy, self.coalesce, self.memory = policy, coalesce, memory
        self.blocks, self.top, self.rover = [], (heap_base + 7) & -8, 0
        self.extend(memory.byte_length)

    def extend(self, end):
        if self.blocks and self.blocks[-1][2]:
            self.blocks[-1][1] = end - self.blocks[-1][0]
            self.top = end
        elif end - self.top >= 16:
            self.blocks.append([self.top, end - self.top, True])
            self.top = end

    def malloc(self, size):
        need = max(16, (size + 15) & -8)
        fits = [blk for blk in self.blocks if blk[2] and blk[1] >= need]
        if self.policy == "best":
            fits.sort(key=lambda blk: (blk[1], blk[0]))
        elif self.policy == "next":
            fits.sort(key=lambda blk: (blk[0] < self.rover, blk[0]))
        if fits:
            blk = fits[0]
        else:
            base = self.blocks[-1][0] if self.blocks and self.blocks[-1][2] else self.top
            short = base + need - self.memory.byte_length
            if short > 0 and self.memory.grow(-(-short // PAGE)) == -1:
                return 0
            self.extend(self.memory.byte_length)
            blk = self.blocks[-1]
        b, have = blk[0], blk[1]
        if have - need >= 16:
            self.blocks.insert(self.blocks.index(blk) + 1, [b + need, have - need, True])
            blk[1] = need
        blk[2] = False
        if self.policy == "next":
            self.rover = b + blk[1]
        return b + 8

    def free(self, ptr):
        i = next(i for i, blk in enumerate(self.blocks) if blk[0] == ptr - 8)
        self.blocks[i][2] = True
        if not self.coalesce:
            return
        if i + 1 < len(self.blocks) and self.blocks[i + 1][2]:
            self.blocks[i][1] += self.blocks.pop(i + 1)[1]
        if i and self.blocks[i - 1][2]:
            self.blocks[i - 1][1] += self.blocks.pop(i)[1]


@pytest.mark.parametrize("name", FREELISTS)
@pytest.mark.parametrize("seed", range(3))
def test_free_lists_place_exactly_like_a_naive_walk(name, seed, monkeypatch):
    # small chunks, so that merges, splits and searches cross chunk boundaries
    monkeypatch.setattr(fits, "LOAD", 4)
    rng = random.Random(seed)
    h = heap(name, maximum=64)
    ref = NaiveFreeList(name.split("-")[0], name in COALESCING, Memory(1, 64), 1024)
    live = []
    for _ in range(1500):
        if live and rng.random() < 0.45:
            p = live.pop(rng.randrange(len(live)))
            h.free(p)
            ref.free(p)
        else:
            size = rng.choice([rng.randrange(0, 64), rng.randrange(0, 2048),
                               rng.randrange(0, 40000)])
            p = h.malloc(size)
            assert p == ref.malloc(size)
            if p:
                live.append(p)
        assert h.memory.pages == ref.memory.pages
    assert layout(h) == {b: (size, not free) for b, size, free in ref.blocks}
    h.check()


# -- check() catches a broken heap ---------------------------------------------------

def fragmented(name):
    h = heap(name)
    ptrs = [h.malloc(n) for n in (100, 8, 3000, 8, 40, 8)]
    h.free(ptrs[0])
    h.free(ptrs[2])
    h.check()
    return h


@pytest.mark.parametrize("name", COALESCING + ["next-fit-nocoalesce"])
def test_check_catches_a_wrong_size_class(name):
    h = fragmented(name)
    a = h.allocator
    blocks = a.blocks if name in COALESCING else a.index
    k, i = blocks.locate(0)                    # the first block is free
    blocks.marks[k][i] += 1
    with pytest.raises(AssertionError):
        h.check()


@pytest.mark.parametrize("name", ["first-fit-nocoalesce", "best-fit-nocoalesce"])
def test_check_catches_a_block_in_the_wrong_bin(name):
    h = fragmented(name)
    bins = h.allocator.index.bins
    wrong = next(c for c in range(255) if bins[c]) + 1
    bins[wrong].insert(0, bins[wrong - 1].pop(0))
    with pytest.raises(AssertionError):
        h.check()


@pytest.mark.parametrize("name", COALESCING)
def test_check_catches_a_lost_block(name):
    h = fragmented(name)
    h.allocator.blocks.delete_at(0, 1)          # the used block after the first hole
    with pytest.raises(AssertionError):
        h.check()


@pytest.mark.parametrize("name", NONCOALESCING)
def test_check_catches_a_lost_live_block(name):
    h = fragmented(name)
    del h.allocator.live[1024 + 112]            # the used block after the first hole
    with pytest.raises(AssertionError):
        h.check()


@pytest.mark.parametrize("name", COALESCING)
def test_check_catches_unmerged_neighbours(name):
    h = fragmented(name)
    blocks = h.allocator.blocks
    k, i = blocks.locate(1024 + 112)            # the guard after the first hole
    blocks.set_mark(k, i, fits.size_class(16))  # free it behind the allocator's back
    with pytest.raises(AssertionError):
        h.check()


def test_check_catches_a_best_fit_index_out_of_step():
    h = fragmented("best-fit")
    h.allocator.by_size.remove(1024, 112)
    with pytest.raises(AssertionError):
        h.check()


@pytest.mark.parametrize("name", NONCOALESCING)
def test_check_catches_a_free_block_missing_from_the_index(name):
    h = fragmented(name)
    h.allocator.index.remove(1024, 112)
    with pytest.raises(AssertionError):
        h.check()


def test_check_catches_unmerged_buddies():
    h = heap("buddy")
    a = h.allocator
    a._pop(63488, 10)                           # split the free 1 KiB block by hand
    a._push(63488, 9)
    a._push(64000, 9)
    with pytest.raises(AssertionError):
        h.check()


# -- the placement indexes ------------------------------------------------------------

def test_block_map_and_free_indexes_answer_like_a_linear_walk(monkeypatch):
    # small chunks, so that splits and cross-chunk searches happen on a few hundred blocks
    monkeypatch.setattr(fits, "LOAD", 4)
    rng = random.Random(7)
    blocks = fits.BlockMap(0)
    by_size, by_address, free_map = fits.SizeBins(40), fits.AddressBins(40), fits.FreeMap(40)
    indexes = (by_size, by_address, free_map)
    layout = {}                      # start -> (size, free): what the structures must say

    def mark(size, free):
        return fits.size_class(size) if free else 0

    for _ in range(1200):
        roll = rng.random()
        if not layout or roll < 0.3:                       # a new block on top
            # 1000..1003 granules share a size class: searches must check sizes
            b, size = blocks.top, rng.choice([2, 3, 100, 1000, 1001, 1003, 2000]) * 8
            free = rng.random() < 0.5
            blocks.insert(b, mark(size, free))
            blocks.top += size
            for index in indexes if free else ():
                index.add(b, size)
        else:
            b = rng.choice(list(layout))
            size, free = layout.pop(b)
            k, i = blocks.locate(b)
            if roll < 0.6 and size >= 32:                   # split in two
                half = size // 16 * 8
                blocks.set_mark(k, i, mark(half, free))
                blocks.insert_at(k, i + 1, b + half, mark(size - half, not free))
                layout[b + half] = (size - half, not free)
                for index in indexes:
                    if free:                                # the free half stays in place
                        index.shrink(b, size, b, half, *free_map.locate(b << 40 | size)
                                     if index is free_map else (None, None))
                    else:
                        index.add(b + half, size - half)
                size = half
            else:                                          # flip used <-> free
                for index in indexes:
                    if free:
                        index.remove(b, size)
                    else:
                        index.add(b, size)
                free = not free
                blocks.set_mark(k, i, mark(size, free))
        layout[b] = (size, free)
        listing = sorted((b, s, not f) for b, (s, f) in layout.items())
        assert blocks.blocks() == listing
        blocks.check()
        free_blocks = [(b, s) for b, s, used in listing if not used]
        for index in indexes:
            assert index.free_blocks() == free_blocks
            index.check(free_blocks)
        need = rng.choice([2, 3, 100, 1000, 1001, 1002, 3000]) * 8
        blocks.rover = free_map.rover = rng.choice([0, rng.randrange(blocks.top + 1)])
        fitting = [(b, s) for b, s in free_blocks if s >= need]
        wanted = next((f for f in fitting if f[0] >= blocks.rover), fitting[0] if fitting else None)
        for search in (blocks.next_fit, free_map.next_fit):
            found = search(need)
            assert (found and found[:2]) == wanted
        first = fitting[0] if fitting else None
        for search in (blocks.first_fit, free_map.first_fit, by_address.find):
            found = search(need)
            assert (found and found[:2]) == first
        best = min(((s, b) for b, s in free_blocks if s >= need), default=None)
        found = by_size.find(need)
        assert (found and found[:2]) == (best and best[::-1])


def test_size_classes_are_monotone_exact_below_512_bytes_then_sixteen_per_octave():
    sizes = list(range(8, 1 << 22, 8)) + [1 << k for k in range(22, 48)]
    classes = [fits.size_class(s) for s in sizes]
    assert classes == sorted(classes) and classes[-1] == 255
    assert len({fits.size_class(s) for s in range(8, 512, 8)}) == 63
    for octave in (512, 4096, 1 << 20):            # sixteen classes per octave above
        assert len({fits.size_class(s) for s in range(octave, 2 * octave, 8)}) == 16


def test_registered_under_their_names():
    for name in FREELISTS + ["buddy"]:
        assert get(name).name == name

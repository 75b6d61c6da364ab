"""The talc, lol_alloc and rlsf models on their own: what each source does that the
shared property tests do not pin down, and that `check()` catches a broken state.

(Address-exactness against the real modules is tests/fidelity/test_rust_allocators.py.)
"""

import pytest

from pyfrag import Heap
from pyfrag.allocators import talc
from pyfrag.allocators.rlsf import map_ceil, map_floor, pool_size
from pyfrag.memory import PAGE

RUST = ["talc", "lol-alloc", "lol-alloc-leaking", "rlsf", "rlsf-global"]


@pytest.mark.parametrize("name", RUST)
def test_the_initial_pages_are_never_used(name):
    heap = Heap(name)
    first = heap.memory.byte_length
    assert heap.malloc(1) >= first
    # and they are not free either: the model cannot hand them out
    start, length, used = heap.spans()[0]
    assert start == heap.allocator.heap_base and start + length >= first and used


@pytest.mark.parametrize("name", RUST)
def test_layouts_past_isize_max_fail_without_growing(name):
    heap = Heap(name)
    pages = heap.memory.pages
    assert heap.malloc((1 << 31) - 7) == 0          # rounded up to 8: past isize::MAX
    assert heap.malloc(1 << 31) == 0
    assert heap.memory.pages == pages


def test_talc_first_growth_is_its_heap_even_when_the_request_fails():
    start = Heap("talc").memory.pages
    heap = Heap("talc", maximum=start + 3)
    assert heap.malloc(300_000) == 0
    assert heap.memory.pages == start + 3           # 2 pages, then 1: all there was
    base = start * PAGE
    assert heap.spans()[-1] == (base + talc.HEAP_HEADER, 3 * PAGE - talc.HEAP_HEADER, False)
    assert heap.malloc(100) == base + talc.HEAP_HEADER


def test_talc_grows_in_place_into_the_gap_above_and_shrinks_in_place():
    heap = Heap("talc")
    a, b, _ = heap.malloc(100), heap.malloc(100), heap.malloc(100)
    heap.free(b)
    assert heap.realloc(a, 180) == a                # into b's gap
    assert heap.realloc(a, 20) == a                 # shrink: a gap comes back above
    assert heap.malloc(100) == a + 24               # the smallest bin that can hold it
    heap.check()


def test_talc_bins():
    assert [talc.bin_of_size(n) for n in (12, 16, 60, 64, 120, 128, 192, 256, 1 << 20)] == \
        [0, 1, 12, 13, 20, 21, 22, 23, 47]
    assert talc.bin_of_size(1 << 31) == talc.BINS - 1


def test_lol_alloc_cuts_blocks_from_the_top_and_always_moves_on_realloc():
    heap = Heap("lol-alloc")
    top = (heap.memory.pages + 1) * PAGE
    a = heap.malloc(100)
    assert a == top - 104                           # 100 rounded up to 8, at the end
    assert heap.malloc(1, 4096) == top - 4096       # the aligned address below, slack above
    assert heap.realloc(a, 50) != a                 # GlobalAlloc's default realloc
    heap.check()


def test_lol_alloc_grows_again_for_an_alignment_the_new_pages_cannot_serve():
    heap = Heap("lol-alloc")
    start = heap.memory.pages
    align = 4 * PAGE                                # the first page granted is not aligned so
    assert start * PAGE % align
    p = heap.malloc(8, align)
    assert p % align == 0 and heap.memory.pages > start + 1
    heap.check()


def test_rlsf_list_mapping():
    assert map_floor(16) == (0, 0) and map_ceil(16) == (0, 0)
    assert map_floor(48) == (1, 16) and map_ceil(48) == (1, 16)
    assert map_floor(100_000) == (12, 16) and map_ceil(100_000) == (12, 17)
    assert map_ceil((1 << 16) - 16) == (12, 0)      # rounds up into the next power of two
    # a pool holds the request's search size rounded to its list step, plus the sentinel
    assert pool_size(100_000, 8) == 100_352 + 16
    assert pool_size(40_000, 8) == 40_960 + 16


def test_rlsf_aligned_blocks_keep_a_header_pointer():
    heap = Heap("rlsf")
    p = heap.malloc(10, 4096)
    block = heap.allocator.blocks[p][0]
    assert p % 4096 == 0 and block % 16 == 0 and p - block >= 8
    heap.free(p)
    heap.check()


@pytest.mark.parametrize("name", RUST)
def test_check_catches_a_broken_state(name):
    heap = Heap(name)
    ptrs = [heap.malloc(n) for n in (100, 2000, 30)]
    heap.free(ptrs[1])
    heap.check()
    model = heap.allocator
    if name == "talc":
        model.avail ^= 1                            # an availability bit that lies
    elif name == "lol-alloc":
        start = model.starts[0]
        model.size[start] += 8                      # a run overlapping the block above
    elif name == "lol-alloc-leaking":
        model.used -= 8                             # the pointer back inside a live block
    else:
        block = next(iter(model.free_blocks))
        model.size[block] += 16
    with pytest.raises(AssertionError):
        model.check()

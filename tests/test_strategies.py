"""Unit tests for the strategy allocators on a parent: arena, pool, hot-cold, and
the "strategy:parent" naming convention. Addresses are hand-checked against the
first-fit parent's layout: blocks start at the 8-aligned heap base (1024) with
an 8-byte header, so the first block's address is 1032 and a block of n bytes
occupies (n + 8) rounded up to 8.
"""

import pytest

from pyfrag import Heap, Memory, Trace, scenarios
from pyfrag.allocators import UnknownAllocator, get
from pyfrag.allocators.arena import CHUNK, Arena
from pyfrag.allocators.pool import SLAB

FIRST = 1032                      # first-fit's first address with heap base 1024
CHUNK_BLOCK = CHUNK + 8           # a chunk's block in the parent, header included
AFTER_SLAB = FIRST + SLAB + 8     # the parent's address after one slab


# -- naming -------------------------------------------------------------------


def test_parent_from_the_name_and_nesting():
    cls = get("arena:best-fit")
    assert cls.name == "arena:best-fit" and issubclass(cls, Arena)
    assert get("ARENA:Best_Fit") is cls
    heap = Heap("hot-cold:arena:bump")
    assert heap.name == "hot-cold:arena:bump"
    assert type(heap.allocator.parent).name == "arena:bump"
    assert type(heap.allocator.parent.parent).name == "bump"


def test_default_parent_and_start_state():
    assert type(Heap("pool").allocator.parent).name == "first-fit"
    assert get("arena:emmalloc").default_start == get("emmalloc").default_start


def test_parent_as_constructor_option():
    arena = Arena(Memory(1), 1024, parent="next-fit")
    assert type(arena.parent).name == "next-fit"


def test_bad_compositions_are_refused():
    with pytest.raises(UnknownAllocator):
        get("bump:first-fit")            # bump does not sit on a parent
    with pytest.raises(UnknownAllocator):
        get("arena:no-such-model")


# -- arena ---------------------------------------------------------------------


def test_arena_bumps_and_never_reuses_a_freed_block():
    heap = Heap("arena")
    a = heap.malloc(10)
    b = heap.malloc(100)
    assert (a, b) == (FIRST, FIRST + 16)
    heap.free(a)
    assert heap.malloc(10) == b + 104          # the hole at `a` stays a hole
    heap.check()


def test_arena_takes_its_first_chunk_at_the_first_request():
    heap = Heap("arena")
    assert heap.memory.pages == 1
    heap.malloc(1)
    assert heap.memory.pages == 2              # a 64 KiB chunk does not fit in page 0


def test_arena_big_request_gets_its_own_chunk_and_small_ones_continue():
    heap = Heap("arena")
    heap.malloc(100)                           # opens the first chunk
    a = heap.malloc(CHUNK - 200)               # fills it but for 96 bytes
    big = heap.malloc(CHUNK // 2)              # does not fit, bigger than CHUNK/4
    small = heap.malloc(40)                    # still fits the first chunk
    assert big == FIRST + CHUNK_BLOCK
    assert small == a + CHUNK - 200
    heap.check()


def test_arena_region_goes_back_to_the_parent_when_its_last_block_dies():
    heap = Heap("arena")
    ptrs = [heap.malloc(n) for n in (10, 5000, 70_000, 300)]
    for p in ptrs[:-1]:
        heap.free(p)
        assert any(u for _, _, u in heap.spans()[1:]), "released before the last free"
    heap.free(ptrs[-1])
    assert heap.spans() == [(1024, heap.memory.byte_length - 1024, False)]
    heap.check()


def test_arena_reset_starts_a_new_region_and_a_live_block_holds_the_old_one():
    heap = Heap("arena")
    old = heap.malloc(100)
    heap.allocator.reset()
    new = heap.malloc(100)
    assert new == FIRST + CHUNK_BLOCK          # the old chunk is still held by `old`
    heap.free(old)                             # now the old region is released at once
    assert heap.spans()[0] == (1024, CHUNK_BLOCK, False)
    heap.check()


def test_arena_reset_tag_in_a_trace():
    def trace(tag):
        return Trace().alloc(0, 100).free(0).alloc(1, 100).alloc(2, 100, tag=tag)

    plain = trace(None).replay("arena")
    tagged = trace("reset").replay("arena")
    assert plain.addresses[3] == FIRST + 104
    assert tagged.addresses[3] == FIRST + CHUNK_BLOCK


def test_arena_aligned_alloc_and_realloc_in_place():
    heap = Heap("arena")
    heap.malloc(8)
    q = heap.malloc(10, 4096)
    assert q % 4096 == 0
    r = heap.malloc(100)
    assert heap.realloc(r, 500) == r           # the newest block grows in place
    assert heap.realloc(q, 500) != q           # an older one moves
    heap.check()


# -- pool ----------------------------------------------------------------------


def test_pool_slots_by_class_each_class_in_its_own_slab():
    heap = Heap("pool")
    a = heap.malloc(10)                        # class 16: first slab
    b = heap.malloc(16)                        # same class, next slot
    c = heap.malloc(17)                        # class 24: a second slab
    assert (a, b, c) == (FIRST, FIRST + 16, AFTER_SLAB)
    heap.check()


def test_pool_reuses_a_freed_slot_only_for_its_class():
    heap = Heap("pool")
    a = heap.malloc(10)
    heap.malloc(10)
    heap.free(a)
    assert heap.malloc(20) != a                # class 24 does not take a 16-byte slot
    assert heap.malloc(12) == a                # class 16 does (last freed, first reused)
    heap.check()


def test_pool_sends_large_and_overaligned_requests_to_the_parent():
    heap = Heap("pool")
    heap.malloc(10)
    big = heap.malloc(5000)
    assert big == AFTER_SLAB                   # the parent's next block after the slab
    aligned = heap.malloc(10, 256)
    assert aligned % 256 == 0 and aligned not in heap.allocator.slot
    heap.check()


def test_pool_keeps_slabs_and_realloc_in_class_stays_put():
    heap = Heap("pool")
    a = heap.malloc(40)                        # class 48
    assert heap.realloc(a, 48) == a
    assert heap.realloc(a, 33) == a
    moved = heap.realloc(a, 20)                # a smaller class: a new slot
    assert moved != a
    heap.free(moved)
    assert heap.malloc(3000) > FIRST + SLAB    # the slabs stay with the pool
    heap.check()


# -- hot-cold ------------------------------------------------------------------


def test_hot_cold_routes_by_tag_and_packs_the_cold_data():
    heap = Heap("hot-cold")
    anchors, temps = [], []
    for _ in range(5):                         # the article's loop, five rounds
        anchors.append(heap.malloc(1000, tag="anchor"))
        temps.append(heap.malloc(100_000, tag="temp"))
        heap.free(temps[-1])
    start, end = heap.allocator.window
    assert all(start <= t < end for t in temps)
    assert not any(start <= a < end for a in anchors)
    # the window was reserved after the first anchor; the later ones sit side by side
    assert [b - a for a, b in zip(anchors[1:], anchors[2:])] == [1008] * 3
    heap.check()


def test_hot_cold_untagged_by_size_and_spill_when_the_window_is_full():
    heap = Heap("hot-cold")
    small, medium = heap.malloc(100), heap.malloc(300)
    huge = heap.malloc(2 << 20, tag="scratch")           # bigger than the 1 MiB window
    start, end = heap.allocator.window
    assert start <= small < end
    assert not start <= medium < end and not start <= huge < end
    heap.check()


def test_hot_cold_gives_the_window_back_if_the_request_fails():
    heap = Heap("hot-cold", maximum=20)
    assert heap.malloc(4 << 20, tag="temp") == 0   # window fits in 20 pages, the block does not
    assert heap.allocator.hot is None
    assert heap.spans() == [(1024, heap.memory.byte_length - 1024, False)]
    heap.check()


def test_hot_cold_saves_an_arena_from_swiss_cheese():
    # an arena holds every 100 KiB temporary as long as the anchors beside it live;
    # with the temporaries ("temp" tags) in their own sub-heap the anchors pack tight
    trace = scenarios.swiss_cheese(rounds=200)
    arena = trace.replay("arena").metrics.peak_heap_bytes
    split = trace.replay("hot-cold:arena").metrics.peak_heap_bytes
    assert arena > 200 * 100 * 1024
    assert split < (1 << 20) + 4 * 200 * 1024      # the window plus the anchors' chunks

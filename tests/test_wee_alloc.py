"""The wee-alloc model: its design, its invariants, and the long-run leak.

Model-only (no wasmtime needed); the model against the real wee-alloc module,
address by address, is tests/fidelity/test_wee.py.
"""

import random

import pytest

from pyfrag import Heap, scenarios
from pyfrag.allocators import MODELS
from pyfrag.allocators.wee_alloc import HEADER, MAIN, NUM_SIZE_CLASSES, WORD

# coalescing allocators to hold wee-alloc against, whichever are registered
COALESCING = [name for name in ("dlmalloc", "first-fit", "as-tlsf") if name in MODELS]


def pages_over(run, samples=4):
    """Memory pages at `samples` evenly spaced points of a run, the last at its end."""
    n = run.events
    return [run.heap_bytes[k * n // samples - 1] // 65536 for k in range(1, samples + 1)]


# -- the leak -----------------------------------------------------------------


@pytest.mark.parametrize("other", COALESCING)
def test_memory_grows_without_bound_where_a_coalescing_allocator_stays_flat(other):
    """The varying-churn scenario: a 1-200 KiB temporary freed at once and a small
    block each round, about 20 small blocks live."""
    trace = scenarios.varying_churn(rounds=4000, seed=5)
    wee = pages_over(trace.replay("wee-alloc"))
    flat = pages_over(trace.replay(other))
    assert flat[-1] == flat[0], f"{other} should stay flat once warmed up: {flat}"
    assert all(b > a for a, b in zip(wee, wee[1:])), f"wee-alloc should keep growing: {wee}"
    assert wee[-1] > 3 * wee[0] and wee[-1] > 10 * flat[-1]


def test_reported_repro_grows_on_every_round():
    """wee_alloc issue #106: alloc 85196 B, alloc 80000 B, free both, forever."""
    h = Heap("wee-alloc")
    sizes = []
    for _ in range(50):
        a, b = h.malloc(85196), h.malloc(80000)
        h.free(a)
        h.free(b)
        sizes.append(h.memory.pages)
    h.check()
    growth = {b - a for a, b in zip(sizes, sizes[1:])}
    assert len(growth) == 1 and growth.pop() > 0


def test_first_fit_walk_loses_the_cells_it_passes():
    h = Heap("wee-alloc")
    wee = h.allocator
    small = h.malloc(3000)
    h.malloc(3000)                               # keeps `small` from merging right
    h.free(small)
    assert small - HEADER in wee.reachable()
    h.malloc(60000)                              # passes over the 3000-byte cell
    assert small - HEADER not in wee.reachable()
    h.check()


# -- the design -----------------------------------------------------------------


def test_fresh_memory_comes_from_memory_grow_only():
    h = Heap("wee-alloc")
    start = h.memory.byte_length
    p = h.malloc(2000)
    assert p > start                             # the initial pages are never used
    assert p % WORD == 0


def test_size_classes_reuse_their_own_cells_only():
    h = Heap("wee-alloc")
    a = h.malloc(40, align=1)                    # a byte buffer, as Box<[u8; 40]> asks
    h.free(a)
    assert h.malloc(37, align=4) == a            # 10 words either way: same class, LIFO
    b = h.malloc(100, align=1)
    h.free(b)
    assert h.malloc(40, align=1) != b            # another class never takes it
    big = NUM_SIZE_CLASSES * WORD + 1            # past the last class: main list
    c = h.malloc(big, align=1)
    assert c not in h.allocator.reachable(NUM_SIZE_CLASSES - 1)
    h.check()


def test_malloc_asks_align_8_and_so_never_reaches_the_size_classes():
    h = Heap("wee-alloc")
    a = h.malloc(40)
    assert a % 8 == 0 and h.allocator.layout[a] == (10, 8)
    h.free(a)
    assert not any(h.allocator.reachable(k) for k in range(NUM_SIZE_CLASSES))
    assert h.allocator.reachable(MAIN)


def test_a_fresh_grant_is_at_least_8_times_align_plus_2_kib():
    # (align + MIN_CELL_SIZE) * Words(2) with Words(2) counted as 8 bytes
    for align, pages in ((8192, 2), (16384, 3), (65536, 9)):
        h = Heap("wee-alloc", heap_base=1024, initial_pages=1)
        assert h.malloc(100, align)
        grant = 8 * (align + 2048) + HEADER
        assert h.memory.pages - 1 == -(-grant // 65536) == pages


def test_freeing_next_to_a_free_left_neighbour_merges_at_once():
    h = Heap("wee-alloc")
    wee = h.allocator
    # cells are cut from the end of the free cell, so later blocks sit lower
    a, b, c = h.malloc(5000), h.malloc(5000), h.malloc(5000)
    assert c < b < a
    h.free(c)
    cells = len(wee.end)
    h.free(b)                                    # c is b's free left neighbour
    assert len(wee.end) == cells - 1
    h.check()


def test_aligned_requests_use_the_main_list_and_are_aligned():
    h = Heap("wee-alloc")
    for align in (8, 16, 64, 4096):
        p = h.malloc(24, align)
        assert p and p % align == 0
        assert h.allocator.layout[p] == (6, align)
    assert not h.allocator.reachable(5)          # 6 words, but no size class was used
    assert h.allocator.reachable(MAIN)
    h.check()


@pytest.mark.parametrize("seed", range(3))
def test_invariants_hold_on_random_traffic(seed):
    rng = random.Random(seed)
    h = Heap("wee-alloc")
    live = []                                    # (address, alignment asked for)
    for k in range(3000):
        r = rng.random()
        if live and r < 0.45:
            h.free(live.pop(rng.randrange(len(live)))[0])
        elif live and r < 0.55:
            j = rng.randrange(len(live))
            p, align = live[j]
            q = h.realloc(p, int(2 ** rng.uniform(0, 17)))
            # only an aligned block may fail to move (wee_alloc's grant sizing, see the model)
            assert q or align
            live[j] = (q or p, align)
        else:
            align = rng.choice((0, 0, 0, 8, 16))
            p = h.malloc(int(2 ** rng.uniform(0, 17)), align)
            assert p or align
            if p:
                assert p % max(align, WORD) == 0
                live.append((p, align))
        if k % 200 == 0:
            h.check()
        if k % 500 == 0:
            assert_spans_are_the_reachable_cells(h)
    h.check()
    assert_spans_are_the_reachable_cells(h)


def assert_spans_are_the_reachable_cells(h):
    """Free spans are exactly the cells some free list reaches: lost cells and the
    initial pages count as the allocator's (used), never as free."""
    wee = h.allocator
    reachable = {c for k in range(NUM_SIZE_CLASSES + 1) for c in wee.reachable(k)}
    free = [(s, s + n) for s, n, used in h.spans() if not used]
    cells = sorted((c, wee.end[c]) for c in reachable)
    covered = sum(b - a for a, b in cells)
    assert sum(b - a for a, b in free) == covered
    for a, b in cells:
        assert any(s <= a and b <= e for s, e in free), f"reachable cell {a:#x} not free"
    spans = h.spans()
    assert sum(n for _, n, _ in spans) == h.memory.byte_length - wee.heap_base


def test_lost_cells_are_overhead_not_free():
    h = Heap("wee-alloc")
    small = h.malloc(3000)
    h.malloc(3000)
    h.free(small)
    before = h.stats().total_free
    h.malloc(60000)                              # the walk loses the 3000-byte cell
    assert small - HEADER not in h.allocator.reachable()
    free = [(s, n) for s, n, used in h.spans() if not used]
    assert not any(s <= small - HEADER < s + n for s, n in free)
    assert h.stats().total_free < before


def test_a_failed_request_is_judged_by_the_cells_it_found():
    h = Heap("wee-alloc", heap_base=1024, initial_pages=1, maximum=4)
    small = h.malloc(3000)
    h.malloc(3000)
    h.free(small)
    assert h.malloc(10 * 65536) == 0                 # cannot grow: fails after the walk
    cell = small - HEADER
    assert cell not in h.allocator.reachable()       # lost by that walk ...
    free_now = [(s, n) for s, n, used in h.spans() if not used]
    found = [(s, n) for s, n, used in h.allocator.oom_spans() if not used]
    assert not any(s <= cell < s + n for s, n in free_now)
    assert any(s <= cell < s + n for s, n in found)  # ... but free when it was asked

"""Fidelity: the dlmalloc models against the real wasi-libc, Rust and Emscripten builds.

Every address and every memory size must match on requests at dlmalloc's bin
and request-size boundaries (including requests no build can serve, which
switch dlmalloc to its non-contiguous growth path) and at a memory limit; the
scenarios and random traces all models share are in test_every_module.py. Two
model-only tests (no wasmtime
needed) pin the start-up rule checked against scratch builds with a
page-aligned `__heap_base`, and show that `check()` notices a broken heap.
"""

import pytest

from exactness import assert_exact, can_align, module_or_skip
from pyfrag.heap import Heap
from pyfrag.memory import PAGE
from pyfrag.trace import Trace

MODULES = ["c-dlmalloc", "rust-dlmalloc", "emscripten-dlmalloc"]
KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30


def boundaries(entry):
    """Sizes around MIN_REQUEST, the smallbin/treebin split and the small-request
    limit of both alignments; frees that leave equal-sized neighbours (smallbin
    LIFO, same-size tree FIFO, dv and top merging); reallocs that shrink, grow
    into top, dv or a free neighbour, or move; aligned requests of every kind;
    and requests too big to serve, after which growth takes another path."""
    t = Trace("dlmalloc-boundaries")
    sizes = [0, 1, 11, 12, 13, 20, 21, 28, 29, 100, 228, 229, 236, 237, 244, 245,
             248, 252, 253, 256, 500, 1000, 4 * KIB, 64 * KIB - 100, 64 * KIB, 300 * KIB]
    for i, n in enumerate(sizes * 3):
        t.alloc(i, n)
    for i in range(0, 3 * len(sizes), 2):
        t.free(i)                          # every other block: same sizes binned in turn
    for i, n in enumerate(sizes):
        t.alloc(100 + i, n)                # which of the equal chunks comes back first
    for i in range(1, 3 * len(sizes), 4):
        t.realloc(i, sizes[i % len(sizes)] // 2)       # shrink in place
    for i in range(3, 3 * len(sizes), 4):
        t.realloc(i, sizes[i % len(sizes)] * 2 + 40)   # grow into a neighbour, or move
    t.realloc(3, 0)
    if can_align(entry):
        # (traces only carry powers of two: Trace.alloc refuses 3 or 24 as malformed)
        for k, align in enumerate([1, 2, 4, 8, 16, 32, 64, 256, 4096, 65536]):
            t.alloc(200 + k, 100 + 37 * k, align)
        t.realloc(208, 5000)               # an over-aligned block moved by realloc
        for k, align in enumerate([4, 8, 16, 64]):
            t.alloc(220 + k, 0xFFFFFFC0 - 8 * k, align)    # refused, by whom differs
    # Too big for C's sbrk (>= 2 GiB), so wasi-libc and Emscripten stop growing
    # contiguously; Rust grants it, and hands out addresses above 3 GiB next.
    t.alloc(300, 3 * GIB)
    for i in range(310, 315):
        t.alloc(i, 300 * KIB)
    t.free(300)
    t.alloc(301, 0xFFFFFFF0)               # at MAX_REQUEST: refused everywhere
    t.realloc(5, 0xFFFFFFC0)
    for i in range(400, 420):
        t.alloc(i, 200 * KIB)              # growth on the non-contiguous path
    t.alloc(302, GIB + GIB // 2)           # a huge grow
    t.free(302)
    t.alloc(303, 2 * MIB)
    return t


@pytest.mark.parametrize("module", MODULES)
def test_bin_and_request_boundaries(module):
    entry = module_or_skip(module)
    assert_exact(boundaries(entry), module)


def memory_limit():
    """A 16 MiB memory filled to the limit: refused sbrks (wasi-libc and Emscripten
    then grow by whole requests, not by what top lacks), then frees and reuse."""
    t = Trace("dlmalloc-limit", maximum="16mib")
    t.alloc(100, 4 * MIB)
    t.alloc(101, 20 * MIB)                 # refused: from here on, the other growth path
    for i in range(20):
        t.alloc(i, 700 * KIB + 1000 * i)
    for i in range(0, 20, 3):
        t.free(i)
    for i in range(20, 40):
        t.alloc(i, 300 * KIB + 5000 * i)
    t.realloc(1, 3 * MIB)
    for i in range(40, 60):
        t.alloc(i, 10 * KIB)
    return t


@pytest.mark.parametrize("module", MODULES)
def test_memory_limit_reached(module):
    module_or_skip(module)
    sim, real = assert_exact(memory_limit(), module)
    assert sim.failures and [f.index for f in sim.failures] == [f.index for f in real.failures]


def test_rust_module_own_produce_fragmentation():
    """The article's produce_fragmentation(), run by the Rust module itself: the model
    replays what it asks of the allocator (1 KiB anchor, 100 KiB temporary, and the
    Vec of anchors growing by doubling from 4 pointers) and must then agree on the
    memory size, the live bytes, and the addresses of requests made afterwards."""
    module_or_skip("rust-dlmalloc")
    from pyfrag.real import load
    real = load("rust-dlmalloc")
    real.call("produce_fragmentation")
    sim = Heap.like("rust-dlmalloc")
    vec = cap = 0
    for n in range(1000):
        sim.malloc(1024)
        sim.free(sim.malloc(100 * KIB))
        if n == cap:                       # RawVec: capacity max(4, 2 * cap), 4-byte Boxes
            cap = max(4, 2 * cap)
            vec = sim.realloc(vec, 4 * cap) if vec else sim.malloc(4 * cap)
    assert real.memory.pages == sim.memory.pages
    assert real.live_bytes() == sim.live_bytes
    for size in (500 * KIB, 100, 50 * KIB, 1000, 3000, 101 * KIB, 16):
        assert real.malloc(size) == sim.malloc(size), f"malloc({size}) after the pattern"
        assert real.memory.pages == sim.memory.pages


# -- the model on its own ------------------------------------------------------


@pytest.mark.parametrize("gap", [0, 48, 88, 96, 4096])
def test_wasi_first_segment_is_the_gap_only_when_it_holds_a_chunk(gap):
    """wasi-libc claims [__heap_base, memory end) on the first malloc only if it is
    more than MIN_CHUNK_SIZE + TOP_FOOT_SIZE + MALLOC_ALIGNMENT (88) bytes;
    otherwise the heap starts at the end of memory, which then grows."""
    h = Heap("dlmalloc", heap_base=2 * PAGE - gap, initial_pages=2)
    p = h.malloc(1)
    claimed = gap > 88
    assert (p < 2 * PAGE) == claimed
    assert (h.memory.pages == 2) == claimed
    h.check()


def test_check_notices_a_broken_heap():
    h = Heap("dlmalloc")
    ptrs = [h.malloc(n) for n in (40, 40, 40, 600, 40, 600, 40)]
    for p in ptrs[::2]:
        h.free(p)
    model = h.allocator
    model.check()
    # a binned 48-byte chunk filed under the wrong smallbin
    p = next(iter(model.small[48 >> 3]))
    del model.small[48 >> 3][p]
    model.small[64 >> 3][p] = None
    with pytest.raises(AssertionError):
        model.check()

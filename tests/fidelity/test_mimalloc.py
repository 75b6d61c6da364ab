"""Fidelity: the mimalloc model against the real mimalloc 2.0.9 module.

Edge cases of mimalloc's own machinery, each a trace that must match the real
module address by address: size-bin and page-kind boundaries, in-place and
moving realloc, posix_memalign (alignments 1 .. 8 MiB), full pages coming
back, retired pages expiring, segments cached and reused, the forced collect
after a failed request, which drops the cached segments for good, and the
trap when sbrk is asked for 2 GiB or more.
The scenarios and random traces all models share are in test_every_module.py.
"""

from exactness import assert_exact, module_or_skip
from pyfrag import Heap
from pyfrag.trace import Trace

MODULE = "mimalloc"
KIB, MIB = 1 << 10, 1 << 20
# around the bin, page-kind (8 KiB, 64 KiB), large-page (256 KiB) and huge (2 MiB) edges
SIZES = [0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 24, 33, 48, 64, 65, 100, 511, 512, 513, 1024,
         1025, 4096, 8191, 8192, 8193, 16 * KIB, 65535, 65536, 65537, 200 * KIB,
         256 * KIB, 256 * KIB + 1, 600 * KIB, 2 * MIB - 1, 2 * MIB, 2 * MIB + 1, 5 * MIB]


def boundaries():
    t = Trace("mimalloc-boundaries")
    for i, n in enumerate(SIZES):
        t.alloc(i, n)
    for i in range(1, len(SIZES), 3):
        t.free(i)
    for i in range(0, len(SIZES), 3):           # inside the usable size: stays
        t.realloc(i, max(1, SIZES[i] * 3 // 4))
    for i in range(0, len(SIZES), 3):           # under half of it, or past it: moves
        t.realloc(i, SIZES[i] // 3 if i % 2 else SIZES[i] * 2 + 1)
    for i in range(2, len(SIZES), 3):
        t.realloc(i, 0)                         # a fresh 0-byte block
    for k, align in enumerate((1, 2, 4, 8, 16, 64, 4096, 1 << 16, 1 << 21, 1 << 22, 1 << 23)):
        t.alloc(100 + k, 10 + 1000 * k, align)  # posix_memalign refuses 1 and 2
        t.alloc(200 + k, 16, align)
    for k in (107, 108, 109, 110):
        t.free(k)
    t.alloc(299, 3 << 30, 64)                   # refused at once, no collect
    t.alloc(298, (1 << 31) - 1)                 # sbrk(>= 2 GiB) aborts: the module traps
    t.alloc(300, 3 << 30)                       # fails: PTRDIFF_MAX, then a forced collect
    for i, n in enumerate(SIZES):
        t.alloc(400 + i, n + 40)
    return t


def full_pages_and_retirement():
    """Reuse of freed blocks against fresh capacity; fill pages of one bin
    until they go to the full queue, free into old
    pages (they come back at the end of the queue), empty a bin's only page
    (retired) and let it expire while other bins take fresh pages."""
    t = Trace("mimalloc-full-pages")
    for i in range(20000, 20050):              # frees are reused only once the
        t.alloc(i, 48)                         # extended capacity (4 KiB) runs out
    for i in range(20000, 20010):
        t.free(i)
    for i in range(20100, 20200):
        t.alloc(i, 48)
    for i in range(3000):
        t.alloc(i, 24)
    for i in range(0, 3000, 7):
        t.free(i)
    for i in range(3000, 3600):
        t.alloc(i, 24)
    t.alloc(5000, 3000)
    t.free(5000)                                # the bin's only page: retired
    # each in a bin of its own, so each takes a fresh page: the retired page
    # expires after 8 of them and its slice goes to the next
    for k, n in enumerate((100, 130, 170, 200, 250, 300, 360, 420, 500, 600, 700, 800)):
        t.alloc(6000 + k, n)
    for i in range(1, 3600, 2):
        if i % 7:
            t.free(i)
    for i in range(8000, 8400):
        t.alloc(i, 40 + i % 300)
    return t


def cached_segments_and_forced_collect():
    """Empty segments are cached and reused lowest slot first; a request that
    cannot be met collects, drops the cache (that memory is lost: sbrk never
    shrinks) and the next segment comes from fresh memory, until memory runs out."""
    t = Trace("mimalloc-segment-cache", maximum=1024)      # 64 MiB
    ids = 0
    for round_ in range(3):
        blocks = []
        for _ in range(40):                     # ~4 segments of 100 KiB pages
            t.alloc(ids, 100 * KIB)
            blocks.append(ids)
            ids += 1
        for b in blocks[::2] + blocks[1::2]:
            t.free(b)
        t.alloc(ids, 100)
        ids += 1
    t.alloc(ids, 60 * MIB)                      # no room: forced collect, cache dropped
    ids += 1
    for _ in range(120):                        # new segments from fresh memory, then OOM
        t.alloc(ids, 300 * KIB)
        ids += 1
    return t


def test_bins_page_kinds_realloc_and_alignments():
    module_or_skip(MODULE)
    assert_exact(boundaries(), MODULE)


def test_full_pages_and_retired_pages():
    module_or_skip(MODULE)
    assert_exact(full_pages_and_retirement(), MODULE)


def test_cached_segments_and_the_forced_collect():
    module_or_skip(MODULE)
    sim, real = assert_exact(cached_segments_and_forced_collect(), MODULE)
    assert sim.failures


def test_malloc_0_to_4_gives_4_byte_blocks():
    """mimalloc's smallest bin is one word: malloc(0..4) blocks sit 4 bytes
    apart. C17 asks no more (an object of up to 4 bytes needs at most 4);
    the 8-byte bin starts at 8 for malloc(5..8)."""
    module_or_skip(MODULE)
    from pyfrag import real
    m = real.load(MODULE)
    small = [m.malloc(n) for n in (0, 1, 2, 3, 4)]
    assert [b - a for a, b in zip(small, small[1:])] == [4] * 4
    assert any(p % 8 for p in small)
    assert all(m.malloc(n) % 8 == 0 for n in (5, 8))
    h = Heap.like(MODULE)
    assert [h.malloc(n) for n in (0, 1, 2, 3, 4)] == small

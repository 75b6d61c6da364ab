"""The mimalloc model on its own: growth, what spans() calls free, and check().

Address-exactness against the real module is in tests/fidelity/test_mimalloc.py;
these run without wasmtime.
"""

import pytest

from pyfrag import Heap
from pyfrag.allocators.mimalloc import INFO, SEGMENT, SLICE

MIB = 1 << 20


def heap():
    return Heap("mimalloc")          # mimalloc.wasm's start: heap base 666336, 11 pages


def spans_at(h, addr):
    return next(used for s, n, used in h.allocator.spans() if s <= addr < s + n)


def test_first_malloc_takes_a_4_mib_aligned_segment():
    h = heap()
    p = h.malloc(100)
    assert h.memory.pages == 128                 # 11 -> 8 MiB: the gap up to 4 MiB is lost
    assert p == SEGMENT + INFO + 384             # small blocks start 384 bytes into their page
    assert spans_at(h, 11 * 65536) and spans_at(h, SEGMENT + 1)   # the gap, the segment header
    assert not spans_at(h, SEGMENT + INFO + 2 * SLICE)           # a free span


def test_freed_segments_are_cached_free_and_huge_ones_lost():
    h = heap()
    big = h.malloc(5 * MIB)                      # a segment of its own at 4 MiB
    small = h.malloc(100_000)                    # a normal segment after it
    h.free(big)
    h.free(small)
    assert spans_at(h, big)                      # never reused: counted as used
    assert not spans_at(h, small)                # the cached segment can be reused
    assert h.malloc(100_000) == small
    h.check()


def test_posix_memalign_refuses_alignments_under_a_word():
    h = heap()
    assert h.malloc(10, align=1) == 0 and h.malloc(10, align=2) == 0
    p = h.malloc(10, align=4096)
    assert p and p % 4096 == 0
    h.free(p)
    h.check()


def churned():
    h = heap()
    blocks = [h.malloc(n) for n in (24, 24, 3000, 100_000, 200_000, 24)]
    h.free(blocks[1])
    h.free(blocks[3])
    h.check()
    return h, blocks


def test_check_catches_unmerged_free_spans():
    h, _ = churned()
    a = h.allocator
    start, count = max(a.free_spans.items())
    a._span_take(start)
    a._span_push(start, 1)                       # split behind the allocator's back
    a._span_push(start + SLICE, count - 1)
    with pytest.raises(AssertionError, match="not coalesced"):
        h.check()


def test_check_catches_a_lost_live_block():
    h, blocks = churned()
    del h.allocator.blocks[blocks[0]]
    with pytest.raises(AssertionError, match="used"):
        h.check()


def test_check_catches_a_block_both_live_and_free():
    h, blocks = churned()
    page = h.allocator.blocks[blocks[0]]
    page.free.append(blocks[0])
    with pytest.raises(AssertionError, match="free"):
        h.check()

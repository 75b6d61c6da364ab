"""Property tests (hypothesis) run against every registered allocator model.

Models come from `pyfrag.allocators.names()`, so a model added to MODELS is
covered without touching this file; a few "strategy:parent" compositions are
added. Each example drives a `Heap` through random malloc / aligned malloc /
free / realloc steps and checks after every step that the model's blocks never
overlap, are aligned, lie inside [heap_base, byte_length), live bytes add up,
`check()` passes, and `spans()` is the exact run-length picture of the heap.
A second property runs in a small memory, where requests fail, and checks that
a failed request (0) leaves the heap as it was.
"""

from bisect import bisect_right

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyfrag import Heap
from pyfrag.allocators import get, names
from pyfrag.allocators import talc
from pyfrag.allocators.base import merge_spans

MODELS = names() + ["arena:bump", "pool:best-fit", "hot-cold:next-fit", "hot-cold:arena"]

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# -- the steps ----------------------------------------------------------------

sizes = st.one_of(st.integers(0, 64), st.integers(0, 4096), st.integers(0, 300_000))
aligns = st.sampled_from([0, 0, 0, 8, 16, 64, 256, 4096, 65536])
tags = st.sampled_from([None, None, "temp", "anchor", "reset"])
steps = st.lists(st.one_of(
    st.tuples(st.just("malloc"), sizes, aligns, tags),
    st.tuples(st.just("free"), st.integers(0, 1 << 16)),
    st.tuples(st.just("realloc"), st.integers(0, 1 << 16), sizes, tags),
), max_size=60)


def apply(heap, step, live):
    """Run one step on `heap`; `live` maps address -> (size, alignment asked for).
    Returns the address a malloc/realloc gave (None for free)."""
    kind = step[0]
    if kind == "malloc":
        _, size, align, tag = step
        ptr = heap.malloc(size, align, tag=tag)
        if ptr:
            live[ptr] = (size, align)
        return ptr
    if not live:
        return None
    ptr = sorted(live)[step[1] % len(live)]
    if kind == "free":
        heap.free(ptr)
        del live[ptr]
        return None
    _, _, size, tag = step
    new = heap.realloc(ptr, size, tag=tag)
    if new or size == 0:
        del live[ptr]              # moved, or freed by realloc(p, 0) returning NULL
    if new:
        live[new] = (size, 0)
    return new if new or size else None


# -- the invariants ---------------------------------------------------------


def assert_consistent(heap, live):
    model, end_of_memory = heap.allocator, heap.memory.byte_length
    heap.check()
    assert heap.blocks == {p: s for p, (s, _) in live.items()}
    assert heap.live_bytes == sum(s for s, _ in live.values())

    spans = model.spans()
    pos = model.heap_base
    for i, (start, length, used) in enumerate(spans):
        assert start == pos and length > 0, f"spans leave a gap or overlap at {start:#x}"
        assert i == 0 or spans[i - 1][2] != used, f"unmerged spans at {start:#x}"
        pos = start + length
    assert pos == end_of_memory, "spans do not reach the end of memory"

    used = [(s, s + n) for s, n, u in spans if u]
    starts = [s for s, _ in used]
    prev_end = model.heap_base
    for ptr in sorted(live):
        size, align = live[ptr]
        end = ptr + max(size, 1)
        assert ptr >= prev_end, f"block {ptr:#x} overlaps the block before it"
        assert end <= end_of_memory, f"block {ptr:#x}+{size} runs past the memory"
        assert ptr % max(align, model.alignment) == 0, f"block {ptr:#x} misaligned ({align})"
        k = bisect_right(starts, ptr) - 1
        assert k >= 0 and end <= used[k][1], f"live block {ptr:#x}+{size} not inside a used span"
        prev_end = end


@pytest.mark.parametrize("name", MODELS)
@SETTINGS
@given(steps=steps)
def test_every_step_keeps_the_invariants(name, steps):
    heap, live = Heap(name), {}
    for step in steps:
        apply(heap, step, live)
        assert_consistent(heap, live)
    for ptr in sorted(live):
        heap.free(ptr)
    live.clear()
    assert_consistent(heap, live)
    assert heap.malloc(100), "the emptied heap cannot serve a small request"


@pytest.mark.parametrize("name", MODELS)
@SETTINGS
@given(steps=steps)
def test_failed_request_leaves_the_heap_intact(name, steps):
    pages = get(name).default_start[1]
    heap, live = Heap(name, maximum=pages + 3), {}
    for step in steps:
        before, old_length = heap.spans(), heap.memory.byte_length
        # talc's first growth makes its heap, header first, even for a request that fails
        header = talc.HEAP_HEADER if name == "talc" and heap.allocator.heap is None else 0
        ptr = apply(heap, step, live)
        if ptr == 0:
            # only growth (free at the top) may have happened
            grown = heap.memory.byte_length - old_length
            if header and grown:
                assert heap.spans() == merge_spans(
                    before + [(old_length, header, True),
                              (old_length + header, grown - header, False)])
            elif name == "wee-alloc":
                # and wee_alloc's walk may have lost free cells on the way: what was
                # used stays used, nothing else changes hands
                after = heap.spans()
                assert all(any(a <= s and s + n <= a + m for a, m, u in after if u)
                           for s, n, used in before if used)
            else:
                assert heap.spans() == merge_spans(before + [(old_length, grown, False)])
        assert_consistent(heap, live)


@pytest.mark.parametrize("name", MODELS)
def test_unsupported_names_exactly_the_requests_refused_on_any_heap(name):
    """What `unsupported` names fails on a fresh heap and leaves it as it was (so a failed
    request it names is never an OOM); any other small request is served there."""
    for align in (0, 1, 2, 4, 8, 16, 32, 256, 4096):
        for size in (100, (1 << 30) + 1):
            heap = Heap(name)
            reason = heap.allocator.unsupported(size, align or None)
            before = heap.spans(), heap.memory.byte_length
            ptr = heap.malloc(size, align)
            if reason is not None:
                assert ptr == 0, f"{name} serves {size} aligned to {align}: {reason}"
                assert (heap.spans(), heap.memory.byte_length) == before
            elif size == 100:
                assert ptr, f"{name} refuses 100 bytes aligned to {align} without a reason"

"""Replay, metrics and the OOM classifier, on hand-checked small cases."""

import pytest

from pyfrag import Heap, InvalidFree, Trace, replay, scenarios
from pyfrag.allocators.dlmalloc import Dlmalloc
from pyfrag.memory import PAGE, Memory
from pyfrag.metrics import grow_indices
from pyfrag.replay import drive


def test_heap_counts_requested_bytes_and_rejects_bad_frees():
    h = Heap("bump", heap_base=1024, initial_pages=1)
    a = h.malloc(100)
    b = h.malloc(200)
    assert (a, b) == (1024, 1128)
    assert h.live_bytes == 300
    h.free(a)
    assert h.live_bytes == 200 and h.peak_live == 300
    with pytest.raises(InvalidFree, match=r"free\(0x400\)"):
        h.free(a)                               # double free
    with pytest.raises(InvalidFree):
        h.free(12345)                           # never allocated
    h.free(0)                                   # free(NULL) is fine
    assert h.live_bytes == 200
    h.check()


def test_metrics_from_spans_are_hand_checkable():
    from pyfrag.metrics import span_metrics
    spans = [(1024, 104, False), (1128, 200, True), (1328, PAGE - 1328, False)]
    total, largest, frag, count, histogram = span_metrics(spans)
    assert total == 104 + PAGE - 1328 and count == 2
    assert largest == PAGE - 1328
    assert frag == pytest.approx(1 - (PAGE - 1328) / (104 + PAGE - 1328))
    assert histogram == {64: 1, 32768: 1}


def test_a_bump_allocators_freed_blocks_are_not_free():
    """Nothing can hand a bump allocator's hole out again: it is used (overhead), and only
    the untouched top is free."""
    h = Heap("bump", heap_base=1024, initial_pages=1)
    a = h.malloc(100)
    h.malloc(200)
    h.free(a)
    assert h.spans() == [(1024, 304, True), (1328, PAGE - 1328, False)]
    m = h.stats()
    assert (m.total_free, m.largest_free_block, m.external_fragmentation) == \
        (PAGE - 1328, PAGE - 1328, 0.0)
    assert m.overhead_bytes == 104                      # the hole
    assert m.utilization == pytest.approx(200 / PAGE)
    assert m.wasted_bytes == PAGE - 200


def crafted(maximum_pages=1):
    t = Trace("crafted", maximum=maximum_pages)
    return t


def test_fragmentation_oom_when_enough_bytes_are_free_but_not_together():
    t = crafted()
    # two 20000-byte holes pinned apart by 100-byte blocks, and the top: none holds 30000
    t.alloc(1, 20000).alloc(2, 100).alloc(3, 20000).alloc(4, 100).free(1).free(3)
    t.alloc(5, 30000)
    run = replay(t, "first-fit", heap_base=1024)
    assert run.oom is not None
    assert (run.oom.index, run.oom.kind, run.oom.size) == (6, "fragmentation", 30000)
    # 8-byte headers: the holes are 20008 bytes, the top 65536 - 41264
    assert (run.oom.free_bytes, run.oom.largest_free) == (2 * 20008 + 24272, 24272)
    assert run.metrics.oom_kind == "fragmentation" and run.metrics.oom_index == 6
    assert "fragmentation OOM at event 6" in run.oom.describe()


def test_a_bump_allocator_runs_out_exhausted_not_fragmented():
    """Its 30000-byte hole is no free space: the failure is "memory exhausted", with only the
    top counted free and the hole among the bytes it never hands out again."""
    t = crafted()
    t.alloc(1, 30000).alloc(2, 30000).free(1).alloc(3, 20000)
    oom = replay(t, "bump", heap_base=1024).oom
    assert (oom.index, oom.kind, oom.size) == (3, "exhausted", 20000)
    assert (oom.free_bytes, oom.largest_free, oom.overhead) == (4512, 4512, 30000)
    assert oom.label == "memory exhausted"
    assert oom.describe().startswith("memory exhausted at event 3: malloc(20000) failed; bump "
                                     "never reuses freed memory: when it failed only 4512 bytes")
    # not even a reusing allocator would have had room: a true OOM
    t = crafted()
    t.alloc(1, 30000).alloc(2, 30000).alloc(3, 20000)
    assert replay(t, "bump", heap_base=1024).oom.kind == "true"


def test_an_alignment_the_allocator_never_serves_is_an_unsupported_request():
    t = Trace("aligned")
    t.alloc(1, 100).alloc(2, 50137, align=256).alloc(3, 100)
    run = replay(t, "as-tlsf")
    (f,) = run.failures
    assert (f.index, f.kind, f.align, f.label) == (1, "unsupported", 256, "unsupported request")
    assert f.describe() == ("unsupported request at event 1: malloc(50137, align 256) failed: "
                            "AssemblyScript's allocator aligns to 16 bytes at most; not an OOM "
                            "(the heap was not full)")
    assert run.metrics.oom_kind == "unsupported"
    # posix_memalign's EINVAL on the C allocators; Rust's Layout takes it
    t = Trace("aligned").alloc(1, 100, align=2)
    assert replay(t, "dlmalloc").oom.kind == "unsupported"
    assert "posix_memalign refuses alignment 2" in replay(t, "mimalloc").oom.describe()
    assert not replay(t, "rust-dlmalloc").failures


def test_true_oom_when_the_request_exceeds_all_free_bytes():
    t = crafted()
    t.alloc(1, 1000).alloc(2, 100_000)
    run = replay(t, "bump", heap_base=1024)
    assert (run.oom.index, run.oom.kind) == (1, "true")
    assert run.oom.free_bytes < 100_000


def test_replay_records_per_event_arrays():
    t = Trace()
    t.alloc(1, 70000).alloc(2, 10).free(1).realloc(2, 20)
    run = replay(t, "bump", heap_base=1024, initial_pages=1)
    assert list(run.live_bytes) == [70000, 70010, 10, 20]
    assert list(run.heap_bytes) == [2 * PAGE] * 4
    assert run.addresses[0] == 1024 and run.addresses[2] == 0
    assert grow_indices(run) == [0]
    assert run.address_lines() == [f"0 1024 {2 * PAGE}", f"1 {run.addresses[1]} {2 * PAGE}",
                                   f"3 {run.addresses[3]} {2 * PAGE}"]
    assert run.metrics.peak_live_bytes == 70010


def test_trace_mistakes_become_issues_not_corruption():
    t = Trace()
    t.alloc(1, 10).free(1).free(1).free(9).alloc(2, 10).alloc(2, 30).realloc(5, 8)
    run = replay(t, "bump")
    assert [i.index for i in run.issues] == [2, 3, 5, 6]
    assert "invalid free of id 1" in run.issues[0].message
    assert "still live" in run.issues[2].message
    assert run.live_bytes[-1] == 8 + 30          # id 2's first block is leaked, not freed
    assert not run.failures


def test_free_after_failed_alloc_is_free_null():
    t = crafted()
    t.alloc(1, 10 * PAGE).free(1)
    run = replay(t, "bump")
    assert len(run.failures) == 1 and not run.issues


def test_stop_at_oom_truncates_the_timeline():
    t = crafted()
    t.alloc(1, 10 * PAGE).alloc(2, 10).alloc(3, 10)
    run = replay(t, "bump", stop_at_oom=True)
    assert run.events == 1 and run.oom.index == 0


def test_heap_after_replay_is_usable():
    h = Heap("bump")
    t = Trace().alloc(1, 100).alloc(2, 50)
    run = replay(t, h)
    assert h.live_bytes == 150 and set(h.blocks) == set(run.final_blocks)
    h.free(run.addresses[1])
    assert h.live_bytes == 100


def test_progress_is_reported_per_chunk():
    seen = []
    replay(scenarios.random_trace(70_000, seed=3), "bump",
           progress=lambda done, total: seen.append((done, total)))
    assert seen == [(65536, 70000), (70000, 70000)]


def test_trace_maximum_applies_unless_overridden():
    t = scenarios.image_task()
    assert replay(t, "bump").maximum_bytes == 512 << 20
    assert replay(t, "bump", maximum="2gib").maximum_bytes == 2 << 30


def test_realloc_to_zero_that_returns_null_frees_the_block():
    t = Trace()
    t.alloc(1, 100).realloc(1, 0).free(1).alloc(2, 10)
    run = replay(t, "emmalloc")          # emmalloc's realloc(p, 0) frees p, returns NULL
    assert run.addresses[1] == 0
    assert not run.failures and not run.issues
    assert list(run.live_bytes) == [100, 0, 0, 10]


def test_heap_realloc_to_zero_that_returns_null_frees_the_block():
    h = Heap("emmalloc")
    p = h.malloc(100)
    assert h.realloc(p, 0) == 0
    assert h.live_bytes == 0 and not h.blocks
    with pytest.raises(InvalidFree):
        h.free(p)                       # it is gone: freeing it again is a double free


def test_only_the_first_failures_walk_the_spans(monkeypatch):
    import sys
    monkeypatch.setattr(sys.modules["pyfrag.replay"], "EXACT_FAILURES", 2)
    monkeypatch.setattr(sys.modules["pyfrag.replay"], "SPAN_BUDGET", 1000)  # only the cap counts
    t = crafted()
    for i in range(4):
        t.alloc(i, 10 * PAGE)
    run = replay(t, "first-fit")
    assert [f.largest_free is None for f in run.failures] == [False, False, True, True]
    assert {f.kind for f in run.failures} == {"true"}


def test_spans_are_read_within_a_budget_per_event():
    """A run failing at every event reads spans for the first failure, then only as often
    as the spans read stay within SPAN_BUDGET per event replayed."""
    from pyfrag.replay import SPAN_BUDGET
    t = crafted()
    for i in range(100):
        t.alloc(i, 100)
    for i in range(1, 100, 2):
        t.free(i)                                 # 50 live blocks, 50 holes between them
    start = len(t)
    for i in range(100, 2100):
        t.alloc(i, 10 * PAGE)                     # every one fails
    run = replay(t, "first-fit")
    spans = replay(Trace().extend(t, 0, start), "first-fit").spans.read   # runs walked
    exact = [f.index for f in run.failures if not f.estimated]
    assert spans >= 100 and exact[0] == start and 1 < len(exact) < 2000 // spans + 2
    for k, i in enumerate(exact):
        assert k == 0 or spans * k <= SPAN_BUDGET * i


@pytest.mark.parametrize("call,error,message", [
    (lambda h: h.malloc(-1), ValueError, "malloc size must be >= 0"),
    (lambda h: h.malloc(1.5), TypeError, "malloc size must be an integer, got float"),
    (lambda h: h.malloc(10, align=3), ValueError, "alignment 3 is not a power of two"),
    (lambda h: h.realloc(h.malloc(8), -4), ValueError, "realloc size must be >= 0"),
    (lambda h: h.free(None), TypeError, "free address must be an integer, got NoneType"),
])
@pytest.mark.parametrize("name", ["bump", "dlmalloc", "rust-dlmalloc", "zig-libc", "buddy"])
def test_bad_arguments_are_refused_the_same_way_by_every_model(name, call, error, message):
    h = Heap(name)
    with pytest.raises(error, match=message):
        call(h)
    assert h.live_bytes == sum(h.blocks.values())


def test_trace_building_refuses_what_no_reader_would_accept():
    with pytest.raises(ValueError, match="size must be >= 0"):
        Trace().alloc(1, -5)
    with pytest.raises(ValueError, match="align must be a power of two"):
        Trace().alloc(1, 10, align=3)
    with pytest.raises(ValueError, match="size must be >= 0"):
        Trace().realloc(1, -1)


@pytest.mark.parametrize("name", __import__("pyfrag").allocators.names() + ["arena:bump"])
def test_no_model_grows_memory_in_free(name):
    # the replay loop reads the memory size after allocating events only
    h = Heap(name)
    free, grew = h.allocator.free, []

    def watched(ptr):
        before = h.memory.pages
        free(ptr)
        grew.append(h.memory.pages != before)

    h.allocator.free = watched
    replay(scenarios.random_trace(3000, seed=8, min_size=1, max_size=1 << 20), h)
    assert grew and not any(grew)


# -- overhead is not free space ---------------------------------------------------


def test_overhead_is_heap_minus_base_live_and_free():
    h = Heap("bump", heap_base=1024, initial_pages=1)
    h.malloc(104)
    h.malloc(200)
    m = h.stats()
    assert m.overhead_bytes == PAGE - 1024 - 304 - m.total_free == 0   # bump has no headers
    d = Heap("dlmalloc", heap_base=1024, initial_pages=1)
    d.malloc(100)
    assert d.stats().overhead_bytes > 0                                # chunk headers


def test_wee_alloc_lost_cells_are_overhead_not_free():
    """A wee_alloc heap run into its limit holds megabytes of lost cells: they are
    overhead, so the verdict weighs only the few free cells its lists reached when
    the request was made (its own walk then loses those too)."""
    t = scenarios.varying_churn(rounds=2000, seed=1)
    t.maximum = "16mib"
    run = replay(t, like="wee-alloc", stop_at_oom=True)
    oom = run.oom
    live = run.live_bytes[-1]
    assert oom.overhead == oom.heap_bytes - run.heap_base - live - oom.free_bytes
    assert oom.overhead > 13 << 20 and oom.free_bytes < 256 << 10     # the lost cells
    assert oom.kind == "true" and oom.largest_free < oom.size
    assert "bytes of allocator overhead" in oom.describe()
    # after the failure the cells that walk passed are lost as well
    assert run.metrics.total_free < oom.free_bytes


def test_estimated_failures_keep_the_overhead_last_measured(monkeypatch):
    import sys
    monkeypatch.setattr(sys.modules["pyfrag.replay"], "EXACT_FAILURES", 1)
    t = scenarios.varying_churn(rounds=2000, seed=2)
    t.maximum = "32mib"
    run = replay(t, like="wee-alloc")
    first, later = run.failures[0], run.failures[1:]
    assert later and all(f.estimated and f.overhead == first.overhead for f in later)
    for f in later:
        assert f.free_bytes == f.heap_bytes - run.heap_base - run.live_bytes[f.index] - f.overhead
    assert "(estimated)" in later[0].describe()


# -- memory.discard ---------------------------------------------------------------


def test_discardable_pages_are_whole_pages_inside_free_spans():
    from pyfrag.metrics import discardable_bytes
    assert discardable_bytes([(100, 3 * PAGE, False)]) == 2 * PAGE       # ragged both ends
    assert discardable_bytes([(PAGE, PAGE, False), (2 * PAGE, PAGE, True)]) == PAGE
    assert discardable_bytes([(10, PAGE, False)]) == 0


def test_discard_at_the_end_and_on_free():
    t = Trace("discard", maximum=16)
    t.alloc(1, 5 * PAGE).alloc(2, 100).free(1).alloc(3, 100)
    end = replay(t, "first-fit", heap_base=1024, initial_pages=1)
    m = end.metrics
    assert (m.discard, end.discard_samples) == ("at-end", None)
    assert m.resident_bytes == m.heap_bytes - m.discardable_bytes
    assert m.discardable_bytes >= 4 * PAGE                  # the 5-page block, freed
    assert m.peak_resident_bytes == m.peak_heap_bytes       # nothing given back before the end
    on = replay(t, "first-fit", heap_base=1024, initial_pages=1, discard="on-free")
    n = on.metrics
    samples = on.discard_samples
    assert len(samples) % 3 == 0 and samples[0] == 0        # the grow at event 0 is sampled
    assert (n.resident_bytes, n.discardable_bytes) == (m.resident_bytes, m.discardable_bytes)
    # right after the 5-page block was allocated, nothing was free to give back
    assert n.peak_resident_bytes == samples[1] - samples[2] == n.peak_heap_bytes
    with pytest.raises(ValueError, match="discard must be one of"):
        replay(t, "bump", discard="never")


def test_discard_on_free_samples_the_run():
    t = scenarios.varying_churn(rounds=1000, seed=1)
    run = replay(t, "first-fit", discard="on-free")
    m, samples = run.metrics, run.discard_samples
    assert len(samples) >= 3 * 200
    events = samples[0::3]
    assert list(events) == sorted(events) and events[-1] == run.events - 1
    assert all(d <= r for r, d in zip(samples[1::3], samples[2::3]))
    # the 200 KiB temporaries come and go: whole pages are free most of the time
    assert sum(d > 0 for d in samples[2::3]) > len(events) // 2
    assert m.resident_bytes < m.peak_resident_bytes <= m.peak_heap_bytes


def test_run_arrays_are_32_bit_in_a_wasm32_memory_and_64_bit_in_memory64():
    t = Trace()
    t.alloc(1, 5 << 30).alloc(2, 16).free(1)          # 5 GiB: only memory64 holds it
    small = replay(t, "bump", heap_base=1024)
    assert (small.addresses.typecode, small.live_bytes.typecode) == ("I", "I")
    assert small.oom.index == 0 and list(small.live_bytes) == [0, 16, 16]
    big = replay(t, "bump", heap_base=1024, maximum="memory64")
    assert (big.addresses.typecode, big.live_bytes.typecode) == ("q", "q")
    assert big.addresses[1] > 1 << 32 and list(big.live_bytes) == [5 << 30, (5 << 30) + 16, 16]
    assert big.heap_bytes[-1] > 5 << 30 and big.metrics.peak_heap_bytes == big.heap_bytes[0]


class PlainMemory:
    """A memory that keeps no growth log (as pyfrag.real's do not): the loop watches it."""

    def __init__(self, initial, maximum):
        self._memory = Memory(initial, maximum)

    def grow(self, delta):
        return self._memory.grow(delta)

    pages = property(lambda self: self._memory.pages)
    maximum = property(lambda self: self._memory.maximum)
    byte_length = property(lambda self: self._memory.byte_length)


def test_growth_of_a_memory_without_a_log_is_seen_at_the_event_that_grew():
    t = scenarios.random_trace(3000, seed=4, align_rate=0.1)
    want = replay(t, "dlmalloc", maximum=100)
    memory = PlainMemory(*Dlmalloc.default_start[1:], maximum=100)
    got = drive(t, Dlmalloc(memory, Dlmalloc.default_start[0]), memory, "dlmalloc")
    assert got.heap_bytes == want.heap_bytes and len(grow_indices(got)) > 10
    assert got.addresses == want.addresses and list(got.live_bytes) == list(want.live_bytes)
    assert [f.index for f in got.failures] == [f.index for f in want.failures] != []
    assert got.live_bytes.typecode == "q"       # a memory it cannot vouch for


def test_a_memory_logs_its_page_count_when_it_grows():
    m = Memory(1, maximum=4)
    assert m.grown is None
    m.grown = log = []
    assert m.grow(0) == 1 and m.grow(2) == 1 and m.grow(5) == -1 and m.grow(1) == 3
    assert log == [3, 4] and m.grow_calls == 4

"""Recorded traces without any toolchain: hook calls to events, the text format's
addr=/mem= fields and start-state header, and compare's recommendation.

Owns: `TraceBuilder` (ids from addresses, free(NULL), realloc(NULL, n), a
failed realloc keeps its block, large alignments kept), the round trip of a
recording through pyfrag text, a recorded trace with a missing addr= field
(error names the line), `run --verify` on a recording made from the model
itself, and `recommend` picking the lowest peak without an OOM.
"""

import pytest

from pyfrag import Heap, cli, scenarios
from pyfrag.explain.recommend import describe, recommend, why_here
from pyfrag.record import TraceBuilder
from pyfrag.trace import ALLOC, FREE, REALLOC, Trace, TraceError, dumps, loads
from pyfrag.trace.recording import Recording
from pyfrag.record.verify import verify


def _built(*calls):
    trace, rec = Trace("t"), Recording(heap_base=1024, initial_pages=1, allocator="dlmalloc")
    trace.recorded = rec
    builder = TraceBuilder(trace, rec)
    for call in calls:
        builder.event(*call)
    return trace


def test_builder_turns_hook_calls_into_events():
    trace = _built((ALLOC, 10, 0, 0, 2000, 1),
                   (FREE, 0, 0, 0, 0, 1),                 # free(NULL): no event
                   (REALLOC, 0, 24, 0, 2016, 1),          # realloc(NULL, 24): an alloc
                   (REALLOC, 2000, 4096, 0, 0, 1),        # failed: 2000 stays live
                   (FREE, 2000, 0, 0, 0, 1),
                   (ALLOC, 100, 64, 0, 2048, 2),          # alignment above 8 is kept
                   (ALLOC, 5, 4, 0, -16, 2))              # i32 results read as u32
    assert [str(e) for e in trace] == ["alloc 0 10", "alloc 1 24", "realloc 0 4096",
                                       "free 0", "alloc 2 100 align=64", "alloc 3 5"]
    assert list(trace.recorded.addresses) == [2000, 2016, 0, 0, 2048, 0xFFFFFFF0]
    assert list(trace.recorded.memory_bytes) == [65536] * 4 + [131072] * 2


def test_recording_round_trips_through_text():
    trace = _built((ALLOC, 10, 0, 0, 2000, 1), (REALLOC, 2000, 50, 0, 2032, 2),
                   (FREE, 2032, 0, 0, 0, 2))
    trace.recorded.module = "app"
    text = dumps(trace, "pyfrag")
    assert "# heap_base: 1024" in text and "# allocator: dlmalloc" in text
    assert "r 0 50 addr=2032 mem=131072" in text
    back = loads(text)
    assert back.recorded == trace.recorded
    assert dumps(back, "pyfrag") == text


def test_recorded_trace_missing_a_field_names_the_line():
    with pytest.raises(TraceError, match=r"<string>:4: a recorded trace needs addr=N"):
        loads("# pyfrag trace v1\na 1 10 addr=2000 mem=65536\nf 1\na 2 10 addr=2000\n")


def test_a_recording_of_the_model_itself_verifies_and_a_change_does_not():
    # Record what the dlmalloc model returns for a scenario, as the hook would.
    source = scenarios.random_trace(events=400, seed=3)
    heap = Heap("dlmalloc", heap_base=5000, initial_pages=1)
    trace = Trace("model")
    trace.recorded = Recording(heap_base=5000, initial_pages=1, allocator="dlmalloc")
    builder, ptrs = TraceBuilder(trace, trace.recorded), {}
    for e in source:
        if e.op == ALLOC:
            ptrs[e.id] = p = heap.malloc(e.size, e.align)
            builder.event(ALLOC, e.size, e.align, 0, p, heap.memory.pages)
        elif e.op == FREE and e.id in ptrs:
            heap.free(ptrs[e.id])
            builder.event(FREE, ptrs.pop(e.id), 0, 0, 0, heap.memory.pages)
        elif e.op == REALLOC and e.id in ptrs:
            old, ptrs[e.id] = ptrs[e.id], heap.realloc(ptrs[e.id], e.size)
            builder.event(REALLOC, old, e.size, 0, ptrs[e.id], heap.memory.pages)
    assert verify(trace).identical
    assert verify(trace).describe().endswith(f"all {len(trace)} events identical")
    i = next(i for i in range(len(trace)) if trace.ops[i] != FREE and i > 50)
    trace.recorded.addresses[i] += 8
    verdict = verify(trace)
    assert verdict.index == i and f"first difference at event {i}" in verdict.describe()


def test_recommendation_is_the_lowest_peak_without_oom():
    trace = scenarios.image_task()
    runs = [trace.replay(name, heap_base=1024, initial_pages=1)
            for name in ("dlmalloc", "first-fit", "buddy")]
    candidates = recommend(trace, runs, heap_base=1024, initial_pages=1)
    best = candidates[0]
    assert not best.oom                       # a periodic reset saves the image task
    assert all(c.oom or c.peak_heap >= best.peak_heap for c in candidates)
    assert {c.strategy.split(" (")[0] for c in candidates} >= {
        "none", "arena", "pool", "hot-cold", "periodic reset"}
    text = describe(candidates)
    assert text.startswith(f"recommendation: {best.base} with {best.strategy}")
    assert best.module is None or f"c-dlmalloc ({best.module['bytes']} bytes)" in text


def test_compare_ends_with_the_recommendation(capsys):
    assert cli.main(["compare", "swiss-cheese", "-p", "rounds=50",
                     "--allocators", "dlmalloc,first-fit,as-tlsf"]) == 0
    out = capsys.readouterr().out
    assert "\nrecommendation: " in out and "real module (size)" in out


def test_the_recommendation_places_the_recorded_allocator():
    trace = scenarios.image_task()
    runs = [trace.replay("dlmalloc", heap_base=1024, initial_pages=1)]
    text = describe(recommend(trace, runs, heap_base=1024, initial_pages=1),
                    recorded="dlmalloc")
    assert "the app's own allocator, dlmalloc: peak heap" in text
    assert "1 failed request " in text          # the image task's fragmentation OOM


def test_convert_says_when_a_recording_loses_its_addresses(tmp_path, capsys):
    trace = _built((ALLOC, 10, 0, 0, 2000, 1), (FREE, 2000, 0, 0, 0, 1))
    src = tmp_path / "rec.trace"
    src.write_text(dumps(trace, "pyfrag"))
    assert cli.main(["convert", str(src), str(tmp_path / "out.jsonl")]) == 0
    assert "only the pyfrag format keeps a recording" in capsys.readouterr().err
    assert cli.main(["convert", str(src), str(tmp_path / "copy.trace")]) == 0
    assert "only the pyfrag format" not in capsys.readouterr().err
    assert loads((tmp_path / "copy.trace").read_text()).recorded == trace.recorded


def test_the_recommendation_weighs_resets_and_says_why_each_row_ranks_where_it_does():
    """The image task: only a periodic reset avoids its OOM. It ranks first, and the text
    says what that costs (the resets) and that everything without resets fails."""
    trace = scenarios.image_task()
    runs = [trace.replay(name, heap_base=1024, initial_pages=1)
            for name in ("dlmalloc", "as-stub", "first-fit")]
    candidates = recommend(trace, runs, heap_base=1024, initial_pages=1)
    best = candidates[0]
    assert best.strategy == "periodic reset (every 25 events)" and best.resets == 10
    text = describe(candidates, top=len(candidates))
    head, because, rule = text.splitlines()[:3]
    assert "cost: no failed request; 10 resets of the instance" in head
    calm = next(c for c in candidates if not c.resets)
    assert because == (f"  it ranks first because it fails fewer requests than any candidate "
                       f"without resets: the best of those, {calm.what()}, fails 1 request")
    assert rule == ("  ranked by: failed requests, then resets, then reuse of freed memory, "
                    "then peak heap, then real module size, then name (no strategy first)")
    rows = text.splitlines()[4:4 + len(candidates)]
    assert rows[0].endswith("first")
    for row, c, above in zip(rows[1:], candidates[1:], candidates):
        assert row.endswith(why_here(c, above)) and why_here(c, above)
    # a bump allocator never reuses freed memory: behind every allocator that does, all else equal
    stub = [c for c in candidates if c.base == "as-stub"]
    assert stub and all(not c.reuses_freed for c in stub)
    for c in stub:
        assert all(candidates.index(d) < candidates.index(c) for d in candidates
                   if d.reuses_freed and (d.failures, d.resets) == (c.failures, c.resets))


def test_a_reset_ranks_below_doing_nothing_when_both_avoid_every_failure():
    trace = scenarios.swiss_cheese(rounds=200)
    runs = [trace.replay("dlmalloc", heap_base=1024, initial_pages=1)]
    candidates = recommend(trace, runs, heap_base=1024, initial_pages=1)
    plain = next(c for c in candidates if c.allocator == "dlmalloc")
    reset = next(c for c in candidates if c.base == "dlmalloc" and c.resets)
    assert not plain.oom and not reset.oom
    assert candidates.index(plain) < candidates.index(reset)
    assert why_here(reset, plain).startswith("resets the instance 10 times")

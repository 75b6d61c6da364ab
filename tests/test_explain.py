"""pyfrag.explain: the verdict, why each grow happened, who pins the holes, and fixes proven by
replaying them on the model and on the real modules."""

import shutil
import subprocess

import pytest

from pyfrag import Trace, explain, scenarios
from pyfrag.explain import fixes as fixes_mod
from pyfrag.grows import FORCED, POLICY, totals
from pyfrag.explain.lifetimes import blocks, groups, size_class


# -- lifetimes ------------------------------------------------------------------------

def test_blocks_follow_an_id_from_its_allocation_to_its_free():
    t = Trace("t").alloc(1, 100, tag="a").realloc(1, 300).alloc(2, 10).free(1).alloc(1, 5)
    t.alloc(2, 20)                       # 2 is still live: the old block leaks, to the end
    b = blocks(t)
    assert b.starts == [0, 2, 4, 5] and b.ends == [3, None, None, None]
    assert b.sizes == [300, 10, 5, 20] and b.placed[0] == [0, 1] and b.tags[0] == "a"
    assert [b.lifetime(k) for k in range(4)] == [3, 4, 2, 1]
    assert b.live_at(3) == [0, 1] and b.live_at(4) == [1]


def test_groups_by_tag_and_size_class():
    t = Trace("t").alloc(1, 4000, tag="x").alloc(2, 3000, tag="x").alloc(3, 16).free(1)
    gs = {(g.kind, g.name): g for g in groups(blocks(t))}
    x = gs["tag", "x"]
    assert (x.count, x.bytes, x.to_end, x.longest_life) == (2, 7000, 1, 3)
    assert x.byte_events == 4000 * 3 + 3000 * 3
    assert gs["size", size_class(4000)].count == 2 and size_class(4000) == "2 KiB-4 KiB"
    assert gs["size", "0-16 B"].count == 1


def test_image_task_names_the_kept_images_and_the_thumbnails_as_the_pinners():
    e = explain.explain(scenarios.image_task(), "c-dlmalloc", real=False)
    assert e.run.oom.kind == "fragmentation"
    tags = [g.name for g in e.pinners if g.kind == "tag"]
    assert tags[:2] == ["thumbnail", "image"]
    thumbnails = next(g for g in e.groups if g.name == "thumbnail")
    # every hole lies between thumbnails: they hold apart all the free bytes of the failure
    assert thumbnails.pinned_failure == e.run.oom.free_bytes
    assert thumbnails.pinned_peak == 0        # at the peak nothing was freed yet: no holes


# -- grows ----------------------------------------------------------------------------

def test_a_grow_is_forced_when_no_stretch_free_of_live_data_holds_the_request():
    t = Trace("forced").alloc(1, 1 << 20)
    e = explain.explain(t, "c-dlmalloc", real=False)
    assert [g.cause for g in e.grows] == [FORCED] and e.grows[0].index == 0


def test_a_grow_is_policy_when_the_allocator_leaves_a_hole_that_would_hold_it():
    # a bump allocator never reuses the 100 KiB hole: the 50 KiB request grows memory anyway
    t = Trace("policy").alloc(1, 100_000).alloc(2, 16).free(1).alloc(3, 50_000).alloc(4, 70_000)
    e = explain.explain(t, allocator="bump", real=False, initial_pages=2)
    causes = {g.index: g.cause for g in e.grows}
    assert causes[3] == POLICY or causes[4] == POLICY
    assert all(g.largest_gap >= 100_000 for g in e.grows if g.cause == POLICY)
    # mimalloc takes a 4 MiB segment for its first 16 bytes, with free memory above its heap base
    m = explain.explain(Trace("m").alloc(1, 16), "mimalloc", real=False)
    assert [g.cause for g in m.grows] == [POLICY]


@pytest.mark.parametrize("module", ["c-dlmalloc", "mimalloc", "wee-alloc"])
def test_the_two_classes_sum_to_the_grow_count_on_churn(module):
    e = explain.explain(scenarios.churn(frames=400), module, real=False)
    forced, policy, unclassed = totals(e.grows)
    assert unclassed == 0
    assert forced + policy == len(e.grows) == e.run.metrics.grow_events > 0


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="recording needs valgrind")
def test_every_grow_of_a_recorded_program_is_classed(tmp_path):
    from pyfrag.record import record_native
    trace = record_native(["sort", "/etc/services"], stdout=subprocess.DEVNULL).trace
    e = explain.explain(trace, "c-dlmalloc", real=False)
    forced, policy, unclassed = totals(e.grows)
    assert unclassed == 0
    assert forced + policy == len(e.grows) == e.run.metrics.grow_events > 0


# -- fixes ----------------------------------------------------------------------------

def test_the_ideal_is_the_peak_of_live_bytes_above_the_heap_base_in_pages():
    m = explain.explain(scenarios.swiss_cheese(), "c-dlmalloc", real=False).run.metrics
    assert m.ideal_bytes % 65536 == 0 and m.ideal_bytes - 65536 < 591360 + m.peak_live_bytes \
        <= m.ideal_bytes
    assert m.times_ideal == m.peak_heap_bytes / m.ideal_bytes


def test_the_image_task_fix_reads_as_what_the_app_would_change():
    e = explain.explain(scenarios.image_task(), "c-dlmalloc", real=False)
    base = next(f for f in e.fixes if f.kind == "none")
    assert e.best.kind == "region" and e.best.outcome.ok
    assert e.best.sentence(base) == (
        "copy the images you keep, and the thumbnails, into a region of their own (206.9 MiB), "
        "reserved at the start: the 64.0 MiB malloc at event 256 then fits")
    reserve = next(f for f in e.fixes if f.kind == "reserve")
    assert reserve.outcome.first.kind == "true"        # reserving the request first: a true OOM
    assert "the 64.0 MiB" in reserve.label


@pytest.mark.parametrize("module", ["c-dlmalloc", "rust-dlmalloc", "emmalloc"])
def test_the_top_fix_avoids_the_oom_on_the_model_and_on_the_real_module(module):
    pytest.importorskip("wasmtime")
    e = explain.explain(scenarios.image_task(), module)
    assert e.run.oom is not None
    assert e.best.model.ok and e.best.real is not None and e.best.real.ok
    base = next(f for f in e.fixes if f.kind == "none")
    assert base.real.first.index == base.model.first.index == e.run.oom.index


def test_a_reset_fix_restarts_at_the_quietest_point_and_copies_the_live_blocks():
    e = explain.explain(scenarios.image_task(), "c-dlmalloc", real=False)
    reset = next(f for f in e.fixes if f.kind == "reset")
    # the fewest live bytes after the live peak: all frees done, just before the 64 MiB request
    assert reset.points == [256] and reset.model.ok
    assert reset.restored == e.run.live_bytes[255]


def test_a_failure_in_a_transformed_trace_is_named_at_the_apps_own_event():
    t = scenarios.image_task()
    e = explain.explain(t, "c-dlmalloc", real=False)
    for f in e.fixes:
        if f.outcome.first is not None and f.kind == "region":
            assert f.outcome.first.where == t.where(f.outcome.first.index)
            assert t.ops[f.outcome.first.index] == 0


def test_explain_describes_every_part():
    text = explain.explain(scenarios.image_task(), "c-dlmalloc", real=False).describe()
    for part in ("verdict", "peak heap", "x the ideal", "grows", "who pins the holes",
                 "what would have saved it", "answer: copy the images you keep"):
        assert part in text, part


def test_nothing_to_fix_says_so():
    e = explain.explain(scenarios.swiss_cheese(rounds=20), "c-dlmalloc", real=False)
    assert e.run.oom is None
    assert "answer:" in e.describe()


def test_fixes_rank_no_failure_before_lower_peak_and_resets_after_the_rest():
    a = fixes_mod.Fix("region", "a", "a", None, None, model=fixes_mod.Outcome(0, None, 100))
    b = fixes_mod.Fix("reset", "b", "b", None, None, points=[5],
                      model=fixes_mod.Outcome(0, None, 100))
    c = fixes_mod.Fix("none", "c", "c", None, None, model=fixes_mod.Outcome(1, object(), 50))
    assert fixes_mod.rank([c, b, a]) == [a, b, c]


# -- the command line -------------------------------------------------------------------

def pyfrag(*args):
    import sys
    return subprocess.run([sys.executable, "-m", "pyfrag", *map(str, args)],
                          capture_output=True, text=True, timeout=600)


def test_pyfrag_explain_names_the_pinners_and_the_fix_proven_on_the_module():
    pytest.importorskip("wasmtime")
    r = pyfrag("explain", "image-task", "-m", "rust-dlmalloc")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.startswith("image-task on rust-dlmalloc: 257 events")
    assert "who pins the holes at the failure" in out and "tag thumbnail" in out
    assert "the real module rust-dlmalloc" in out
    assert out.strip().endswith("the 64.0 MiB malloc at event 256 then fits.")


def test_pyfrag_explain_on_a_model_alone_and_its_usage_errors():
    r = pyfrag("explain", "churn", "-p", "frames=100", "-a", "bump")
    assert r.returncode == 0, r.stderr
    assert "churn on bump" in r.stdout and "the model, best first" in r.stdout
    both = pyfrag("explain", "churn", "-a", "bump", "-m", "c-dlmalloc")
    assert both.returncode == 2 and "not both" in both.stderr


def test_run_and_real_take_the_reset_pattern():
    r = pyfrag("run", "image-task", "--like", "c-dlmalloc", "--reset-every", "128")
    assert r.returncode == 0 and "(reset every 128)" in r.stdout and "failed       none" in r.stdout
    bad = pyfrag("run", "image-task", "--reset-every", "0")
    assert bad.returncode == 2 and "--reset-every: wants a whole number above 0" in bad.stderr
    pytest.importorskip("wasmtime")
    real = pyfrag("real", "image-task", "-m", "c-dlmalloc", "--reset-every", "128")
    assert real.returncode == 0 and "failed       none" in real.stdout


def test_run_and_compare_print_the_ideal_and_the_grow_causes():
    r = pyfrag("run", "churn", "-p", "frames=200", "--like", "mimalloc")
    assert "the peak heap is" in r.stdout and "x it" in r.stdout
    assert "1 forced" in r.stdout or "0 forced" in r.stdout
    c = pyfrag("compare", "churn", "-p", "frames=200", "--allocators", "dlmalloc,bump")
    assert "x ideal" in c.stdout and "grows forced+policy" in c.stdout


def test_a_summary_classes_grows_within_its_budget_and_says_how_many_it_left():
    from pyfrag import replay
    from pyfrag.grows import grow_causes
    from pyfrag.report import grow_line
    run = replay(scenarios.churn(frames=2000), like="c-dlmalloc")     # 16 grow events
    every = grow_causes(run)
    some = grow_causes(run, budget=1000)
    assert [g.cause for g in every] and None not in [g.cause for g in every]
    kept = [g for g in some if g.cause is not None]
    assert 0 < len(kept) < len(some) and kept == every[:len(kept)]
    run.__dict__["grows"] = some
    assert f"{len(some) - len(kept)} not classed" in grow_line(run)

"""Scenario generators: they produce the article's patterns, deterministically."""

from pyfrag import scenarios
from pyfrag.trace import ALLOC, FREE


def test_swiss_cheese_is_the_articles_loop():
    t = scenarios.swiss_cheese()
    assert len(t) == 3001
    assert [e.size for e in list(t)[:3]] == [1024, 102400, 0]
    assert t[-1].size == 500 * 1024 and t[-1].tag == "probe"


def test_image_task_dies_of_fragmentation_with_about_200_mib_live():
    t = scenarios.image_task()
    assert t.maximum == "512mib"
    run = t.replay("first-fit")
    assert 190 << 20 <= run.live_bytes[-1] <= 210 << 20
    assert run.oom.index == len(t) - 1 and run.oom.kind == "fragmentation"
    assert run.oom.free_bytes > 200 << 20 > (64 << 20) > run.oom.largest_free


def test_generators_are_deterministic_per_seed():
    a, b = scenarios.random_trace(2000, seed=4), scenarios.random_trace(2000, seed=4)
    c = scenarios.random_trace(2000, seed=5)
    assert list(a.sizes) == list(b.sizes) and list(a.sizes) != list(c.sizes)
    assert list(scenarios.churn(50, seed=2).sizes) == list(scenarios.churn(50, seed=2).sizes)


def test_random_trace_never_frees_a_dead_block():
    t = scenarios.random_trace(20_000, seed=9, align_rate=0.1)
    live = set()
    for e in t:
        if e.op == ALLOC:
            assert e.id not in live
            live.add(e.id)
        else:
            assert e.id in live
            if e.op == FREE:
                live.remove(e.id)
    assert any(t.aligns.values())


def test_unknown_scenario_is_named():
    import pytest
    with pytest.raises(ValueError, match="unknown scenario 'nope'"):
        scenarios.get("nope")

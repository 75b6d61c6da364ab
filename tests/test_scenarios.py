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


# -- size guards (issue 10): a parameter too large is an error, never an OOM kill ----------

def test_a_scenario_too_large_is_refused_before_it_is_built(monkeypatch):
    import pytest
    monkeypatch.delenv("PYFRAG_MAX_TRACE_BYTES", raising=False)
    with pytest.raises(ValueError) as e:
        scenarios.swiss_cheese(rounds=100_000_000)      # would take ~23 GiB
    assert "rounds=100000000" in str(e.value) and "PYFRAG_MAX_TRACE_BYTES" in str(e.value)
    with pytest.raises(ValueError, match="events=1000000000 would build"):
        scenarios.get("random", events=10 ** 9)


def test_the_cli_says_which_parameter_and_exits_2(capsys, monkeypatch):
    from pyfrag.cli import main
    monkeypatch.delenv("PYFRAG_MAX_TRACE_BYTES", raising=False)
    assert main(["run", "swiss-cheese", "-p", "rounds=100000000"]) == 2
    err = capsys.readouterr().err
    assert "swiss-cheese: rounds=100000000 would build about 300,000,001 events" in err
    assert main(["run", "swiss-cheese", "-p", "anchor=100000000000000000000", "-p",
                 "rounds=2"]) == 2
    assert "below 2**48" in capsys.readouterr().err


def test_the_limit_comes_from_the_environment(monkeypatch):
    import pytest
    monkeypatch.setenv("PYFRAG_MAX_TRACE_BYTES", "2000")
    with pytest.raises(ValueError, match="varying-churn: rounds=100 "):
        scenarios.varying_churn(rounds=100)
    assert len(scenarios.varying_churn(rounds=5)) >= 15
    monkeypatch.setenv("PYFRAG_MAX_TRACE_BYTES", "lots")
    with pytest.raises(ValueError, match="must be a number of bytes, got 'lots'"):
        scenarios.churn(frames=1)


def test_each_estimate_is_close_to_the_trace_built():
    for name in scenarios.names():
        generator = scenarios.SCENARIOS[name]
        events, sparse = generator.estimate()
        t = generator()
        assert 0.8 * len(t) <= events <= 1.25 * len(t), name
        assert len(t.tags) + len(t.aligns) <= 1.25 * sparse + 1, name

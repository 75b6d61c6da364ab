"""The replay inside the module (pyfrag.runner) equals the replay loop driving the same module call
by call: addresses, memory sizes, live bytes, failures, trace issues, the blocks live at the end and
the module's own live_bytes(). Where it cannot answer (ids past its table, too many live ids) it says
so, and `replay_real` replays on the host instead, with the same result."""

import pytest

from pyfrag import Trace, modules, scenarios

real = pytest.importorskip("pyfrag.real")
pytest.importorskip("wasmtime")

from pyfrag.runner import run_in_module  # noqa: E402

from test_batch import awkward, outcome  # noqa: E402

RUNS = [m["name"] for m in modules.manifest() if "pyfrag_run" in m["exports"]]


def per_call(t, name):
    return real.replay_real(t, real.load(name, limit=t.maximum), batched=False)


def inside(t, name):
    module = real.load(name, limit=t.maximum)
    run = run_in_module(t, module)
    if run is not None:
        run.reported_live = module.live_bytes()
    return run


def rules():
    """awkward() and more: aligned requests of every kind, a realloc(p, 0), ids reused, and a
    realloc that gives a block to an id whose malloc had failed (its second free is invalid)."""
    t = awkward()
    t.maximum = None
    t.alloc(5000, 24, align=8).alloc(5001, 24, align=4096).alloc(5002, 24, align=1 << 40)
    t.free(5000).free(5001).free(5002)
    t.alloc(5003, 1 << 31).alloc(5004, 1 << 31).alloc(5005, 1 << 31)   # the third fails
    t.realloc(5005, 32).free(5005).free(5005)
    t.alloc(5006, 10).realloc(5006, 0).free(5006).free(5006)
    for i in range(3):
        t.alloc(0, 40).free(0)
    return t


def test_every_module_built_here_replays_whole_traces():
    assert set(RUNS) == {m["name"] for m in modules.manifest()}


@pytest.mark.parametrize("name", RUNS)
@pytest.mark.parametrize("make", [rules, scenarios.image_task,
                                  lambda: scenarios.random_trace(10_000, seed=3)],
                         ids=["rules", "image-task", "random"])
def test_inside_equals_call_by_call(name, make):
    t = make()
    got, want = inside(t, name), per_call(t, name)
    if want.trap is not None:
        # AssemblyScript aborts when memory runs out: what the loop did inside that event is the
        # loop's to say, so the module declines and replay_real replays on the host
        assert got is None
        got = real.replay_real(t, name, model=False)
        assert got.trap == want.trap
    assert outcome(got) == outcome(want)
    assert got.failures == want.failures and got.issues == want.issues
    assert got.live_ids == want.live_ids


@pytest.mark.parametrize("ids", [(-1, 1), (1 << 32, 2), ((1 << 32) - 1, 3)])
def test_ids_past_the_table_are_left_to_the_host(ids):
    t = Trace("odd ids")
    for i in ids:
        t.alloc(i, 100)
    t.free(ids[0])
    assert run_in_module(t, real.load("c-dlmalloc")) is None
    assert outcome(real.replay_real(t, "c-dlmalloc")) == outcome(per_call(t, "c-dlmalloc"))


def test_more_live_ids_than_the_table_holds_are_left_to_the_host():
    t = Trace("many live")
    for i in range(30_000):
        t.alloc(i, 8)
    assert run_in_module(t, real.load("c-dlmalloc")) is None
    run = real.replay_real(t, "c-dlmalloc")
    assert run.live_bytes[-1] == run.reported_live == 240_000 and len(run.live_ids) == 30_000


def test_a_module_driven_one_way_cannot_be_driven_another():
    """The wrapper's table serves one way of driving: mixing them traps instead of corrupting it."""
    module = real.load("c-dlmalloc")
    assert module.malloc(10)
    assert run_in_module(scenarios.churn(frames=5), module) is None
    assert module.traps and "unreachable" in module.traps[-1][2]

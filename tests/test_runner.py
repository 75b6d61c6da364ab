"""The replay inside the module (pyfrag.real.runner) equals the replay loop driving the same module call
by call (pyfrag.replay.drive over RealModule): addresses, memory sizes, live bytes, failures, trace
issues, traps, the blocks live at the end and the module's own live_bytes(), on every module, with
any number of live blocks and ids of any size. Small chunks make references across chunks (the host
copying a block's state in) as common as those inside one (the module following them itself)."""

import pytest

from pyfrag import Trace, modules, replay, scenarios

real = pytest.importorskip("pyfrag.real")
pytest.importorskip("wasmtime")
runner = pytest.importorskip("pyfrag.real.runner")

NAMES = [m["name"] for m in modules.manifest()]


def outcome(run):
    return {
        "addresses": list(run.addresses),
        "heap_bytes": list(run.heap_bytes),
        "live_bytes": list(run.live_bytes),
        "failures": [(f.index, f.op, f.size, f.kind, f.free_bytes, f.heap_bytes) for f in run.failures],
        "issues": [(i.index, i.message) for i in run.issues],
        "reported_live": run.reported_live,
        "final": run.final_blocks,
        "live_ids": run.live_ids,
        "trap": run.trap,
    }


def awkward():
    """Every path of the replay's rules, within a chunk and across chunks."""
    t = Trace("awkward", maximum=200)          # 12.5 MiB: some requests fail
    t.alloc(1, 100).alloc(2, 0).free(99)      # a free of an id never allocated
    t.realloc(7, 64)                          # realloc of an id not live: a malloc
    t.alloc(1, 300)                           # alloc of a live id: the old block leaks
    t.alloc(3, 5 << 20).alloc(4, 5 << 20).alloc(5, 5 << 20)   # the third fails
    t.free(5).realloc(5, 10)                  # free of a failed block, realloc of it
    t.realloc(3, 9 << 20)                     # a realloc that fails: the block stays
    t.free(3).free(3)                         # a double free
    t.alloc(8, 1 << 33)                       # too big for wasm32: fails without a call
    t.alloc(9, 48, align=64).realloc(9, 4000).free(9)
    t.realloc(2, 0).free(2)
    for i in range(100, 3000):                # enough events for several chunks
        t.alloc(i, 16 + i % 500)
        if i % 3:
            t.free(i - 1)
    return t


def rules():
    """awkward() without its limit, and more: aligned requests of every kind, realloc(p, 0), ids
    reused, and a realloc that gives a block to an id whose malloc had failed (its second free is
    invalid)."""
    t = awkward()
    t.maximum = None
    t.alloc(5000, 24, align=8).alloc(5001, 24, align=4096).alloc(5002, 24, align=1 << 40)
    t.realloc(5001, 5000).free(5000).free(5001).free(5002)
    t.alloc(5003, 1 << 31).alloc(5004, 1 << 31).alloc(5005, 1 << 31)   # the third fails
    t.realloc(5005, 32).free(5005).free(5005)
    t.alloc(5006, 10).realloc(5006, 0).free(5006).free(5006)
    for i in range(3):
        t.alloc(0, 40).free(0)
    return t


def trapping():
    """AssemblyScript's allocator aborts when memory cannot grow: the replay ends at that event."""
    t = Trace("too big", maximum=64)          # 4 MiB
    for i in range(300):
        t.alloc(i, 1000)
    t.alloc(1000, 8 << 20)                    # cannot fit: heap.alloc aborts
    t.alloc(1001, 10)
    return t


TRACES = {
    "awkward": awkward,
    "rules": rules,
    "trapping": trapping,
    "image-task": scenarios.image_task,
    "churn": lambda: scenarios.churn(frames=300),
    "random": lambda: scenarios.random_trace(20_000, seed=5),
}


def per_call(t, name, **options):
    return real.replay_real(t, name, batched=False, model=False, **options)


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(runner, "FIRST_CHUNK", 97)
    monkeypatch.setattr(runner, "MIN_CHUNK", 97)
    monkeypatch.setattr(runner, "CALL_SECONDS", 0)


def test_every_module_built_here_replays_whole_traces():
    assert all(real.load(name).runs for name in NAMES)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("trace", TRACES, ids=str)
def test_inside_equals_call_by_call(name, trace, small_chunks):
    t = TRACES[trace]()
    want = per_call(t, name)
    got = real.replay_real(t, name, model=False)
    assert outcome(got) == outcome(want)


@pytest.mark.parametrize("name", ["c-dlmalloc", "as-tlsf", "rust-dlmalloc"])
def test_the_model_beside_gives_the_same_verdicts_either_way(name):
    """As `pyfrag real` runs: with the model beside the module, its verdicts and free blocks."""
    t = awkward()
    assert outcome(real.replay_real(t, name)) == outcome(real.replay_real(t, name, batched=False))


def test_a_trap_ends_the_run_at_the_event_that_did_not_finish(small_chunks):
    t = trapping()
    run = real.replay_real(t, "as-tlsf", model=False)
    assert run.trap is not None and run.trap.index == 300 and run.trap.op == "malloc"
    assert run.events == 301 and run.reported_live is None
    assert not run.trap.timeout and run.trap == per_call(t, "as-tlsf").trap


@pytest.mark.parametrize("stop", [True, False])
def test_stop_at_oom_ends_where_the_loop_ends(stop, small_chunks):
    t = awkward()
    got = real.replay_real(t, "c-dlmalloc", model=False, stop_at_oom=stop)
    want = per_call(t, "c-dlmalloc", stop_at_oom=stop)
    assert outcome(got) == outcome(want)
    assert (got.events == got.failures[0].index + 1) == stop


@pytest.mark.parametrize("ids", [(-1, 1), (1 << 32, 2), ((1 << 32) - 1, 3), (-(1 << 63), (1 << 63) - 1)])
def test_ids_of_any_size(ids, small_chunks):
    t = Trace("odd ids")
    for i in ids:
        t.alloc(i, 100)
    t.free(ids[0]).alloc(ids[0], 7).realloc(ids[1], 300)
    got = real.replay_real(t, "c-dlmalloc", model=False)
    assert outcome(got) == outcome(per_call(t, "c-dlmalloc"))
    assert set(got.live_ids) == set(ids)


@pytest.mark.parametrize("name", NAMES)
def test_no_live_block_limit(name):
    """300,000 blocks live at once, in the module and call by call alike, address-exact with the
    module's model; the module's live_bytes() agrees (its wrappers keep no table to fill)."""
    t = Trace("300k live")
    for i in range(300_000):
        t.alloc(i, 8 + i % 24)
    run = real.replay_real(t, name, model=False)
    assert not run.failures and run.live_bytes[-1] == sum(8 + i % 24 for i in range(300_000))
    assert run.reported_live == run.live_bytes[-1] and len(run.live_ids) == 300_000
    assert list(replay(t, like=name).addresses) == list(run.addresses)


def test_one_call_per_event_has_no_limit_either():
    t = Trace("60k live")
    for i in range(60_000):
        t.alloc(i, 16)
    for i in range(0, 60_000, 2):
        t.free(i)
    run = per_call(t, "zig-wasm")
    assert run.trap is None and run.reported_live == 30_000 * 16 == run.live_bytes[-1]


def test_the_instance_stays_usable_call_by_call_after_a_run():
    """No table claims the module for one way of driving: after a run, the exports still work
    (the page's audit snippet calls them)."""
    run = real.replay_real(scenarios.churn(frames=20), "rust-dlmalloc", model=False)
    module = run.module
    p = module.malloc(1000)
    assert p and module.live_bytes() == run.reported_live + 1000
    module.free(p)
    assert module.live_bytes() == run.reported_live


def test_a_block_past_the_end_of_memory_is_an_issue_on_both_sides():
    """AssemblyScript's stub computes in 32 bits: near 4 GiB a block's end wraps, and the module
    hands out a block that extends past the end of memory. The model does what the module does,
    and both say so."""
    t = Trace("wrap")
    for i in range(4095):
        t.alloc(i, 1 << 20)                    # ~4 GiB of 1 MiB blocks
    t.alloc(9000, 536_640)                     # ends past 4 GiB: the offset wraps
    t.alloc(9001, 64).alloc(9002, 100)         # handed out over the first live blocks
    t.free(9002).free(3).realloc(9001, 5000).realloc(7, 10).free(9000).alloc(9003, 10)
    got = real.replay_real(t, "as-stub", model=False)
    sim = replay(t, like="as-stub")
    assert list(sim.addresses) == list(got.addresses)
    outside = [i for i in got.issues if "past the end of memory" in i.message]
    assert outside and [i.message for i in sim.issues] == [i.message for i in got.issues]

"""Batched replay (pyfrag.batch) equals the call-by-call replay on every module that exports it:
the same addresses, memory sizes, live bytes, failures, trace issues and the module's own
live_bytes(); and it has no live-block limit (the call-by-call wrappers trap past 49,152)."""

import pytest

from pyfrag import Trace, modules, scenarios

real = pytest.importorskip("pyfrag.real")
pytest.importorskip("wasmtime")

BATCHED = [m["name"] for m in modules.manifest() if "pyfrag_replay" in m["exports"]]


def outcome(run):
    return {
        "addresses": list(run.addresses),
        "heap_bytes": list(run.heap_bytes),
        "live_bytes": list(run.live_bytes),
        "failures": [(f.index, f.op, f.size, f.kind, f.free_bytes, f.heap_bytes) for f in run.failures],
        "issues": [(i.index, i.message) for i in run.issues],
        "reported_live": run.reported_live,
        "final": run.final_blocks,
    }


def awkward():
    """Every path of the replay's rules, within a batch and across batches."""
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
    for i in range(100, 3000):                # enough events for several small batches
        t.alloc(i, 16 + i % 500)
        if i % 3:
            t.free(i - 1)
    return t


TRACES = {
    "image-task": scenarios.image_task,
    "churn": lambda: scenarios.churn(frames=300),
    "random": lambda: scenarios.random_trace(20_000, seed=5),
    "awkward": awkward,
}


@pytest.mark.parametrize("name", BATCHED)
@pytest.mark.parametrize("trace", TRACES, ids=str)
def test_batched_equals_call_by_call(name, trace):
    t = TRACES[trace]()
    if name.startswith("as-") and t.aligns:
        pytest.skip("AssemblyScript has no aligned_alloc")
    # with the model beside the module (its verdicts and free blocks), as `pyfrag real` runs
    assert outcome(real.replay_real(t, name)) == outcome(real.replay_real(t, name, batched=False))
    # without it, and in small batches, so references to blocks made in earlier batches are
    # exercised too
    module = real.load(name, limit=t.maximum)
    module.batch.capacity = 97
    per_call = real.replay_real(t, real.load(name, limit=t.maximum), batched=False)
    assert outcome(real.replay_real(t, module)) == outcome(per_call)


@pytest.mark.parametrize("name", BATCHED)
def test_no_live_block_limit(name):
    """200,000 blocks live at once: past the table a call-by-call replay traps, a batched one runs,
    address-exact with the module's model."""
    from pyfrag import replay
    entry = modules.find(name)
    t = Trace("200k live")
    for i in range(200_000):
        t.alloc(i, 8 + i % 24)
    run = real.replay_real(t, name)
    assert not run.failures and run.live_bytes[-1] == sum(8 + i % 24 for i in range(200_000))
    assert run.reported_live == run.live_bytes[-1]
    model = replay(t, like=name)
    assert list(model.addresses) == list(run.addresses), entry["model"]


def test_modules_without_the_export_replay_call_by_call(tmp_path):
    """An upload without pyfrag_replay (here: a module stripped of it) still replays, one call
    per event."""
    module = real.load(BATCHED[0])
    assert module.batch is not None
    module.__dict__["batch"] = None        # as a module without the export reads
    run = real.replay_real(scenarios.swiss_cheese(50), module)
    assert run.events == 151 and not run.failures


def test_a_trap_ends_a_batched_replay_where_it_ends_a_call_by_call_one():
    """AssemblyScript's allocator traps when memory cannot grow: both replays end at that event
    with the same run.trap, and the same results before it."""
    t = Trace("too big", maximum=64)          # 4 MiB
    for i in range(300):
        t.alloc(i, 1000)
    t.alloc(1000, 8 << 20)                    # cannot fit: heap.alloc aborts
    t.alloc(1001, 10)
    per_call = real.replay_real(t, "as-tlsf", batched=False)
    batched = real.replay_real(t, "as-tlsf")
    assert batched.trap is not None and batched.trap == per_call.trap
    assert batched.trap.index == 300 and batched.trap.op == "malloc"
    assert outcome(batched) == outcome(per_call)

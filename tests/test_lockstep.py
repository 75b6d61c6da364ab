"""pyfrag.lockstep: a real module replayed beside its model, which stands for its free
blocks only while every address and memory size matches. Skipped without wasmtime."""

import pytest

pytest.importorskip("wasmtime")

from pyfrag import Heap, real, replay, scenarios  # noqa: E402
from pyfrag.lockstep import Lockstep  # noqa: E402
from pyfrag.modules import find  # noqa: E402
from pyfrag.replay import drive  # noqa: E402
from pyfrag.report import summary  # noqa: E402


def leak_into(limit):
    t = scenarios.varying_churn(rounds=2000, seed=2)
    t.maximum = limit
    return t


def test_real_and_simulated_verdicts_are_the_same():
    t = leak_into("32mib")
    r = real.replay_real(t, "wee-alloc", discard="on-free")
    s = replay(t, like="wee-alloc", discard="on-free")
    assert r.lockstep.diverged is None and r.failures
    assert r.failures == s.failures                 # kind, free, largest, overhead: all
    assert r.oom.overhead > 16 << 20 > r.oom.free_bytes       # lost cells are not free
    assert r.spans == s.spans
    assert list(r.discard_samples) == list(s.discard_samples)
    rm, sm = r.metrics, s.metrics
    assert (rm.overhead_bytes, rm.resident_bytes, rm.peak_resident_bytes) == \
        (sm.overhead_bytes, sm.resident_bytes, sm.peak_resident_bytes)


def test_a_model_that_parts_is_dropped_and_the_run_estimates():
    t = leak_into("8mib")
    module = real.load("wee-alloc", limit=t.maximum)
    wrong = Heap.like(find("wee-alloc"), "bump", maximum=module.memory.maximum).allocator
    stepper = Lockstep(module, wrong)
    run = drive(t, stepper, module.memory, module.name)
    op, args, got, expected = stepper.diverged
    assert op == "malloc" and got != expected       # the very first request
    with pytest.raises(NotImplementedError, match="not in step"):
        stepper.spans()
    assert run.failures and all(f.estimated for f in run.failures)
    run.lockstep = stepper
    assert "left behind: malloc" in summary(run)


def test_a_module_without_a_model_has_no_span_metrics(tmp_path):
    path = tmp_path / "bare.wasm"
    path.write_bytes(open(find("wee-alloc")["path"], "rb").read())
    run = real.replay_real(scenarios.churn(frames=50), str(path), discard="on-free")
    assert run.lockstep.model is None and run.spans is None
    assert run.discard_samples is None
    m = run.metrics
    assert m.overhead_bytes is None and m.resident_bytes is None

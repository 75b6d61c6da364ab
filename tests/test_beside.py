"""pyfrag.real.beside: a real module's model replayed beside it stands for its free blocks only
while every address and memory size matches. Skipped without wasmtime."""

from array import array

import pytest

pytest.importorskip("wasmtime")

from pyfrag import real, replay, scenarios  # noqa: E402
from pyfrag.real.beside import first_difference, judge  # noqa: E402
from pyfrag.modules import find  # noqa: E402
from pyfrag.report import summary  # noqa: E402


def leak_into(limit):
    t = scenarios.varying_churn(rounds=2000, seed=2)
    t.maximum = limit
    return t


@pytest.mark.parametrize("name", ["wee-alloc", "c-dlmalloc"])
def test_real_and_simulated_verdicts_are_the_same(name):
    t = leak_into("32mib") if name == "wee-alloc" else scenarios.image_task()
    r = real.replay_real(t, name, discard="on-free")
    s = replay(t, like=name, discard="on-free")
    assert not r.beside.parted and r.beside.in_step == r.events and r.failures
    assert r.failures == s.failures                 # kind, free, largest, overhead: all
    assert r.spans == s.spans
    assert list(r.discard_samples) == list(s.discard_samples)
    rm, sm = r.metrics, s.metrics
    assert (rm.overhead_bytes, rm.resident_bytes, rm.peak_resident_bytes) == \
        (sm.overhead_bytes, sm.resident_bytes, sm.peak_resident_bytes)
    if name == "wee-alloc":
        assert r.oom.overhead > 16 << 20 > r.oom.free_bytes       # lost cells are not free


def test_by_default_the_model_judges_failures_only():
    """`pyfrag real`'s default: the model runs only when requests failed, up to them, and its
    verdicts are the full model's; a run without failures never replays it."""
    t = scenarios.image_task().alloc(10 ** 6, 64).alloc(10 ** 6 + 1, 64)   # go on past the OOM
    full = real.replay_real(t, "c-dlmalloc")
    judged = real.replay_real(t, "c-dlmalloc", model="failures")
    assert judged.failures == full.failures and not any(f.estimated for f in judged.failures)
    assert judged.beside.events == judged.failures[-1].index + 1 < judged.events
    assert judged.spans is None and full.spans is not None
    fine = real.replay_real(scenarios.churn(frames=50), "c-dlmalloc", model="failures")
    assert fine.beside is None and not fine.failures
    alone = real.replay_real(t, "c-dlmalloc", model=False)
    assert alone.beside is None and all(f.estimated for f in alone.failures)


def test_a_model_that_parts_leaves_estimates_from_there_on():
    t = leak_into("8mib")
    run = real.replay_real(t, "wee-alloc", model=False)
    module = run.module
    module.entry = dict(find("wee-alloc"), model="bump")        # the wrong model
    beside = judge(run, module, True)
    assert beside.parted and beside.in_step == 0           # the very first request
    assert "malloc(" in beside.difference and "on its model" in beside.difference
    assert run.failures and all(f.estimated for f in run.failures)
    assert run.spans is None
    run.beside = beside
    assert "left behind: malloc(" in summary(run)


def test_first_difference():
    a = array("q", range(1000))
    for i in (0, 1, 500, 998, 999):
        b = array("q", a)
        b[i] = -1
        assert first_difference(a, b, 1000) == i
    assert first_difference(a, array("q", a), 1000) == 1000
    assert first_difference(a, array("q", range(10)), 10) == 10


def test_a_module_without_a_model_has_no_span_metrics(tmp_path):
    path = tmp_path / "bare.wasm"
    path.write_bytes(open(find("wee-alloc")["path"], "rb").read())
    run = real.replay_real(scenarios.churn(frames=50), str(path), discard="on-free")
    assert run.beside is None and run.spans is None
    assert run.discard_samples is None
    m = run.metrics
    assert m.overhead_bytes is None and m.resident_bytes is None

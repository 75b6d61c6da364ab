"""The reset pattern: restart the instance, restore the live blocks packed."""

import pytest

from pyfrag import Trace, replay, scenarios
from pyfrag.metrics import grow_indices
from pyfrag.strategies import periodic_reset


def test_reset_keeps_the_live_set_and_reclaims_the_holes():
    t = scenarios.churn(600, seed=4)
    plain = replay(t, "bump")
    reset = periodic_reset(t, "bump", every=2000)
    assert reset.events == plain.events == len(t)
    assert list(reset.live_bytes) == list(plain.live_bytes)
    # the heap shrinks at a reset: something no allocator can do inside one instance
    drops = [i for i in range(1, reset.events) if reset.heap_bytes[i] < reset.heap_bytes[i - 1]]
    assert drops and all(i % 2000 == 0 for i in drops)
    assert reset.metrics.peak_heap_bytes < plain.metrics.peak_heap_bytes
    assert grow_indices(reset)


def test_failures_keep_their_index_in_the_original_trace():
    t = Trace(maximum=2)
    t.alloc(1, 1000).alloc(2, 1000).free(2).alloc(3, 200_000)
    run = periodic_reset(t, "bump", every=2)
    assert [(f.index, f.op, f.kind, f.where) for f in run.failures] == \
        [(3, "malloc", "true", "event 3")]


def test_bad_period_is_named():
    with pytest.raises(ValueError, match="every must be a positive"):
        periodic_reset(Trace(), "bump", every=0)

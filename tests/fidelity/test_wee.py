"""Fidelity: the wee-alloc model against the real wee_alloc 0.4.5 module.

Every address and memory size must match on the grant sizing of large
alignments (8 x (align + 2 KiB), event 0 of the smallest case), on size-class
requests (alignment <= 4, which only aligned_alloc passes through) at the
class boundaries, on the reported leak and at a memory limit; the scenarios
and random traces all models share are in test_every_module.py.
"""

import random

from exactness import assert_exact, module_or_skip
from pyfrag import scenarios
from pyfrag.trace import Trace

MODULE = "wee-alloc"


def test_first_grant_of_a_large_alignment():
    module_or_skip(MODULE)
    for align in (4096, 8192, 16384, 65536, 1 << 17):
        t = Trace(f"align-{align}")
        t.alloc(0, 100, align)
        t.alloc(1, 100, align)
        assert_exact(t, MODULE)


def test_size_classes_and_the_main_list():
    """Sizes at the word and class boundaries (256 words = 1024 bytes) with every
    alignment: <= 4 takes a size class, 8 and up the main list."""
    module_or_skip(MODULE)
    t = Trace("wee-boundaries")
    sizes = [0, 1, 3, 4, 5, 8, 9, 100, 1020, 1021, 1024, 1025, 2048, 8192, 70000]
    k = 0
    for align in (1, 2, 4, 8, 16):
        for n in sizes * 2:
            t.alloc(k, n, align)
            k += 1
    for i in range(0, k, 3):
        t.free(i)
    for i in range(1, k, 3):
        t.realloc(i, sizes[i % len(sizes)] + 7)
    for i, n in enumerate(sizes):
        t.alloc(1000 + i, n, (1, 4, 8)[i % 3])
    assert_exact(t, MODULE)


def test_reported_leak_repro():
    """wee_alloc issue #106: alloc 85196 B, alloc 80000 B, free both, forever."""
    module_or_skip(MODULE)
    t = Trace("wee-issue-106")
    for r in range(200):
        t.alloc(2 * r, 85196)
        t.alloc(2 * r + 1, 80000)
        t.free(2 * r)
        t.free(2 * r + 1)
    assert_exact(t, MODULE)


def test_varying_churn_into_a_memory_limit():
    """The leak run into a 64 MiB limit: the same failed requests, and the same
    addresses after them."""
    module_or_skip(MODULE)
    t = scenarios.varying_churn(rounds=1500, seed=2)
    t.maximum = "64mib"
    sim, real = assert_exact(t, MODULE)
    assert sim.failures and [f.index for f in sim.failures] == [f.index for f in real.failures]


def test_mixed_alignments_and_reallocs():
    module_or_skip(MODULE)
    rng = random.Random(9)
    t, live = Trace("wee-mixed"), []
    for i in range(4000):
        r = rng.random()
        if live and r < 0.4:
            t.free(live.pop(rng.randrange(len(live))))
        elif live and r < 0.5:
            t.realloc(rng.choice(live), int(2 ** rng.uniform(0, 18)))
        else:
            t.alloc(i, int(2 ** rng.uniform(0, 18)), rng.choice((0, 0, 1, 4, 8, 64, 8192)))
            live.append(i)
    assert_exact(t, MODULE)


def test_the_real_module_leaks_where_rust_dlmalloc_stays_flat():
    module_or_skip(MODULE)
    module_or_skip("rust-dlmalloc")
    from pyfrag.real import replay_real
    t = scenarios.varying_churn(rounds=2000, seed=5)
    wee, dl = (replay_real(t, m) for m in (MODULE, "rust-dlmalloc"))
    half = len(t) // 2
    assert wee.heap_bytes[-1] > 1.5 * wee.heap_bytes[half]        # still climbing
    assert dl.heap_bytes[-1] == dl.heap_bytes[half]                # flat
    assert wee.heap_bytes[-1] > 20 * dl.heap_bytes[-1]
    # what is not live in the leaking heap is overhead (lost cells), hardly any of it free
    m = wee.metrics
    assert m.overhead_bytes > 50 * m.total_free

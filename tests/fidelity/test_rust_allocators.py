"""Fidelity: the talc, lol_alloc and rlsf models against their real modules.

Each module (src/global_alloc.rs around talc 4.4.2, lol_alloc 0.4.1, rlsf 0.2.1) must
return every address and memory size its model does: on every alignment from
1 to 128 KiB (talc's fast path is alignment <= 4, rlsf's header pointer starts at
16, lol_alloc's growth loops past 64 KiB), on reallocs that grow in place, shrink
or move, on the varying churn that makes wee_alloc leak, and where memory runs
out (talc grows by halves until no page is left, and its first growth makes its
heap even when the request then fails). The scenarios and random traces all
models share are in test_every_module.py, which picks these modules up from the
manifest.
"""

import random

import pytest

from exactness import assert_exact, module_or_skip
from pyfrag import scenarios
from pyfrag.trace import Trace

MODULES = ["talc", "lol-alloc", "lol-alloc-leaking", "rlsf", "rlsf-global"]
KIB, MIB = 1 << 10, 1 << 20
# around talc's bins (12, 64, 128 bytes, then powers of two), rlsf's lists (16-byte
# steps, then 32 per power of two) and whole pages
SIZES = [0, 1, 3, 4, 5, 8, 9, 12, 13, 16, 17, 24, 31, 32, 33, 60, 64, 65, 100, 127, 128,
         129, 255, 256, 500, 1000, 4095, 4096, 4097, 65527, 65528, 65536, 65537, 100_000,
         300_000]


@pytest.mark.parametrize("module", MODULES)
def test_every_alignment_at_the_size_boundaries(module):
    module_or_skip(module)
    t, k = Trace(f"{module}-alignments"), 0
    for align in (0, 1, 2, 4, 8, 16, 32, 64, 4096, 65536, 1 << 17):
        for n in SIZES[:: 2 if align > 4096 else 1]:
            t.alloc(k, n, align)
            k += 1
    for i in range(0, k, 3):
        t.free(i)
    for i in range(1, k, 4):
        t.realloc(i, SIZES[i % len(SIZES)] + 13)
    for i, n in enumerate(SIZES):
        t.alloc(1000 + i, n, (1, 4, 8, 16, 256)[i % 5])
    assert_exact(t, module)


@pytest.mark.parametrize("module", MODULES)
def test_reallocs_grow_shrink_and_move(module):
    """Growing into a free neighbour above, within the block's own slack, shrinking with
    and without giving a gap back, growing where it must move; to and from 0 bytes."""
    module_or_skip(module)
    t = Trace(f"{module}-reallocs")
    for i in range(40):
        t.alloc(i, 24 + 40 * (i % 7), (0, 16, 1)[i % 3])
    for i in range(1, 40, 2):
        t.free(i)                               # a free gap above every even block
    for step, i in enumerate(range(0, 40, 2)):
        t.realloc(i, [30, 60, 200, 1000, 4, 0, 25, 5000][step % 8])
    for i in range(0, 40, 2):
        t.realloc(i, 3)                         # shrink
        t.realloc(i, 70_000)                    # grow past everything: moves
        t.realloc(i, 69_000)                    # shrink a little: a gap or not
    for i in range(0, 40, 4):
        t.free(i)
    assert_exact(t, module)


@pytest.mark.parametrize("module", MODULES)
def test_mixed_alignments_and_reallocs(module):
    module_or_skip(module)
    rng = random.Random(11)
    t, live = Trace(f"{module}-mixed"), []
    for i in range(4000):
        r = rng.random()
        if live and r < 0.4:
            t.free(live.pop(rng.randrange(len(live))))
        elif live and r < 0.55:
            t.realloc(rng.choice(live), int(2 ** rng.uniform(0, 18)))
        else:
            t.alloc(i, int(2 ** rng.uniform(0, 18)),
                    rng.choice((0, 0, 0, 1, 2, 4, 8, 16, 64, 8192, 1 << 16)))
            live.append(i)
    assert_exact(t, module)


@pytest.mark.parametrize("module", MODULES)
def test_varying_churn(module):
    module_or_skip(module)
    assert_exact(scenarios.varying_churn(rounds=3000, seed=5), module)


@pytest.mark.parametrize("module", MODULES)
def test_varying_churn_into_a_memory_limit(module):
    module_or_skip(module)
    t = scenarios.varying_churn(rounds=3000, seed=2)
    t.maximum = "24mib"
    sim, real = assert_exact(t, module)
    assert [f.index for f in sim.failures] == [f.index for f in real.failures]


@pytest.mark.parametrize("module", MODULES)
def test_out_of_memory_in_a_small_memory(module):
    """A first request too big for the memory (talc makes its heap on the pages it got
    anyway), then requests that fit, then ones that do not, then frees and retries."""
    module_or_skip(module)
    t = Trace(f"{module}-small-memory", maximum=20)
    t.alloc(0, 300_000)
    for i in range(1, 30):
        t.alloc(i, 9_000 + 1000 * i, (0, 64, 4096)[i % 3])
    for i in range(1, 30, 2):
        t.free(i)
    t.alloc(100, 120_000)
    t.alloc(101, 8, 1 << 16)
    for i in range(30, 60):
        t.alloc(i, 5_000)
    sim, real = assert_exact(t, module)
    assert sim.failures and [f.index for f in sim.failures] == [f.index for f in real.failures]


def test_talc_grows_by_halves_until_memory_is_full():
    """A request larger than what is left: talc's handler halves its growth while
    memory.grow refuses, so the failed request leaves memory at its maximum."""
    module_or_skip("talc")
    t = Trace("talc-halving", maximum=40)
    t.alloc(0, 100)
    t.alloc(1, 5 * MIB)
    t.alloc(2, 100)
    sim, real = assert_exact(t, "talc")
    assert [f.index for f in real.failures] == [1]
    assert real.heap_bytes[1] == 40 * 65536


@pytest.mark.parametrize("module", ["rlsf", "rlsf-global"])
def test_rlsf_pools_never_merge(module):
    """Each growth is a pool of its own, capped by a sentinel: two adjacent pools'
    free space cannot serve one block, so a request of their combined size grows again
    (GlobalTlsf's COALESCE_POOLS included: on wasm32 it never finds the pool's end)."""
    module_or_skip(module)
    t = Trace("rlsf-pools")
    t.alloc(0, 40_000)
    t.alloc(1, 40_000)                  # does not fit the first pool's rest: a second pool
    t.free(0)
    t.free(1)
    t.alloc(2, 100_000)                 # both pools are free, neither holds it: a third
    sim, real = assert_exact(t, module)
    assert real.heap_bytes[-1] == real.heap_bytes[1] + 2 * 65536


def test_lol_alloc_leaking_hands_out_a_block_past_the_end_of_memory():
    """LeakingAllocator grows by the size, not the alignment slack: a 128 KiB-aligned
    byte after an odd bump lands at or past the end of memory, outside it."""
    module_or_skip("lol-alloc-leaking")
    t = Trace("leaking-past-the-end")
    for i, (n, align) in enumerate([(3, 8), (3, 1), (1, 1 << 17), (1, 1 << 17), (100, 0)]):
        t.alloc(i, n, align)
    sim, real = assert_exact(t, "lol-alloc-leaking")
    assert real.addresses[3] >= real.heap_bytes[3]


def test_rlsf_global_reallocates_in_place_and_moves_down():
    """GlobalTlsf's realloc: shrinking frees the tail, growing takes the free block
    after, else moves down into the free block before (data copied within)."""
    module_or_skip("rlsf-global")
    t = Trace("rlsf-global-realloc")
    for i in range(20, 24):
        t.alloc(i, 100)
    t.free(21)
    t.realloc(22, 200)                  # 23 is in use after it: into 21's place
    for i in range(12):
        t.alloc(i, 100, (0, 64)[i % 2])
    for i in (1, 4, 7, 10):
        t.free(i)
    for i, n in ((3, 40), (3, 200), (5, 260), (8, 500), (9, 120), (11, 1000), (2, 20)):
        t.realloc(i, n)
    sim, real = assert_exact(t, "rlsf-global")
    assert real.addresses[5] == real.addresses[1]                   # 22 moved down to 21's
    assert real.addresses[22] == real.addresses[23] == real.addresses[9]   # 3 stays


def to_4_gib():
    """100 MiB blocks kept until memory is full, smaller ones, then frees and retries."""
    t = Trace("to-4gib")
    sizes = [100 * MIB] * 45 + [7 * MIB, 3 * MIB, MIB, 300_000, 65536, 1000, 100, 100]
    for k, n in enumerate(sizes):
        t.alloc(k, n)
    for i in range(10):
        t.free(i)
    for k, n in enumerate([50 * MIB, 1000, 100 * MIB], len(sizes)):
        t.alloc(k, n)
    return t


@pytest.mark.parametrize("module", ["talc", "lol-alloc", "rlsf", "rlsf-global"])
def test_up_to_4_gib(module):
    """talc traps when its memory reaches 4 GiB exactly (its heap's end wraps to 0 and
    an assertion in extend panics): the model fails that request."""
    module_or_skip(module)
    sim, real = assert_exact(to_4_gib(), module)
    if module == "talc":
        assert real.trap and real.trap.index in {f.index for f in sim.failures}
        assert real.heap_bytes[real.trap.index] == 1 << 32


def test_lol_alloc_leaking_wraps_past_4_gib():
    """LeakingAllocator's u32 pointer wraps past 4 GiB and hands out low addresses
    again, over its own live blocks; the model follows it address by address, and the
    replay (which counts live bytes in 64 bits for such a model) goes on to the end."""
    module_or_skip("lol-alloc-leaking")
    sim, real = assert_exact(to_4_gib(), "lol-alloc-leaking")
    addresses = [a for a in real.addresses if a]
    assert min(addresses[41:]) < addresses[40]          # wrapped
    assert list(real.live_bytes) == list(sim.live_bytes) and max(sim.live_bytes) > 1 << 32
    assert [i.message for i in real.issues] == [i.message for i in sim.issues]

"""Fidelity: the as-tlsf and as-stub models against the real AssemblyScript modules.

Every address and memory size must match (`exactness.assert_exact`) on
requests placed at the TLSF size-class edges, the in-place/moving realloc
cases and the top of the address space; the scenarios and random traces all
models share are in test_every_module.py. The model-only tests
at the end need no module: they check the models' own invariants.
"""

import random

import pytest

from exactness import assert_exact, module_or_skip
from pyfrag import Heap
from pyfrag.allocators.as_tlsf import BLOCK_MAXSIZE, SB_SIZE
from pyfrag.trace import Trace

MODULES = ["as-tlsf", "as-stub"]
KIB, MIB = 1 << 10, 1 << 20


def edges(too_large=None):
    """Sizes at the minimum block, the small-block limit and second-level class
    edges; frees that merge left, right and both ways; reallocs that shrink,
    grow into a free right neighbour and move. `too_large` ("alloc" or "realloc")
    ends the trace with a request of more than 1 GiB: the module traps there."""
    t = Trace("as-edges")
    sizes = [0, 1, 11, 12, 13, 28, 29, SB_SIZE - 5, SB_SIZE - 4, SB_SIZE, SB_SIZE + 1]
    for k in range(9, 21):
        step = 1 << (k - 4)                      # one second-level class
        sizes += [(1 << k) - 4, (1 << k) + step - 5, (1 << k) + step - 4]
    for i, n in enumerate(sizes):
        t.alloc(i, n)
    for i in range(1, len(sizes), 3):           # isolated holes
        t.free(i)
    for i in range(2, len(sizes), 3):           # each merges with the hole on its left
        t.free(i)
    for i in range(0, len(sizes), 6):
        t.realloc(i, sizes[i] // 2)             # shrink in place, splitting off a tail
    for i in range(3, len(sizes), 6):
        t.realloc(i, sizes[i] * 2 + 100)        # grow into the free right neighbour, or move
    for i, n in enumerate(sizes):
        t.alloc(100 + i, n)                     # reuse from the lists
    t.alloc(501, 3 * MIB)                        # grows memory by doubling
    t.realloc(501, 5 * MIB)
    t.free(501)
    if too_large == "alloc":
        t.alloc(500, BLOCK_MAXSIZE + 1)
    elif too_large == "realloc":
        t.realloc(100, BLOCK_MAXSIZE + 1)
    return t


def stub_reallocs():
    """The stub's realloc rules: the newest block resizes in place, an older one keeps
    its address while the request fits and otherwise moves to twice its payload."""
    t = Trace("as-stub-reallocs")
    t.alloc(0, 100).alloc(1, 40)
    t.realloc(1, 30).realloc(1, 2000)           # newest: shrink, then grow, in place
    t.realloc(0, 105).realloc(0, 300)           # older: fits its payload, then moves
    t.free(0)                                   # the newest block: rolls back
    t.alloc(2, 10)
    t.free(1)                                   # not the newest: a hole
    t.alloc(3, 200 * KIB).realloc(3, 900 * KIB)
    return t


def top_of_memory():
    """Fill the stub's memory up to the last bytes below 4 GiB, where the stub's 32-bit
    arithmetic sees the memory's end as 0: then only a block ending in the top
    page fits, and shrinking and regrowing the newest block is still allowed."""
    heap = Heap.like("as-stub")
    big = BLOCK_MAXSIZE - 12
    for _ in range(3):
        heap.malloc(big)
    last = (1 << 32) - 20 - heap.allocator.top
    t = Trace("top-of-memory")
    for i in range(3):
        t.alloc(i, big)
    t.alloc(3, last).alloc(4, 1)
    t.realloc(3, last - 100).realloc(3, last).realloc(3, last - 70000).realloc(3, last - 60000)
    t.free(3)
    t.alloc(5, 100).alloc(6, last - 70000)
    return t


@pytest.mark.parametrize("module", MODULES)
def test_size_class_edges(module):
    module_or_skip(module)
    assert_exact(edges(), module)


@pytest.mark.parametrize("module", MODULES)
@pytest.mark.parametrize("op", ["alloc", "realloc"])
def test_too_large_request_traps_where_the_model_fails(module, op):
    module_or_skip(module)
    sim, real = assert_exact(edges(too_large=op), module)
    assert real.trap.index == len(real.trace) - 1 and not real.failures
    assert sim.failures[-1].index == real.trap.index


@pytest.mark.parametrize("module", MODULES)
def test_top_of_the_address_space(module):
    module_or_skip("as-stub")
    module_or_skip(module)
    assert_exact(top_of_memory(), module)


def test_stub_realloc_rules():
    module_or_skip("as-stub")
    assert_exact(stub_reallocs(), "as-stub")


# -- the models alone (no module needed) --------------------------------------


def churn_heap(name, seed, events=3000):
    """Random alloc/realloc/free on a model, checking invariants as it goes."""
    rng = random.Random(seed)
    h = Heap(name)
    live = []
    for k in range(events):
        r = rng.random()
        if live and r < 0.4:
            h.free(live.pop(rng.randrange(len(live))))
        elif live and r < 0.55:
            j = rng.randrange(len(live))
            live[j] = h.realloc(live[j], int(2 ** rng.uniform(0, 18)))
        else:
            live.append(h.malloc(int(2 ** rng.uniform(0, 18))))
        assert all(live) and all(p % 16 == 0 for p in live)
        if k % 100 == 0:
            h.check()
    h.check()
    return h, live


@pytest.mark.parametrize("name", MODULES)
def test_model_invariants_hold(name):
    churn_heap(name, seed=7)


def test_tlsf_freeing_everything_leaves_one_free_block():
    h, live = churn_heap("as-tlsf", seed=11)
    for p in live:
        h.free(p)
    h.check()
    free = [(s, n) for s, n, used in h.spans() if not used]
    tlsf = h.allocator
    # everything after ROOT is one free block again (then the tail header, free too)
    assert len(free) == 1 and free[0][0] + free[0][1] == h.memory.byte_length
    assert tlsf.fl_map and sum(map(len, tlsf.lists)) == 1


def test_tlsf_lazily_builds_root_on_first_call():
    h = Heap("as-tlsf", heap_base=65000, initial_pages=1)
    assert h.memory.pages == 1                  # nothing happens at start
    p = h.malloc(1)
    assert h.memory.pages >= 2                  # ROOT crosses the page: grown first
    assert p > h.allocator.root and p % 16 == 0
    h.check()


def test_stub_rolls_back_only_the_newest_block():
    h = Heap("as-stub")
    a, b = h.malloc(10), h.malloc(10)
    h.free(a)                                   # not the newest: a hole
    c = h.malloc(10)
    assert c > b
    h.free(c)                                   # the newest: its space comes back
    assert h.malloc(10) == c
    h.check()

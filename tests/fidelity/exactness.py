"""The fidelity check shared by tests/fidelity: a model against its real module, event by event.

Main entry point: `assert_exact(trace, module)`. It replays the trace on the
real module (wasmtime) and on the model started like it (`Heap.like`), and
fails at the first event where the returned address or the memory size
differ, naming the event, the expected (real) and simulated values, and the
model's heap layout around the address just before that event. `closeness`
measures how near a model comes where exactness is out of reach.
"""

import os

import pytest

from pyfrag import scenarios
from pyfrag.modules import UnknownModule, find
from pyfrag.replay import replay
from pyfrag.trace import FREE, REALLOC, Trace

MIB = 1 << 20

# -- finding the module -------------------------------------------------------


def module_or_skip(name):
    """The manifest entry of a real module; skip the test when it cannot be run here."""
    pytest.importorskip("wasmtime")
    try:
        entry = find(name)
    except (FileNotFoundError, UnknownModule) as e:
        pytest.skip(str(e))
    if not os.path.isfile(entry["path"]):
        pytest.skip(f"module {name}: {entry['path']} is not built")
    return entry


def can_align(entry):
    return "aligned_alloc" in entry.get("exports", ())


def generated(entry, events, seed):
    """A seeded random trace for fidelity: 1 B - 1 MiB, random lifetimes, 10% reallocs,
    5% aligned requests where the module can serve them."""
    return scenarios.random_trace(events, seed, min_size=1, max_size=MIB, live=150,
                                  realloc_rate=0.1,
                                  align_rate=0.05 if can_align(entry) else 0.0)

# -- comparing runs ---------------------------------------------------------------


def first_divergence(sim, real):
    """Index of the first event whose address or memory size differs, or None."""
    for i, (a, b, x, y) in enumerate(zip(real.addresses, sim.addresses,
                                         real.heap_bytes, sim.heap_bytes)):
        if a != b or x != y:
            return i
    if sim.events != real.events:
        return min(sim.events, real.events)
    return None


def closeness(sim, real):
    """(share of alloc/realloc events with the same address, final heap bytes error)."""
    ops = real.trace.ops
    asks = [i for i in range(min(sim.events, real.events)) if ops[i] != FREE]
    same = sum(real.addresses[i] == sim.addresses[i] for i in asks)
    return (same / len(asks) if asks else 1.0), sim.heap_bytes[-1] - real.heap_bytes[-1]


def prefix(trace, n):
    """The first n events of a trace, as a trace of their own."""
    out = Trace(f"{trace.name}[:{n}]", maximum=trace.maximum)
    for i in range(n):
        e = trace[i]
        if e.op == FREE:
            out.free(e.id)
        elif e.op == REALLOC:
            out.realloc(e.id, e.size)
        else:
            out.alloc(e.id, e.size, e.align)
    return out


def state_near(trace, module, i, addresses, radius=4):
    """The model's spans around `addresses`, replayed up to (not including) event i."""
    spans = replay(prefix(trace, i), like=module).spans or []
    lines = []
    for k, (start, length, used) in enumerate(spans):
        if any(start <= a < start + length for a in addresses if a):
            for s, n, u in spans[max(0, k - radius):k + radius + 1]:
                lines.append(f"    {s:#x} +{n} {'used' if u else 'free'}")
    return "\n".join(dict.fromkeys(lines)) or "    (no span holds those addresses)"


def describe(trace, module, sim, real, i):
    if i >= min(sim.events, real.events):
        return (f"{module}: runs end apart: real {real.events} events, "
                f"simulated {sim.events}")
    want, got = real.addresses[i], sim.addresses[i]
    return (f"{module}: first divergence at {trace.where(i)} ({trace[i]}): "
            f"expected address {want:#x}, simulated {got:#x}; memory expected "
            f"{real.heap_bytes[i]} bytes, simulated {sim.heap_bytes[i]}\n"
            f"  model heap before that event:\n{state_near(trace, module, i, (want, got))}")


def assert_exact(trace, module):
    """Fail unless the model returns every address and memory size the real module does."""
    from pyfrag.real import replay_real
    real = replay_real(trace, module)
    sim = replay(trace, like=module)
    if real.trap:
        # the module trapped where the model's request failed (AssemblyScript traps
        # instead of returning 0); the replay ended there, so compare up to it
        k = real.trap.index
        assert k in {f.index for f in sim.failures}, \
            f"{module}: trapped at {real.trap.describe()}, the model did not fail there"
        sim = replay(prefix(trace, k + 1), like=module)
    i = first_divergence(sim, real)
    if i is not None:
        pytest.fail(describe(trace, module, sim, real, i), pytrace=False)
    if not real.trap:
        assert real.reported_live == sum(sim.final_blocks.values())
    return sim, real

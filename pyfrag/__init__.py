"""pyfrag: a fragmentation lab for WebAssembly linear memory.

A WebAssembly heap cannot be compacted, so a long-running module can fail
`malloc` or `memory.grow` while most of its heap is free. pyfrag simulates
linear memory and the allocators that live in it, so you can see which
allocator, which pattern and which strategy lead there.

    >>> from pyfrag import Heap, scenarios
    >>> run = scenarios.swiss_cheese().replay("bump")
    >>> print(run.audit())
    Utilization: 97.66%
    Wasted (Fragmented): 36864 bytes

The public API is small: `Heap`, `Memory`, `Trace`, `replay`, `scenarios`,
`audit`, `explain`; `pyfrag.allocators.names()` lists the models.
"""

from . import allocators, explain, scenarios, strategies
from .audit import Exports, audit
from .heap import Heap, InvalidFree
from .memory import PAGE, Memory
from .replay import Failure, Issue, Run, replay
from .trace import Trace, TraceError

__version__ = "0.1.0"

__all__ = ["Heap", "InvalidFree", "Memory", "PAGE", "Trace", "TraceError", "Run",
           "Failure", "Issue", "replay", "scenarios", "strategies", "allocators", "audit",
           "Exports", "explain"]

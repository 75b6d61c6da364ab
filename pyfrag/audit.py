"""The article's utilization audit, for simulated heaps and runs.

Main entry points: `audit(heap_or_run)` prints nothing and returns the two
lines the article's JavaScript snippet logs:

    Utilization: NN.NN%
    Wasted (Fragmented): N bytes

and `Exports(heap_or_run)`, an object shaped like a module's
`instance.exports` (`memory.buffer.byteLength`, `get_live_data_size()`,
`live_bytes()`), so the snippet itself can run against a simulated heap.
"""

from decimal import ROUND_HALF_UP, Decimal

from .memory import PAGE


def to_fixed(x, digits=2):
    """JavaScript's Number.prototype.toFixed: rounds the exact binary value half up."""
    return str(Decimal(x).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def _sizes(source):
    """(live bytes, total heap bytes) of a Heap or a Run."""
    if hasattr(source, "memory"):
        return source.live_bytes, source.memory.pages * PAGE
    if not hasattr(source, "metrics"):
        raise TypeError(f"audit takes a Heap or a Run, not {type(source).__name__}")
    m = source.metrics
    return m.live_bytes, m.heap_bytes


def audit_lines(live, total):
    return [f"Utilization: {to_fixed(live / total * 100)}%",
            f"Wasted (Fragmented): {total - live} bytes"]


def audit(source):
    return "\n".join(audit_lines(*_sizes(source)))


class _Buffer:
    def __init__(self, byte_length):
        self.byteLength = byte_length


class _Memory:
    def __init__(self, source):
        self._source = source

    @property
    def buffer(self):
        return _Buffer(_sizes(self._source)[1])


class Exports:
    """Looks like `instance.exports` of a module built with the article's TrackingAllocator."""

    def __init__(self, source):
        self.memory = _Memory(source)
        self._source = source

    def get_live_data_size(self):
        return _sizes(self._source)[0]

    live_bytes = get_live_data_size

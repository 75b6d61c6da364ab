"""A per-event sequence that changes value at few events, kept as those changes.

Main entry point: `Steps(at, values, n)`. A run's heap size per event is such a
sequence: it moves only when memory grows, so a few grow points stand for
millions of events. `Steps` reads like the `array("q")` it replaces (len,
indexing, slicing to a real array, iteration, `max`, `tobytes`) without storing
8 bytes per event.
"""

import sys
from array import array
from bisect import bisect_right
from itertools import chain, repeat


class Steps:
    """values[k] from event at[k] up to the next change, for events 0 .. n - 1."""

    __slots__ = ("at", "values", "n")
    typecode, itemsize = "q", 8          # what a materialized slice holds

    def __init__(self, at, values, n):
        # keep the last value of each event and drop values that repeat the one before
        self.at, self.values, self.n = array("q"), array("q"), n
        for a, v in zip(at, values):
            if a >= n:
                break
            if self.at and self.at[-1] == a:
                del self.at[-1], self.values[-1]
            if not self.values or self.values[-1] != v:
                self.at.append(a)
                self.values.append(v)
        if n and (not self.at or self.at[0] != 0):
            raise ValueError("Steps: the first step must start at event 0")

    def __len__(self):
        return self.n

    def _runs(self, start, stop):
        """(value, count) for the events start .. stop - 1."""
        at, values = self.at, self.values
        k = bisect_right(at, start) - 1
        while start < stop:
            end = at[k + 1] if k + 1 < len(at) else self.n
            yield values[k], min(end, stop) - start
            start, k = end, k + 1

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(self.n)
            if step != 1:
                return self[:][index]
            out = array("q")
            for value, count in self._runs(start, stop):
                out.extend(array("q", [value]) * count)
            return out
        i = index + self.n if index < 0 else index
        if not 0 <= i < self.n:
            raise IndexError("Steps index out of range")
        return self.values[bisect_right(self.at, i) - 1]

    def __iter__(self):
        return chain.from_iterable(repeat(v, c) for v, c in self._runs(0, self.n))

    def first_difference(self, other, n):
        """The first event below n where this and `other` (a Steps) differ, or n: both are
        constant between their change points, so those are the only events to compare."""
        for event in sorted(set(self.at).union(other.at)):
            if event >= n:
                break
            if self[event] != other[event]:
                return event
        return n

    def changes(self, before):
        """Event indices where the value differs from the one before (`before` ahead of event 0)."""
        return [a for a, v in zip(self.at, self.values) if v != before or a]

    def tobytes(self):
        return self[:].tobytes()

    def tolist(self):
        return list(self)

    def __sizeof__(self):
        return object.__sizeof__(self) + sys.getsizeof(self.at) + sys.getsizeof(self.values)

    def __eq__(self, other):
        if isinstance(other, Steps):
            return (self.n, self.at, self.values) == (other.n, other.at, other.values)
        return isinstance(other, array) and self[:] == other

    def __repr__(self):
        return f"Steps({len(self.at)} steps over {self.n} events)"

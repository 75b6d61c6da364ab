"""The source line of each event of a trace read from a file, stored compactly.

Main entry point: `Lines`, set as `trace.lines` by the readers. Most files hold
one event a line after a short header, so the numbers are kept as runs of
consecutive lines (two ints a run) rather than one int an event: a plain
10 M-event trace costs a few bytes here instead of 80 MB. `lines[i]` is exact
however the events are spread over the file.
"""

from array import array
from bisect import bisect_right


class Lines:
    """A read-only sequence of line numbers, one per event, built by `append`/`run`."""

    __slots__ = ("starts", "firsts", "count", "next")

    def __init__(self):
        self.starts = array("q")     # event index where each run begins
        self.firsts = array("q")     # line number of that event
        self.count = 0
        self.next = None             # the line that would continue the last run

    def run(self, line, count=1):
        """Events on `count` consecutive lines, the first on `line`."""
        if count <= 0:
            return
        if line != self.next:
            self.starts.append(self.count)
            self.firsts.append(line)
        self.count += count
        self.next = line + count

    append = run          # one event, on `line`: called per line, so no second call

    def __len__(self):
        return self.count

    def __getitem__(self, i):
        if i < 0:
            i += self.count
        if not 0 <= i < self.count:
            raise IndexError("event index out of range")
        k = bisect_right(self.starts, i) - 1
        return self.firsts[k] + i - self.starts[k]

    def __iter__(self):
        ends = self.starts[1:] + array("q", [self.count])
        for start, end, first in zip(self.starts, ends, self.firsts):
            yield from range(first, first + end - start)

"""The trace model: one event model (alloc, free, realloc) held in parallel arrays.

Main entry point: `Trace` (build one in code); `TraceError` for input that cannot be read. The
readers and writers (pyfrag.trace.formats) build Traces; they import this module, never the
package. `Trace.replay` is the one upward call (pyfrag.replay), imported when used.
"""


from array import array
from dataclasses import dataclass

ALLOC, FREE, REALLOC = 0, 1, 2
OP_NAMES = ("alloc", "free", "realloc")


class TraceError(ValueError):
    """A trace that cannot be read: says where (file, line) and why."""

    def __init__(self, reason, file=None, line=None):
        self.reason, self.file, self.line = reason, file, line
        where = ":".join(str(x) for x in (file, line) if x is not None)
        super().__init__(f"{where}: {reason}" if where else reason)


@dataclass(frozen=True, slots=True)
class Event:
    op: int
    id: int
    size: int = 0
    align: int = 0
    tag: str | None = None

    def __str__(self):
        if self.op == FREE:
            return f"free {self.id}"
        extra = f" align={self.align}" if self.align else ""
        extra += f" tag={self.tag}" if self.tag else ""
        return f"{OP_NAMES[self.op]} {self.id} {self.size}{extra}"


MAX_SIZE = 1 << 48   # larger than any memory, small enough to stay exact everywhere


def _bad_size(op, id, size):
    return ValueError(f"{op} {id}: size must be >= 0 and below 2**48 (larger than any "
                      f"memory), got {size}")


class Trace:
    """An ordered list of allocation events (see the module docstring).

    >>> t = Trace("demo").alloc(1, 1024, tag="anchor").alloc(2, 100_000).free(2)
    >>> len(t), t.counts(), str(t[0])
    (3, {'alloc': 2, 'free': 1, 'realloc': 0}, 'alloc 1 1024 tag=anchor')
    >>> t.replay("dlmalloc").live_bytes[-1]
    1024
    """

    def __init__(self, name="trace", description="", maximum=None):
        self.name = name
        self.description = description
        # Memory limit the trace was designed for (pages, or a name such as
        # "512mib"); None means the allocator's default.
        self.maximum = maximum
        self.ops = array("b")
        self.ids = array("q")
        self.sizes = array("q")
        self.aligns = {}
        self.tags = {}
        self.lines = None        # a trace.lines.Lines when read from a file
        self.source = None       # file name when read from a file
        self.skipped = 0         # input lines a reader passed over (valgrind logs)
        self.recorded = None     # a trace.recording.Recording when recorded from a real run

    # -- building ---------------------------------------------------------

    def alloc(self, id, size, align=0, tag=None):
        if not 0 <= size < MAX_SIZE:
            raise _bad_size("alloc", id, size)
        if align:
            if align < 0 or align & (align - 1):
                raise ValueError(f"alloc {id}: align must be a power of two, got {align}")
            self.aligns[len(self.ops)] = align
        if tag:
            self.tags[len(self.ops)] = tag
        self.ops.append(ALLOC)
        self.ids.append(id)
        self.sizes.append(size)
        return self

    def free(self, id):
        self.ops.append(FREE)
        self.ids.append(id)
        self.sizes.append(0)
        return self

    def realloc(self, id, size, tag=None):
        if not 0 <= size < MAX_SIZE:
            raise _bad_size("realloc", id, size)
        if tag:
            self.tags[len(self.ops)] = tag
        self.ops.append(REALLOC)
        self.ids.append(id)
        self.sizes.append(size)
        return self

    # -- reading ----------------------------------------------------------

    def extend(self, other, start=0, end=None):
        """Append events [start, end) of `other`, with their alignments and tags."""
        end = len(other) if end is None else end
        offset = len(self.ops) - start
        self.ops.extend(other.ops[start:end])
        self.ids.extend(other.ids[start:end])
        self.sizes.extend(other.sizes[start:end])
        for sparse, mine in ((other.aligns, self.aligns), (other.tags, self.tags)):
            mine.update((i + offset, v) for i, v in sparse.items() if start <= i < end)
        return self

    def __len__(self):
        return len(self.ops)

    def __getitem__(self, i):
        if i < 0:
            i += len(self.ops)
        return Event(self.ops[i], self.ids[i], self.sizes[i],
                     self.aligns.get(i, 0), self.tags.get(i))

    def __iter__(self):
        for i in range(len(self.ops)):
            yield self[i]

    def where(self, i):
        """'file:line' (or 'event N') of event i, for messages."""
        if self.lines is not None:
            return f"{self.source}:{self.lines[i]}"
        return f"event {i}"

    def counts(self):
        return {name: self.ops.count(op) for op, name in enumerate(OP_NAMES)}

    def replay(self, allocator=None, **options):
        """Replay this trace on an allocator: see `pyfrag.replay`."""
        from ..replay import replay
        return replay(self, allocator, **options)

    def __repr__(self):
        return f"<Trace {self.name!r}: {len(self)} events>"

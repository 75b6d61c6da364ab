"""The CS:APP malloc-lab trace format (.rep).

    20000      suggested heap size (ignored)
    2          number of block ids
    4          number of operations
    1          weight (ignored)
    a 0 512    alloc id bytes
    r 0 640    realloc id bytes
    a 1 128
    f 1        free id

Writing renumbers blocks so that each allocation gets an id of its own (the
lab's drivers expect ids 0..n-1, never reused); alignments and tags are lost.
"""

import itertools

from .model import ALLOC, FREE, Trace, TraceError
from .fields import parse_id, parse_int, parse_size, shown
from .lines import Lines
from .stream import events, joined, parse

_HEADER = ("suggested heap size", "number of ids", "number of operations", "weight")


def read(pieces, source):
    trace, header = Trace(), []
    trace.lines = numbers = Lines()

    def lines(pairs):
        for n, raw in pairs:
            line = raw.strip()
            if not line:
                continue
            if len(header) < 4:
                what = _HEADER[len(header)]
                if len(line.split()) != 1:
                    raise TraceError(f"header line {len(header) + 1} must be one integer "
                                     f"({what}), got {shown(line)}", source, n)
                header.append(parse_int(line, what, source, n))
                continue
            parts = line.split()
            op = parts[0]
            want = {"a": 3, "r": 3, "f": 2}.get(op)
            if want is None:
                raise TraceError(f"unknown operation {shown(op)} (expected a, r or f)", source, n)
            if len(parts) != want:
                raise TraceError(f"'{op}' takes {want - 1} field(s), got {len(parts) - 1}",
                                 source, n)
            id = parse_id(parts[1], source, n, minimum=0)
            if op == "f":
                trace.free(id)
            elif op == "a":
                trace.alloc(id, parse_size(parts[2], source, n))
            else:
                trace.realloc(id, parse_size(parts[2], source, n))
            numbers.append(n)

    # the header is read line by line; the operations after it in blocks
    parse(pieces, lambda data, n: len(header) == 4 and events(data, trace, n, min_id=0), lines)
    if len(header) < 4:
        raise TraceError(f"the 4-line header is incomplete: missing {_HEADER[len(header)]}",
                         source, None)
    if header[2] != len(numbers):
        raise TraceError(f"header says {header[2]} operations, the file has {len(numbers)}",
                         source, None)
    return trace


def write(trace):
    """The trace as text pieces: the header needs a first pass over the events."""
    totals = {}
    for _ in _renumbered(trace, totals):
        pass
    header = (str(totals["peak"]), str(totals["issued"]), str(len(trace)), "1")
    return joined(itertools.chain(header, (
        f"f {id}" if op == FREE else f"{'a' if op == ALLOC else 'r'} {id} {size}"
        for op, id, size in _renumbered(trace, totals))))


def _renumbered(trace, totals):
    """(op, lab id, size) of each event; at the end, `totals` holds the peak live
    bytes and the number of ids issued."""
    ids, sizes = {}, {}
    issued = live = peak = 0
    for op, id, size in zip(trace.ops, trace.ids, trace.sizes):
        if op == ALLOC or id not in ids:
            ids[id] = issued          # every block lifetime (even a stray free's) gets its own
            issued += 1
        live += (0 if op == FREE else size) - sizes.pop(id, 0)
        peak = max(peak, live)
        if op == FREE:
            yield op, ids.pop(id), 0
        else:
            sizes[id] = size
            yield op, ids[id], size
    totals.update(peak=peak, issued=issued)

"""Allocation traces: one event model, many file formats.

Main entry points: `Trace` (build one in code), `load(path)` and `dump(trace,
path)` (files in any known format). A trace is plain data held in parallel
arrays, one slot per event, so replaying a million events costs no objects:

    op     ALLOC / FREE / REALLOC
    id     the caller's name for the block (any int, reused after a free)
    size   bytes requested (0 for FREE)
    align  sparse: event index -> alignment, for aligned requests only
    tag    sparse: event index -> a short label ("anchor", "temp", ...)
    line   source line of each event when read from a file (for messages),
           kept as runs of consecutive lines (trace.lines.Lines)

Malformed input raises `TraceError` naming the file, the line and the reason.
"""

from .formats import FORMATS, detect, dump, dumps, load, loads
from .model import ALLOC, FREE, REALLOC, Event, Trace, TraceError

__all__ = ["ALLOC", "FREE", "REALLOC", "Event", "Trace", "TraceError",
           "FORMATS", "detect", "load", "loads", "dump", "dumps"]

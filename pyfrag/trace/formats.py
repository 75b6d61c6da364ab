"""Trace file formats: which reader/writer handles which file.

Main entry points: `load(path)`, `loads(text)`, `dump(trace, path)`,
`dumps(trace)`. Each format is a module with `read(lines, source) -> Trace`
(lines are (number, text) pairs) and, where writing makes sense,
`write(trace) -> str`. Rules every format follows here: a file with no events
is an error that says what it holds instead, and `dump` replaces its output
file whole or not at all.

    pyfrag     our own text format (.trace, .txt)       read + write
    jsonl      JSON lines, one event object a line      read + write
    rep        CS:APP malloc-lab traces (.rep)          read + write
    valgrind   `valgrind --trace-malloc=yes` logs       read only
"""

import os
import tempfile

from . import TraceError, jsonl, rep, text, valgrind
from .fields import shown

FORMATS = {"pyfrag": text, "jsonl": jsonl, "rep": rep, "valgrind": valgrind}
_EXTENSIONS = {".trace": "pyfrag", ".txt": "pyfrag", ".jsonl": "jsonl",
               ".json": "jsonl", ".rep": "rep", ".log": "valgrind",
               ".valgrind": "valgrind"}


def detect(content, filename=None):
    """Guess the format from the content first, the file extension second."""
    for line in content.splitlines():
        s = line.strip()
        if not s:
            continue
        if s.startswith("{"):
            return "jsonl"
        if s.startswith("==") or s.startswith("--") and "--" in s[2:]:
            return "valgrind"
        if s.startswith("#"):
            if s.startswith("# pyfrag"):
                return "pyfrag"
            continue
        if s.split()[0].isdigit():
            return "rep"          # malloc-lab header starts with a number
        break
    if filename:
        ext = os.path.splitext(filename)[1].lower()
        if ext in _EXTENSIONS:
            return _EXTENSIONS[ext]
    return "pyfrag"


def _format(name, source):
    if name not in FORMATS:
        raise TraceError(f"unknown trace format {name!r}; known: {', '.join(FORMATS)}",
                         source)
    return FORMATS[name]


def loads(content, format=None, source="<string>", pid=None):
    """A trace from text. `pid` picks one process of a valgrind log."""
    name = format or detect(content, source)
    fmt = _format(name, source)
    if pid is None:
        trace = fmt.read(enumerate(content.splitlines(), 1), source)
    elif fmt is valgrind:
        trace = fmt.read(enumerate(content.splitlines(), 1), source, pid=pid)
    else:
        raise TraceError(f"a process id (--pid) applies to valgrind logs, not to the "
                         f"{name} format", source)
    if not len(trace):
        raise TraceError(f"no allocation events: {_found(content, name)}", source)
    trace.source = source
    return trace


def _found(content, name):
    """What a trace without events holds instead, for the error message."""
    if not content:
        return "the input is empty"
    lines = (line for line in content.splitlines() if line.strip())
    first = next(lines, None)
    if first is None:
        return "only blank lines"
    count = 1 + sum(1 for _ in lines)
    what = {"valgrind": "none of them a --trace-malloc=yes allocator call",
            "rep": "only the 4-line header"}.get(name, "none of them an event")
    return (f"{count} non-blank line{'s' if count > 1 else ''} read as {name}, "
            f"{what} (first: {shown(first.strip())})")


def load(path, format=None, pid=None):
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            content = f.read()
    except UnicodeDecodeError as e:
        raise TraceError(f"not a text file ({e.reason} at byte {e.start})", path) from None
    except OSError as e:
        raise TraceError(e.strerror or str(e), path) from None
    trace = loads(content, format, path, pid)
    if trace.name == "trace":
        trace.name = os.path.splitext(os.path.basename(path))[0]
    return trace


def dumps(trace, format="pyfrag"):
    fmt = _format(format, None)
    if not hasattr(fmt, "write"):
        raise TraceError(f"the {format} format can be read but not written")
    return fmt.write(trace)


def dump(trace, path, format=None):
    """Write `trace` to `path`: through a temporary file beside it, renamed over `path`
    once complete, so a failure leaves no partial file."""
    path = os.fspath(path)
    format = format or _EXTENSIONS.get(os.path.splitext(path)[1].lower(), "pyfrag")
    try:
        data = dumps(trace, format).encode("utf-8")
    except UnicodeEncodeError as e:
        raise TraceError(f"cannot be written as UTF-8 ({e.reason} at character {e.start})",
                         path) from None
    folder, base = os.path.split(os.path.abspath(path))
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{base}.", suffix=".part", dir=folder)
    except OSError as e:
        raise TraceError(e.strerror or str(e), path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(temp, path)
    except BaseException as e:
        os.unlink(temp)
        if isinstance(e, OSError):
            raise TraceError(e.strerror or str(e), path) from None
        raise

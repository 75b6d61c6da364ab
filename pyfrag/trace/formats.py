"""Trace file formats: which reader/writer handles which file.

Main entry points: `load(path)`, `loads(text)`, `dump(trace, path)`,
`dumps(trace)`. Each format is a module with `read(pieces, source) -> Trace`
(the input's text in pieces cut after a newline: see trace.stream, which
files are read with, 64 KiB at a time) and, where writing makes sense,
`write(trace)`, the text in pieces (`dump` writes them as they come). Rules
every format follows here: a file with no events is an error that says what
it holds instead, and `dump` replaces its output file whole or not at all.

    pyfrag     our own text format (.trace, .txt)       read + write
    jsonl      JSON lines, one event object a line      read + write
    rep        CS:APP malloc-lab traces (.rep)          read + write
    valgrind   `valgrind --trace-malloc=yes` logs       read only
"""

import itertools
import os
import re
import sys
import tempfile

from . import jsonl, rep, text, valgrind
from .model import TraceError
from .fields import shown
from .stream import file_pieces, text_pieces

FORMATS = {"pyfrag": text, "jsonl": jsonl, "rep": rep, "valgrind": valgrind}
EXTENSIONS = {".trace": "pyfrag", ".txt": "pyfrag", ".jsonl": "jsonl",
              ".json": "jsonl", ".rep": "rep", ".log": "valgrind",
              ".valgrind": "valgrind"}


_NONBLANK = re.compile(r"^[^\S\n]*\S.*$", re.M)


def detect(content, filename=None):
    """Guess the format from the content first, the file extension second."""
    return _sniff(content) or _by_extension(filename)


def _sniff(content):
    """The format the first telling line of `content` shows; False if a line
    shows none (go by extension), None if no line tells (look further)."""
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
        return False
    return None


def _by_extension(filename):
    if filename:
        ext = os.path.splitext(filename)[1].lower()
        if ext in EXTENSIONS:
            return EXTENSIONS[ext]
    return "pyfrag"


def _format(name, source):
    if name not in FORMATS:
        raise TraceError(f"unknown trace format {name!r}; known: {', '.join(FORMATS)}",
                         source)
    return FORMATS[name]


def loads(content, format=None, source="<string>", pid=None):
    """A trace from text. `pid` picks one process of a valgrind log."""
    return _read(text_pieces(content), format, source, pid)


def _read(pieces, format, source, pid):
    """A trace from `pieces`, an iterator over the input's text, read once (a pipe cannot
    be read again): what it held is noted on the way through, for the no-events message."""
    stream = tally = _Seen(pieces)
    name = format
    if name is None:
        seen = []                 # pieces read to find the format, read again below
        for piece in stream:
            seen.append(piece)
            name = _sniff(piece)
            if name is not None:
                break
        name = name or _by_extension(source)
        stream = itertools.chain(seen, stream)
    fmt = _format(name, source)
    if pid is None:
        trace = fmt.read(stream, source)
    elif fmt is valgrind:
        trace = fmt.read(stream, source, pid=pid)
    else:
        raise TraceError(f"a process id (--pid) applies to valgrind logs, not to the "
                         f"{name} format", source)
    if not len(trace):
        raise TraceError(f"no allocation events: {_found(*tally.held(), name)}", source)
    trace.source = source
    return trace


class _Seen:
    """The input's pieces, passed on unchanged, noting what they held: whether anything,
    how many lines and the first non-blank one (for the no-events message). Counted at
    C speed, so every input is read once whatever it holds."""

    def __init__(self, pieces):
        self.pieces, self.empty, self.lines, self.first = pieces, True, 0, None

    def __iter__(self):
        for piece in self.pieces:
            if piece:
                self.empty = False
                self.lines += piece.count("\n", 0, len(piece) - 1) + 1   # pieces end after a newline
                if self.first is None:
                    line = _NONBLANK.search(piece)
                    self.first = line and line.group()
            yield piece

    def held(self):
        for _ in self:          # whatever the reader left unread
            pass
        return self.empty, self.lines, self.first


def _found(empty, lines, first, name):
    """What a trace without events holds instead, for the error message."""
    if empty:
        return "the input is empty"
    if first is None:
        return "only blank lines"
    what = {"valgrind": "none of them a --trace-malloc=yes allocator call",
            "rep": "only the 4-line header"}.get(name, "none of them an event")
    return (f"{lines} line{'s' if lines > 1 else ''} read as {name}, "
            f"{what} (first: {shown(first.strip())})")


def load(path, format=None, pid=None):
    """A trace from a file, read in pieces (see trace.stream)."""
    path = os.fspath(path)
    trace = _read(file_pieces(path), format, path, pid)
    if trace.name == "trace":
        trace.name = os.path.splitext(os.path.basename(path))[0]
    return trace


def dumps(trace, format="pyfrag"):
    return "".join(_writer(format)(trace))


def _writer(format):
    fmt = _format(format, None)
    if not hasattr(fmt, "write"):
        raise TraceError(f"the {format} format can be read but not written")
    return fmt.write


def dump(trace, path, format=None):
    """Write `trace` to `path` piece by piece: through a temporary file beside it,
    renamed over `path` once complete, so a failure leaves no partial file. A `path`
    of "-" is standard output, written as the pieces come."""
    path = os.fspath(path)
    format = format or EXTENSIONS.get(os.path.splitext(path)[1].lower(), "pyfrag")
    pieces = _writer(format)(trace)
    if path == "-":
        _write(pieces, sys.stdout.buffer, "<stdout>")
        sys.stdout.buffer.flush()
        return
    folder, base = os.path.split(os.path.abspath(path))
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{base}.", suffix=".part", dir=folder)
    except OSError as e:
        raise TraceError(e.strerror or str(e), path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            _write(pieces, f, path)
        os.replace(temp, path)
    except BaseException as e:
        os.unlink(temp)
        if isinstance(e, OSError):
            raise TraceError(e.strerror or str(e), path) from None
        raise


def _write(pieces, f, path):
    at = 0                            # characters written, for the message
    for piece in pieces:
        try:
            f.write(piece.encode("utf-8"))
        except UnicodeEncodeError as e:
            raise TraceError(f"cannot be written as UTF-8 ({e.reason} at character "
                             f"{at + e.start})", path) from None
        at += len(piece)

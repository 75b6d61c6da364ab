"""Trace file formats: which reader/writer handles which file.

Main entry points: `load(path)`, `loads(text)`, `dump(trace, path)`,
`dumps(trace)`. Each format is a module with `read(lines, source) -> Trace`
(lines are (number, text) pairs) and, where writing makes sense,
`write(trace) -> str`.

    pyfrag     our own text format (.trace, .txt)       read + write
    jsonl      JSON lines, one event object a line      read + write
    rep        CS:APP malloc-lab traces (.rep)          read + write
    valgrind   `valgrind --trace-malloc=yes` logs       read only
"""

import os

from . import TraceError, jsonl, rep, text, valgrind

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


def loads(content, format=None, source="<string>"):
    fmt = _format(format or detect(content, source), source)
    trace = fmt.read(enumerate(content.splitlines(), 1), source)
    trace.source = source
    return trace


def load(path, format=None):
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            content = f.read()
    except UnicodeDecodeError as e:
        raise TraceError(f"not a text file ({e.reason} at byte {e.start})", path) from None
    except OSError as e:
        raise TraceError(e.strerror or str(e), path) from None
    trace = loads(content, format, path)
    if trace.name == "trace":
        trace.name = os.path.splitext(os.path.basename(path))[0]
    return trace


def dumps(trace, format="pyfrag"):
    fmt = _format(format, None)
    if not hasattr(fmt, "write"):
        raise TraceError(f"the {format} format can be read but not written")
    return fmt.write(trace)


def dump(trace, path, format=None):
    path = os.fspath(path)
    format = format or _EXTENSIONS.get(os.path.splitext(path)[1].lower(), "pyfrag")
    content = dumps(trace, format)
    with open(path, "w", encoding="utf-8") as f:
        f.write(content)

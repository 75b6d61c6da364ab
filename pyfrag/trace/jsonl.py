"""JSON lines: one event object a line, easy to produce from any language.

    {"trace": "swiss-cheese", "description": "...", "maximum": "512mib"}   optional first line
    {"op": "alloc", "id": 1, "size": 1024, "align": 16, "tag": "anchor"}
    {"op": "free", "id": 1}
    {"op": "realloc", "id": 1, "size": 2048}
"""

import json

from .model import ALLOC, FREE, OP_NAMES, Trace, TraceError
from .fields import json_text, parse_align, parse_id, parse_maximum, parse_size, shown
from .lines import Lines
from .stream import events, joined, parse

_FIELDS = {"op", "id", "size", "align", "tag"}


def _int_field(obj, key, source, n):
    value = obj.get(key)
    if type(value) is not int:
        raise TraceError(f"field {key!r} must be an integer, got {shown(value)}", source, n)
    return value


def read(pieces, source):
    trace = Trace()
    trace.lines = numbers = Lines()

    def lines(pairs):
        for n, raw in pairs:
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as e:
                raise TraceError(f"not valid JSON ({e.msg} at column {e.colno})",
                                 source, n) from None
            except ValueError as e:        # an integer past Python's 4300-digit limit
                raise TraceError(f"not a usable JSON value ({e})", source, n) from None
            except RecursionError:
                raise TraceError("not a usable JSON value (nested too deeply)", source, n) from None
            if not isinstance(obj, dict):
                raise TraceError("each line must be a JSON object", source, n)
            if "trace" in obj and "op" not in obj:
                for key in ("trace", "description"):
                    if not isinstance(obj.get(key, ""), str):
                        raise TraceError(f"field {key!r} must be a string, got {shown(obj[key])}",
                                         source, n)
                trace.name, trace.description = obj["trace"], obj.get("description", "")
                if obj.get("maximum") is not None:
                    trace.maximum = parse_maximum(obj["maximum"], source, n)
                continue
            unknown = set(obj) - _FIELDS
            if unknown:
                raise TraceError(f"unknown field {shown(sorted(unknown)[0])}", source, n)
            op = obj.get("op")
            if op not in OP_NAMES:
                raise TraceError(f"field 'op' must be one of {', '.join(OP_NAMES)}, got "
                                 f"{shown(op)}", source, n)
            id = parse_id(str(_int_field(obj, "id", source, n)), source, n)
            if op == "free":
                trace.free(id)
            else:
                size = parse_size(str(_int_field(obj, "size", source, n)), source, n)
                tag = obj.get("tag")
                if tag is not None and not isinstance(tag, str):
                    raise TraceError(f"field 'tag' must be a string, got {shown(tag)}", source, n)
                if op == "alloc":
                    align = obj.get("align", 0)
                    if align:
                        align = parse_align(str(_int_field(obj, "align", source, n)), source, n)
                    trace.alloc(id, size, align, tag)
                else:
                    trace.realloc(id, size, tag)
            numbers.append(n)

    parse(pieces, lambda data, n: _fast(data, trace, n), lines)
    return trace


# The lines `write` gives an event without align or tag, and what `events` reads
# them as; a block of only such lines is read at C speed.
_HEADS = ((b'{"op": "alloc", "id": ', b"a "), (b'{"op": "free", "id": ', b"f "),
          (b'{"op": "realloc", "id": ', b"r "))
_SIZE = b', "size": '


def _fast(data, trace, n):
    """`data` rewritten as pyfrag event lines for `events`, if every line is
    `{"op": OP, "id": ID}` or `{"op": OP, "id": ID, "size": SIZE}` exactly: each
    line opens with a head and ends with "}", and every space is one of theirs, so
    what is left between them is numbers (which `events` checks)."""
    lines = data.count(b"\n")
    if (data.count(b" ") != 3 * lines + 2 * data.count(_SIZE)      # first: a tag fails here
            or sum(data.count(head) for head, _ in _HEADS) != lines
            or data.count(b"}\n") != lines):
        return False
    for head, short in _HEADS:
        data = data.replace(head, short)
    return events(data.replace(_SIZE, b" ").replace(b"}\n", b"\n"), trace, n)


def write(trace):
    """The trace as text pieces (see trace.stream.joined)."""
    return joined(_lines(trace))


def _lines(trace):
    yield json_text({"trace": trace.name, "description": trace.description,
                     "maximum": trace.maximum}, "the header")
    for i, (op, id, size) in enumerate(zip(trace.ops, trace.ids, trace.sizes)):
        obj = {"op": OP_NAMES[op], "id": id}
        if op != FREE:
            obj["size"] = size
            if op == ALLOC and i in trace.aligns:
                obj["align"] = trace.aligns[i]
            if i in trace.tags:
                json_text(trace.tags[i], f"the tag of event {i}")   # refuses what JSON loses
                obj["tag"] = trace.tags[i]
        yield json.dumps(obj)

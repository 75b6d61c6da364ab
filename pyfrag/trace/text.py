"""pyfrag's own trace format: one event a line, made to be read and written by hand.

    # pyfrag trace v1
    # name: swiss-cheese
    # maximum: 512mib
    a 1 1024 tag=anchor        alloc id size [align=N] [tag=WORD]
    a 2 102400 tag=temp
    f 2                        free id
    r 1 2048                   realloc id size [tag=WORD]
    a 3 10 tag="two words"     a tag (or name, description) that is not one
                               printable word is a JSON string

Blank lines and other `#` comments are ignored; `# key: value` lines set the
trace's name, description and memory maximum. The writer quotes every tag and
header value that would not read back as written, so write -> read keeps them.

A recorded trace (pyfrag record, web/recorder.js) also keeps what the app saw:
`addr=` (address returned) and `mem=` (memory bytes after the call) on every
alloc and realloc, and the header keys heap_base, initial_pages, module and
allocator (see trace/recording.py).
"""

import json
import re

from .model import ALLOC, FREE, Trace, TraceError
from .fields import json_text, parse_align, parse_id, parse_int, parse_maximum, parse_size, shown
from .lines import Lines
from ..memory import PAGE
from .recording import Recording
from .stream import events, joined, parse

HEADER = "# pyfrag trace v1"
_META = ("name", "description", "maximum")
_RECORDED_META = ("heap_base", "initial_pages", "module", "allocator")
# one `key=value` option after the size; the value is a word or a JSON string
_OPTION = re.compile(r'\s*([^\s=]*)=("(?:[^"\\]|\\.)*"|\S*)')


def _plain(text):
    """True when `text` reads back as itself unquoted: one printable word."""
    return text.isprintable() and text.split() == [text] and text[0] != '"'


def quoted(text, what):
    return text if _plain(text) else json_text(text, what)


def _unquote(value, what, source, n):
    if not value.startswith('"'):
        return value
    try:
        text = json.loads(value)
    except ValueError:
        text = None
    if not isinstance(text, str):
        raise TraceError(f"{what} is not a valid JSON string: {shown(value)}", source, n)
    return text


def _options(rest, source, n):
    """(key, value) pairs of the options after an event's size."""
    if '"' not in rest:
        return [opt.partition("=")[::2] if "=" in opt else (opt, None) for opt in rest.split()]
    out, pos = [], 0
    while pos < len(rest) and not rest[pos:].isspace():
        m = _OPTION.match(rest, pos)
        if not m:
            raise TraceError(f"unknown field {shown(rest[pos:].split()[0])} "
                             "(expected align=N or tag=WORD)", source, n)
        out.append((m[1], _unquote(m[2], f"field {shown(m[1])}", source, n)))
        pos = m.end()
    return out


def read(pieces, source):
    trace = Trace()
    trace.lines = numbers = Lines()
    add_alloc, add_free, add_realloc = trace.alloc, trace.free, trace.realloc
    recorded, recorded_meta = {}, {}     # event index -> (addr, mem); header keys

    def lines(pairs):
        for n, raw in pairs:
            line = raw.strip()
            if not line:
                continue
            if line[0] == "#":
                key, sep, value = line[1:].partition(":")
                key = key.strip().lower()
                if sep and key in _META:
                    value = value.strip()
                    if key == "maximum":
                        trace.maximum = parse_maximum(value, source, n)
                    else:
                        setattr(trace, key, _unquote(value, key, source, n))
                elif sep and key in _RECORDED_META:
                    value = value.strip()
                    recorded_meta[key] = (parse_int(value, key, source, n)
                                          if key in ("heap_base", "initial_pages")
                                          else _unquote(value, key, source, n))
                continue
            parts = line.split(None, 3)
            op = parts[0].lower()
            if op in ("a", "alloc", "r", "realloc"):
                if len(parts) < 3:
                    raise TraceError(f"{op} needs an id and a size: '{op[0]} ID SIZE'", source, n)
                align, tag = 0, None
                for key, value in _options(parts[3] if len(parts) == 4 else "", source, n):
                    if key == "align" and value is not None and op[0] == "a":
                        align = parse_align(value, source, n)
                    elif key == "tag" and value is not None:
                        tag = value
                    elif not _recorded_field(key, value, recorded, len(trace), source, n):
                        want = "align=N, tag=WORD" if op[0] == "a" else "tag=WORD"
                        want += ", addr=N or mem=N"
                        field = key if value is None else f"{key}={value}"
                        raise TraceError(f"unknown field {shown(field)} (expected {want})",
                                         source, n)
                id, size = parse_id(parts[1], source, n), parse_size(parts[2], source, n)
                if op[0] == "a":
                    add_alloc(id, size, align, tag)
                else:
                    add_realloc(id, size, tag)
            elif op in ("f", "free"):
                if len(parts) != 2:
                    raise TraceError("free takes exactly an id: 'f ID'", source, n)
                add_free(parse_id(parts[1], source, n))
            else:
                raise TraceError(f"unknown event {shown(parts[0])} (expected a, f or r)", source, n)
            numbers.append(n)

    parse(pieces, lambda data, n: events(data, trace, n), lines)
    if recorded:
        trace.recorded = _recording(trace, recorded, recorded_meta, source)
    return trace


def write(trace):
    """The trace as text pieces (see trace.stream.joined)."""
    return joined(_lines(trace))


def _lines(trace):
    yield HEADER
    yield f"# name: {quoted(str(trace.name), 'the name')}"
    if trace.description:
        yield f"# description: {quoted(str(trace.description), 'the description')}"
    if trace.maximum is not None:
        yield f"# maximum: {trace.maximum}"
    recorded = trace.recorded
    if recorded is not None:
        yield from (f"# {key}: {quoted(str(getattr(recorded, key)), key)}"
                    for key in _RECORDED_META if getattr(recorded, key) is not None)
    aligns, tags = trace.aligns, trace.tags
    for i, (op, id, size) in enumerate(zip(trace.ops, trace.ids, trace.sizes)):
        if op == FREE:
            yield f"f {id}"
            continue
        line = f"{'a' if op == ALLOC else 'r'} {id} {size}"
        if i in aligns:
            line += f" align={aligns[i]}"
        if i in tags:
            line += f" tag={quoted(tags[i], f'the tag of event {i}')}"
        if recorded is not None:
            line += f" addr={recorded.addresses[i]} mem={recorded.memory_bytes[i]}"
        yield line


def _recorded_field(key, value, recorded, index, source, n):
    """Store an addr=/mem= field of event `index`; False if `key` is neither."""
    if value is None or key not in ("addr", "mem"):
        return False
    addr, mem = recorded.get(index, (None, None))
    number = parse_int(value, key, source, n)
    recorded[index] = (number, mem) if key == "addr" else (addr, number)
    return True


def _recording(trace, recorded, meta, source):
    """The `Recording` of a trace whose allocs and reallocs all carry addr= and mem=."""
    rec = Recording(**meta)
    mem = (meta.get("initial_pages") or 0) * PAGE
    for i, op in enumerate(trace.ops):
        if op == FREE:
            rec.add(0, mem)
            continue
        addr, mem = recorded.get(i, (None, None))
        if addr is None or mem is None:
            raise TraceError("a recorded trace needs addr=N and mem=N on every alloc and "
                             "realloc", source, trace.lines[i])
        rec.add(addr, mem)
    return rec

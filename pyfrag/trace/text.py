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
"""

import json
import re
from array import array

from . import ALLOC, FREE, Trace, TraceError
from .fields import json_text, parse_align, parse_id, parse_maximum, parse_size, shown

HEADER = "# pyfrag trace v1"
_META = ("name", "description", "maximum")
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


def read(lines, source):
    trace = Trace()
    numbers = array("l")
    add_alloc, add_free, add_realloc = trace.alloc, trace.free, trace.realloc
    for n, raw in lines:
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
                else:
                    want = "align=N or tag=WORD" if op[0] == "a" else "tag=WORD"
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
    trace.lines = numbers
    return trace


def write(trace):
    out = [HEADER, f"# name: {quoted(str(trace.name), 'the name')}"]
    if trace.description:
        out.append(f"# description: {quoted(str(trace.description), 'the description')}")
    if trace.maximum is not None:
        out.append(f"# maximum: {trace.maximum}")
    aligns, tags = trace.aligns, trace.tags
    for i, (op, id, size) in enumerate(zip(trace.ops, trace.ids, trace.sizes)):
        if op == FREE:
            out.append(f"f {id}")
            continue
        line = f"{'a' if op == ALLOC else 'r'} {id} {size}"
        if i in aligns:
            line += f" align={aligns[i]}"
        if i in tags:
            line += f" tag={quoted(tags[i], f'the tag of event {i}')}"
        out.append(line)
    return "\n".join(out) + "\n"

"""pyfrag's own trace format: one event a line, made to be read and written by hand.

    # pyfrag trace v1
    # name: swiss-cheese
    # maximum: 512mib
    a 1 1024 tag=anchor        alloc id size [align=N] [tag=WORD]
    a 2 102400 tag=temp
    f 2                        free id
    r 1 2048                   realloc id size [tag=WORD]

Blank lines and other `#` comments are ignored; `# key: value` lines set the
trace's name, description and memory maximum.
"""

from array import array

from . import ALLOC, FREE, Trace, TraceError
from .fields import parse_align, parse_id, parse_size

HEADER = "# pyfrag trace v1"
_META = ("name", "description", "maximum")


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
                setattr(trace, key, value.strip())
            continue
        parts = line.split()
        op = parts[0].lower()
        if op in ("a", "alloc"):
            if len(parts) < 3:
                raise TraceError("alloc needs an id and a size: 'a ID SIZE'", source, n)
            align, tag = 0, None
            for opt in parts[3:]:
                key, sep, value = opt.partition("=")
                if key == "align" and sep:
                    align = parse_align(value, source, n)
                elif key == "tag" and sep:
                    tag = value
                else:
                    raise TraceError(f"unknown field {opt!r} (expected align=N or tag=WORD)",
                                     source, n)
            add_alloc(parse_id(parts[1], source, n),
                      parse_size(parts[2], source, n), align, tag)
        elif op in ("f", "free"):
            if len(parts) != 2:
                raise TraceError("free takes exactly an id: 'f ID'", source, n)
            add_free(parse_id(parts[1], source, n))
        elif op in ("r", "realloc"):
            if len(parts) not in (3, 4) or len(parts) == 4 and not parts[3].startswith("tag="):
                raise TraceError("realloc takes an id and a size: 'r ID SIZE [tag=WORD]'",
                                 source, n)
            tag = parts[3][4:] if len(parts) == 4 else None
            add_realloc(parse_id(parts[1], source, n),
                        parse_size(parts[2], source, n), tag)
        else:
            raise TraceError(f"unknown event {parts[0]!r} (expected a, f or r)", source, n)
        numbers.append(n)
    trace.lines = numbers
    if trace.maximum is not None and str(trace.maximum).isdigit():
        trace.maximum = int(trace.maximum)
    return trace


def write(trace):
    out = [HEADER, f"# name: {trace.name}"]
    if trace.description:
        out.append(f"# description: {trace.description}")
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
            line += f" tag={tags[i]}"
        out.append(line)
    return "\n".join(out) + "\n"

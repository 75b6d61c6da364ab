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

A recorded trace (pyfrag record, web/recorder.js) also keeps what the app saw:
`addr=` (address returned) and `mem=` (memory bytes after the call) on every
alloc and realloc, and the header keys heap_base, initial_pages, module and
allocator (see trace/recording.py).
"""

from array import array

from . import ALLOC, FREE, Trace, TraceError
from .fields import parse_align, parse_id, parse_int, parse_size
from ..memory import PAGE
from .recording import Recording

HEADER = "# pyfrag trace v1"
_META = ("name", "description", "maximum")
_RECORDED_META = ("heap_base", "initial_pages", "module", "allocator")


def read(lines, source):
    trace = Trace()
    numbers = array("l")
    add_alloc, add_free, add_realloc = trace.alloc, trace.free, trace.realloc
    recorded, recorded_meta = {}, {}     # event index -> (addr, mem); header keys
    for n, raw in lines:
        line = raw.strip()
        if not line:
            continue
        if line[0] == "#":
            key, sep, value = line[1:].partition(":")
            key = key.strip().lower()
            if sep and key in _META:
                setattr(trace, key, value.strip())
            elif sep and key in _RECORDED_META:
                recorded_meta[key] = (parse_int(value.strip(), key, source, n)
                                      if key in ("heap_base", "initial_pages") else value.strip())
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
                elif not _recorded_field(key, sep, value, recorded, len(trace), source, n):
                    raise TraceError(f"unknown field {opt!r} (expected align=N, tag=WORD, "
                                     "addr=N or mem=N)", source, n)
            add_alloc(parse_id(parts[1], source, n),
                      parse_size(parts[2], source, n), align, tag)
        elif op in ("f", "free"):
            if len(parts) != 2:
                raise TraceError("free takes exactly an id: 'f ID'", source, n)
            add_free(parse_id(parts[1], source, n))
        elif op in ("r", "realloc"):
            if len(parts) < 3:
                raise TraceError("realloc takes an id and a size: 'r ID SIZE [tag=WORD]'",
                                 source, n)
            tag = None
            for opt in parts[3:]:
                key, sep, value = opt.partition("=")
                if key == "tag" and sep:
                    tag = value
                elif not _recorded_field(key, sep, value, recorded, len(trace), source, n):
                    raise TraceError(f"unknown field {opt!r} (expected tag=WORD, addr=N or "
                                     "mem=N)", source, n)
            add_realloc(parse_id(parts[1], source, n),
                        parse_size(parts[2], source, n), tag)
        else:
            raise TraceError(f"unknown event {parts[0]!r} (expected a, f or r)", source, n)
        numbers.append(n)
    trace.lines = numbers
    if recorded:
        trace.recorded = _recording(trace, recorded, recorded_meta, source)
    if trace.maximum is not None and str(trace.maximum).isdigit():
        trace.maximum = int(trace.maximum)
    return trace


def write(trace):
    out = [HEADER, f"# name: {trace.name}"]
    if trace.description:
        out.append(f"# description: {trace.description}")
    if trace.maximum is not None:
        out.append(f"# maximum: {trace.maximum}")
    recorded = trace.recorded
    if recorded is not None:
        out += [f"# {key}: {getattr(recorded, key)}" for key in _RECORDED_META
                if getattr(recorded, key) is not None]
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
        if recorded is not None:
            line += f" addr={recorded.addresses[i]} mem={recorded.memory_bytes[i]}"
        out.append(line)
    return "\n".join(out) + "\n"


def _recorded_field(key, sep, value, recorded, index, source, n):
    """Store an addr=/mem= field of event `index`; False if `key` is neither."""
    if not sep or key not in ("addr", "mem"):
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

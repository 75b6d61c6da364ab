"""Field parsers shared by the trace readers: each error names the field, file and line.

Also `shown(value)`: how any piece of input is quoted in a message, cut to a
readable length (a 100 MB line must not make a 100 MB error).
"""

import json
import reprlib

from .model import MAX_SIZE, TraceError

ID_LIMIT = 1 << 63      # ids are stored as signed 64-bit integers
SHOWN = 60              # characters of quoted input a message keeps

_repr = reprlib.Repr()      # attributes, not keywords: CPython 3.11 takes none
_repr.maxlevel, _repr.maxdict, _repr.maxlist = 2, 4, 4
_repr.maxstring = _repr.maxother = SHOWN


def shown(value):
    """`value` quoted for a message, cut in the middle past SHOWN characters."""
    if isinstance(value, str) and len(value) > SHOWN:
        return f"{_repr.repr(value)} ({len(value)} characters)"
    try:
        return _repr.repr(value)
    except ValueError:                      # an int too long to print
        return f"<{type(value).__name__} too long to show>"


def json_text(value, what):
    """`value` as JSON text, refused when JSON would not give it back: two lone
    surrogates side by side (a high one, then a low one) read back as one character."""
    text = json.dumps(value)
    if "\\ud" in text and json.loads(text) != value:
        raise TraceError(f"{what} {shown(value)} holds lone surrogates that JSON would "
                         "read back as one character; it cannot be written")
    return text


def parse_int(token, what, source, line, minimum=0, maximum=None):
    """An int from a token, or a TraceError saying which field was bad."""
    try:
        value = int(token, 0)
    except ValueError:
        raise TraceError(f"{what} must be an integer, got {shown(token)}", source, line) from None
    if value < minimum:
        raise TraceError(f"{what} must be >= {minimum}, got {value}", source, line)
    if maximum is not None and value > maximum:
        raise TraceError(f"{what} must be <= {maximum}, got {value}", source, line)
    return value


def parse_id(token, source, line, minimum=-ID_LIMIT):
    return parse_int(token, "id", source, line, minimum, ID_LIMIT - 1)


def parse_size(token, source, line):
    size = parse_int(token, "size", source, line)
    if size >= MAX_SIZE:
        raise TraceError(f"size {size} is larger than any memory (2**48 bytes)", source, line)
    return size


def parse_align(token, source, line):
    align = parse_int(token, "align", source, line, minimum=1)
    if align & (align - 1):
        raise TraceError(f"align must be a power of two, got {align}", source, line)
    return align


def parse_maximum(value, source, line):
    """A trace's memory maximum: pages (an int, or digits) or a limit name such as
    "512mib", checked here so a bad one names its line. Names are kept as written."""
    from ..memory import MEMORY64_MAX_PAGES, resolve_limit
    if isinstance(value, str):
        value = value.strip()
        if value.isdigit() and len(value) < 20:
            value = int(value)
    if type(value) is not int and not isinstance(value, str):
        raise TraceError(f"maximum must be pages or a size such as '512mib', got "
                         f"{shown(value)}", source, line)
    try:
        pages = resolve_limit(value)
    except ValueError:
        raise TraceError(f"unknown memory maximum {shown(value)}: use a page count, "
                         "2gib, 4gib, wasm32, memory64 or a size such as '512mib'",
                         source, line) from None
    if not 1 <= pages <= MEMORY64_MAX_PAGES:
        raise TraceError(f"maximum must be 1 to {MEMORY64_MAX_PAGES} pages, got "
                         f"{shown(value)}", source, line)
    return value

"""Field parsers shared by the trace readers: each error names the field, file and line."""

from . import MAX_SIZE, TraceError


ID_LIMIT = 1 << 63      # ids are stored as signed 64-bit integers


def parse_int(token, what, source, line, minimum=0, maximum=None):
    """An int from a token, or a TraceError saying which field was bad."""
    try:
        value = int(token, 0)
    except ValueError:
        raise TraceError(f"{what} must be an integer, got {token!r}", source, line) from None
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

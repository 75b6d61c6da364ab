"""Reading and writing a trace piece by piece: no whole-file string, no list of every line.

Main entry points: `file_pieces(path)` / `text_pieces(text)` (the input as
text pieces of about CHUNK characters, each cut after a newline), `parse(pieces,
fast, lines)` (feeds a format's reader), `events(data, trace, first)` (the
fast path most formats share), and `joined(lines)` (a writer's lines as pieces).

A reader gives `parse` two things: `lines(pairs)`, its exact parser of lines
as (number, text) pairs, and optionally `fast(data, n)`, which takes a whole
block of lines at C speed (bytes.translate, json.loads, map) or declines it.
A block declined is offered again in blocks of SMALL characters, and what is
left goes line by line, so a comment, a tagged event or a bad line costs one
small block of slow parsing, and every error is the line parser's own
(file:line:reason).

Pieces are cut after "\\n", where `str.splitlines` always ends a line, so
numbering lines piece by piece gives the numbers a whole-file read gave.
"""

import json
from array import array
from itertools import accumulate, islice
from operator import add, mul

from .model import MAX_SIZE, TraceError

# Bytes read at a time: small pieces keep the transient objects of a block (its
# numbers as ints) in the CPU cache and under the trace's own size (measured with
# benchmarks/trace_load.py: 64 KiB loads faster than 1 or 4 MiB, and adds ~0 B
# an event to the peak where 4 MiB adds 60).
CHUNK = 1 << 16
SMALL = 1 << 12          # a block the fast path declines is offered again in these
BATCH = 1 << 13          # lines a written piece holds


def _decode(data, offset, source):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise TraceError(f"not a text file ({e.reason} at byte {offset + e.start})",
                         source) from None


def file_pieces(path):
    """The file's text in pieces cut after a newline (the last one may not end
    with one); a file that is not UTF-8 says at which byte."""
    chunk = CHUNK
    try:
        f = open(path, "rb")
    except OSError as e:
        raise TraceError(e.strerror or str(e), path) from None
    with f:
        offset, held = 0, []         # held: blocks of a line longer than a chunk
        while True:
            try:
                block = f.read(chunk)
            except OSError as e:
                raise TraceError(e.strerror or str(e), path) from None
            if not block:
                break
            cut = block.rfind(b"\n") + 1
            if not cut:
                held.append(block)
                continue
            if held:
                held.append(block)
                block = b"".join(held)
                cut += len(block) - len(held[-1])
                held = []
            yield _decode(block[:cut], offset, path)
            offset += cut
            if cut < len(block):
                held.append(block[cut:])
        if held:
            yield _decode(b"".join(held), offset, path)


def text_pieces(text):
    """`text` in pieces cut after a newline, as `file_pieces` gives a file."""
    pos, chunk = 0, CHUNK
    while pos < len(text):
        cut = text.rfind("\n", pos, pos + chunk) + 1 or text.find("\n", pos + chunk) + 1
        cut = cut if cut > pos else len(text)
        yield text if pos == 0 and cut == len(text) else text[pos:cut]
        pos = cut


def parse(pieces, fast, lines):
    """Give every line of `pieces` to the reader: blocks to `fast` where it takes
    them, the rest to `lines` as (number, text) pairs. A file that is not text
    says so before any error in its lines, as it did when files were read whole."""
    pieces = iter(pieces)
    n = 1
    try:
        for piece in pieces:
            n = _block(piece, n, fast, lines)
    except TraceError:
        for _ in pieces:
            pass
        raise


def _block(text, n, fast, lines):
    """Lines of `text`, the first being line n; returns the number of the next."""
    if fast is None:
        return _lines(text, n, lines)
    cut = len(text) if text.endswith("\n") else text.rfind("\n") + 1
    if cut < len(text):                      # the file's last line, without a newline
        return _lines(text[cut:], _block(text[:cut], n, fast, lines) if cut else n, lines)
    taken = _fast(text, n, fast)
    if taken:
        return n + taken
    # declined: again in blocks of SMALL, so one odd line costs one small block
    pos = 0
    while pos < len(text):
        end = text.find("\n", pos + SMALL) + 1 or len(text)
        small = text[pos:end]
        taken = len(small) < len(text) and _fast(small, n, fast)
        n = n + taken if taken else _lines(small, n, lines)
        pos = end
    return n


def _fast(text, n, fast):
    """Lines `fast` took of `text` (complete lines), or 0."""
    if not text.isascii():
        return 0
    data = text.encode("ascii")
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    return data.count(b"\n") if fast(data, n) else 0


def _lines(text, n, lines):
    split = text.splitlines()
    lines(enumerate(split, n))
    return n + len(split)


_ALLOWED = b"afr0123456789- \n"
_OPS = bytes.maketrans(b"afr", b"\0\1\2")            # ALLOC, FREE, REALLOC
_NUMBERS = bytes.maketrans(b" \n", b", ")            # fields -> a JSON list
_STEPS = bytes.maketrans(b"afr", b"\2\1\2")          # numbers on the line
_SIZED = bytes.maketrans(b"afr", b"\1\0\1")


def events(data, trace, first, min_id=None):
    """Append the events of `data` to `trace` if every line is `a ID SIZE`,
    `r ID SIZE` or `f ID` with single spaces and plain decimal numbers in range,
    and return True; otherwise append nothing and return False.

    Lines that pass read to exactly what the line readers give them: each line
    is one letter then its numbers (checked on the text with digits removed),
    and the numbers are read by json.loads, which refuses what int(x, 0) does
    (leading zeros, signs in the middle) and, as a newline becomes a space,
    digits before a letter (two numbers with no comma between). Once a trace is
    big, blocks of plain non-negative numbers are read by numpy where it is
    installed (`_vectorised`), to the same arrays, several times faster."""
    if data.translate(None, _ALLOWED):
        return False
    letters = data.translate(None, b"0123456789- \n")
    shape = data.translate(None, b"0123456789-")
    if shape.replace(b"a  \n", b"a").replace(b"r  \n", b"r").replace(b"f \n", b"f") != letters:
        return False
    numbers = len(trace.ops) >= VECTORISED and _vectorised(data, letters)
    ids, sizes = numbers or _json_numbers(data, letters, min_id)
    if ids is None:
        return False
    trace.ops.frombytes(letters.translate(_OPS))
    trace.ids.extend(ids)
    trace.sizes.extend(sizes)
    trace.lines.run(first, len(letters))
    return True


def _json_numbers(data, letters, min_id):
    """(ids, sizes) of a block of well-shaped lines, read by json.loads; (None, None) where a
    number is not plain decimal, does not fit 64 bits, or is out of range."""
    try:
        numbers = json.loads(b"[0" + data.translate(_NUMBERS, b"afr") + b"]")
    except ValueError:
        return None, None
    at = list(accumulate(letters.translate(_STEPS), initial=1))   # index of each id
    at.pop()
    sized = map(mul, map(add, at, letters.translate(_SIZED)), letters.translate(_SIZED))
    try:
        ids = array("q", map(numbers.__getitem__, at))
        sizes = array("q", map(numbers.__getitem__, sized))    # a free's is numbers[0] = 0
    except OverflowError:
        return None, None
    if ids and (min(sizes) < 0 or max(sizes) >= MAX_SIZE
                or min_id is not None and min(ids) < min_id):
        return None, None
    return ids, sizes


# Blocks are read by numpy once a trace holds this many events: its import (~0.1 s) then
# pays for itself, and a small trace never waits for it.
VECTORISED = 100_000
_numpy = None             # numpy once looked for; False where it is not installed


def _vectorised(data, letters):
    """(ids, sizes) as `_json_numbers` reads them, by numpy's C parser; None (json.loads
    decides) where numpy is not installed, or for a block with a sign, a leading zero, a
    number past 63 bits or a size out of range: what numpy would read where json refuses."""
    global _numpy
    if _numpy is None:
        try:
            import numpy as _numpy
        except ImportError:
            _numpy = False
    # every number follows a space (the shape says): " 0" starts a number 0 or a leading zero
    if not _numpy or b"-" in data or b" 0" in data and \
            data.count(b" 0") != data.count(b" 0 ") + data.count(b" 0\n"):
        return None
    np = _numpy
    numbers = np.fromstring(data.translate(None, b"afr"), np.int64, sep=" ")
    count = np.frombuffer(letters.translate(_SIZED), np.uint8) + 1    # numbers on each line
    first = np.cumsum(count) - count
    # a number missing ("a 1 \n" has the shape of "a 1 2\n") leaves numbers short
    if not len(first) or len(numbers) != first[-1] + count[-1]:
        return None
    sizes = np.where(count == 2, numbers[np.minimum(first + 1, len(numbers) - 1)], 0)
    # past 63 bits numpy saturates at the largest int64, which json reads (or refuses) itself
    if numbers.max() == np.iinfo(np.int64).max or sizes.max() >= MAX_SIZE:
        return None
    return array("q", numbers[first].tobytes()), array("q", sizes.tobytes())


def joined(lines):
    """`lines` (strings without their newline) as text pieces of BATCH lines each."""
    lines = iter(lines)
    while True:
        batch = list(islice(lines, BATCH))
        if not batch:
            return
        batch.append("")
        yield "\n".join(batch)

"""Simulated WebAssembly linear memory: 64 KiB pages that only ever grow.

Owns the page count and the limit. Main entry point: `Memory.grow(delta)`,
which behaves like the `memory.grow` instruction: it returns the previous
size in pages, or -1 when the request would pass the maximum. It never raises,
because a real allocator sees failure only as that -1.
"""

PAGE = 65536                      # bytes per WebAssembly page
WASM32_MAX_PAGES = 65536          # 4 GiB: the wasm32 address space
MEMORY64_MAX_PAGES = 1 << 48      # the memory64 spec limit

# Named limits a browser actually enforces (in pages). "2gib" is the
# long-standing Chrome/Firefox limit on many builds, "4gib" the full wasm32
# space, "memory64" the 16 GiB that engines allow for 64-bit memories today.
LIMITS = {
    "2gib": 32768,
    "4gib": WASM32_MAX_PAGES,
    "wasm32": WASM32_MAX_PAGES,
    "memory64": 262144,
}


def pages_for(nbytes):
    """Smallest number of pages holding `nbytes`."""
    return -(-nbytes // PAGE)


UNITS = (("gib", 1 << 30), ("mib", 1 << 20), ("kib", 1 << 10), ("pages", PAGE))


def resolve_limit(limit):
    """A page count from an int or digits (pages), a name in LIMITS, or text with a unit:
    "512mib", "64kib", "2gib", "8192pages" (a size rounds up to whole pages)."""
    if isinstance(limit, int):
        return limit
    key = "".join(str(limit).split()).lower()
    if key.isdigit():
        return int(key)
    if key in LIMITS:
        return LIMITS[key]
    for suffix, scale in UNITS:
        if key.endswith(suffix):
            number = key[: -len(suffix)]
            if number.isdigit():
                return pages_for(int(number) * scale)
    raise ValueError(
        f"unknown memory limit {limit!r}: use a size such as 512mib, 64kib or 2gib, a page "
        f"count such as 8192pages, or one of {', '.join(sorted(LIMITS))}")


def user_limit(text, given):
    """A memory limit a person typed (`given` is how, for the message: "--maximum 512",
    "-p memory=512"): as resolve_limit, except that a bare number is refused, since it
    could mean pages (what a trace file's header means) or bytes. Returns the text."""
    key = str(text).strip()
    if key.isdigit():
        n = int(key)
        pages = f" ({_size(n * PAGE)})" if n <= MEMORY64_MAX_PAGES else ""
        raise ValueError(f"{given}: a bare number could mean pages or bytes; did you "
                         f"mean {n}mib? Give a unit: {n}mib, {n}kib or {n}pages{pages}")
    resolve_limit(key)
    return key


def describe_limit(nbytes):
    """A limit in bytes, as the views print it: "512 MiB (536870912 bytes, 8192 pages)"."""
    return f"{_size(nbytes)} ({nbytes} bytes, {nbytes // PAGE} pages)"


def _size(nbytes):
    """Bytes in the largest unit that divides them: 32 MiB, 6400 KiB."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= scale and nbytes % scale == 0:
            return f"{nbytes // scale} {unit}"
    return f"{nbytes} bytes"


class Memory:
    """One linear memory. `byte_length` is what JS sees as `memory.buffer.byteLength`."""

    __slots__ = ("pages", "maximum", "memory64", "grow_calls", "grown")

    def __init__(self, initial=1, maximum="wasm32", memory64=False):
        # asking for the memory64 limit is asking for a 64-bit memory
        memory64 = memory64 or str(maximum).strip().lower() == "memory64"
        maximum = resolve_limit(maximum)
        cap = MEMORY64_MAX_PAGES if memory64 else WASM32_MAX_PAGES
        if not 0 <= initial <= maximum:
            raise ValueError(f"initial pages {initial} must lie in 0..maximum ({maximum})")
        if maximum > cap:
            kind = "memory64" if memory64 else "wasm32"
            raise ValueError(f"maximum {maximum} pages is past the {kind} limit of {cap} pages")
        self.pages = initial
        self.maximum = maximum
        self.memory64 = memory64
        self.grow_calls = 0          # successful and failed memory.grow calls alike
        # a list to append the page count to whenever the memory grows (the replay
        # loop's, which reads it after each request), or None
        self.grown = None

    @property
    def byte_length(self):
        return self.pages * PAGE

    @property
    def max_bytes(self):
        return self.maximum * PAGE

    def grow(self, delta):
        """`memory.grow`: the old page count, or -1 if `delta` does not fit."""
        self.grow_calls += 1
        old = self.pages
        if delta < 0 or old + delta > self.maximum:
            return -1
        self.pages = old + delta
        if delta and self.grown is not None:
            self.grown.append(self.pages)
        return old

    def __repr__(self):
        return f"Memory(pages={self.pages}, maximum={self.maximum}, memory64={self.memory64})"

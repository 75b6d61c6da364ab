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


def resolve_limit(limit):
    """A page count from an int or digits (pages), a name in LIMITS, or "512mib"-style text."""
    if isinstance(limit, int):
        return limit
    key = str(limit).strip().lower()
    if key.isdigit():
        return int(key)
    if key in LIMITS:
        return LIMITS[key]
    for suffix, scale in (("gib", 1 << 30), ("mib", 1 << 20), ("kib", 1 << 10)):
        if key.endswith(suffix):
            number = key[: -len(suffix)]
            if number.isdigit():
                return pages_for(int(number) * scale)
    raise ValueError(
        f"unknown memory limit {limit!r}: use a page count, one of "
        f"{', '.join(sorted(LIMITS))}, or a size such as '512mib'")


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

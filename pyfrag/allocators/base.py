"""The allocator protocol every model implements, and the helpers they share.

Main entry point: `Allocator`. A model lives in a `Memory` above `heap_base`,
hands out addresses inside that memory, and obtains more of it only through
`memory.grow`, exactly as a WebAssembly allocator must.

Contract (what the replay engine, the metrics and the property tests rely on):

- `malloc(size)` / `aligned_alloc(align, size)` return an address, or 0 when
  the request cannot be met (the model may have grown memory before failing).
- `free(ptr)` is only ever called with a live address this model returned;
  validity of frees is checked one layer up (`Heap`), so a model may assume it.
- `realloc(ptr, size)` returns the new address, or 0 with the old block intact.
- `spans()` describes [heap_base, memory.byte_length) as run-length
  (start, length, used) triples in address order, adjacent runs of the same
  kind merged; "free" is what the model could hand out (holes, the untouched
  top), "used" everything else: live blocks and the model's overhead (headers,
  padding, pages it never uses, cells it lost). Cost O(blocks), never O(bytes).
- `check()` raises AssertionError when an internal invariant is broken; a model
  that holds others (a strategy: allocators/layered.py) checks theirs too.
  `replay(check=N)` / `pyfrag run --check` call it as a replay goes, as
  mimalloc's debug builds check theirs. It is asserts, so `python -O` strips
  it as NDEBUG strips mimalloc's: a checked replay refuses to run there.
- Optional: `tag(label)` is called with an event's tag just before a tagged
  request, for strategies that route by lifetime or reset on a marker.
- Optional: `oom_spans()`, right after a failed request: the spans as that
  request found them, where failing changed them (wee_alloc loses the free
  cells its walk passes). The OOM verdict reads these, else `spans()`.
- `unsupported(size, align)`: why the model refuses a request of that size and
  alignment (None for a plain malloc or realloc) whatever its heap holds, or
  None when it would try: the request then fails only for want of memory.
  A failed request it names is an "unsupported request", never an OOM.
- `reuses_freed`: False for a model that never hands a freed block out again
  (a bump allocator): its freed blocks are not free in `spans()`, and running
  out is "memory exhausted" (see pyfrag.replay.classify).
"""

from ..memory import PAGE


class Allocator:
    name = "?"
    # A one-line description shown by `pyfrag list`.
    summary = ""
    # Name of the real build this model is address-exact against, if any.
    exact = None
    # Alignment of every address malloc returns.
    alignment = 8
    # Start state when none is given: (heap_base, initial_pages).
    default_start = (1024, 1)
    # True for an allocator that can hand out a block over live ones (its 32-bit offset wraps
    # past 4 GiB, as the real one's does): the replay then counts live bytes in 64 bits.
    overlaps = False
    # Whether a freed block can be handed out again (see the contract above).
    reuses_freed = True

    def __init__(self, memory, heap_base):
        if not 0 < heap_base <= memory.byte_length:
            raise ValueError(
                f"{self.name}: heap base {heap_base} must lie inside the "
                f"initial memory (1..{memory.byte_length})")
        self.memory = memory
        self.heap_base = heap_base

    # -- the protocol -----------------------------------------------------

    def malloc(self, size):
        raise NotImplementedError

    def free(self, ptr):
        raise NotImplementedError

    def realloc(self, ptr, size):
        """Generic fallback: move to a fresh block. Models with in-place growth override it."""
        new = self.malloc(size)
        if new:
            self.free(ptr)
        return new

    def aligned_alloc(self, align, size):
        if align <= self.alignment:
            return self.malloc(size)
        raise NotImplementedError(f"{self.name}: aligned_alloc({align})")

    def unsupported(self, size, align=None):
        return None

    def spans(self):
        raise NotImplementedError

    def check(self):
        pass

    # -- shared helpers ---------------------------------------------------

    def grow_to(self, end):
        """Grow memory so that it covers [0, end); False if memory.grow refuses."""
        have = self.memory.byte_length
        if end <= have:
            return True
        return self.memory.grow(-(-(end - have) // PAGE)) != -1


def align_up(n, a):
    return (n + a - 1) & -a


def check_power_of_two(align, who):
    if align <= 0 or align & (align - 1):
        raise ValueError(f"{who}: alignment {align} is not a power of two")


def posix_memalign_refuses(align):
    """posix_memalign's EINVAL (an alignment that is not a multiple of sizeof(void *)),
    as a reason for `unsupported`: the modules export posix_memalign as aligned_alloc."""
    if align and align % 4:
        return (f"posix_memalign refuses alignment {align} (not a multiple of "
                "sizeof(void *), 4 bytes)")
    return None


class Spans(list):
    """What `merge_spans` returns: the spans, and in `read` how many runs they were
    merged from, what producing them cost (pyfrag.replay budgets its reads by it)."""
    __slots__ = ("read",)


def merge_spans(raw):
    """Merge adjacent runs of one kind and drop empty ones: the `spans()` normal form."""
    out = Spans()
    out.read = len(raw)
    for start, length, used in raw:
        if length <= 0:
            continue
        if out and out[-1][2] == used and out[-1][0] + out[-1][1] == start:
            prev = out[-1]
            out[-1] = (prev[0], prev[1] + length, used)
        else:
            out.append((start, length, used))
    return out

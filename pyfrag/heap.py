"""`Heap`: one allocator model living in one linear memory, used like malloc.

Main entry point: `Heap(allocator_name)`. The heap is the layer that knows
which addresses are live, so it is where invalid and double frees are caught
(`InvalidFree`), before they could corrupt the model underneath. It also
counts live bytes the way the article's TrackingAllocator does: the sum of the
sizes that were asked for, not what the allocator reserved.

    >>> h = Heap("bump")
    >>> p = h.malloc(1024)
    >>> h.live_bytes
    1024
    >>> h.free(p); h.live_bytes
    0
"""

import operator

from . import allocators
from .allocators.base import check_power_of_two
from .memory import PAGE, Memory, pages_for


def _size(what, value):
    """A non-negative int, or a TypeError / ValueError naming the argument."""
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an integer, got {type(value).__name__}") from None
    if value < 0:
        raise ValueError(f"{what} must be >= 0, got {value}")
    return value


def check_blocks(allocator, end, blocks):
    """The invariants of the live blocks a caller holds, (address, requested size) pairs:
    each lies in [heap_base, end) and none overlaps another (a zero-byte block counts as one
    byte: its address is its own). Models that hand out blocks over live ones or past the
    end (`overlaps`, as their real module does) are not held to it."""
    if getattr(allocator, "overlaps", False):
        return
    last = allocator.heap_base
    for ptr, size in sorted(blocks):
        assert ptr >= last, (f"live block {ptr:#x}+{size} overlaps the one before it"
                             if ptr >= allocator.heap_base else
                             f"live block {ptr:#x}+{size} lies below the heap base "
                             f"{allocator.heap_base:#x}")
        assert ptr + size <= end, f"live block {ptr:#x}+{size} runs past the end of memory ({end})"
        last = ptr + max(size, 1)


class InvalidFree(ValueError):
    """free/realloc of an address that is not live (never allocated, or freed already)."""


class Heap:
    def __init__(self, allocator="dlmalloc", *, heap_base=None, initial_pages=None,
                 maximum="wasm32", memory64=False):
        cls = allocators.get(allocator)
        base, pages = cls.default_start
        heap_base = base if heap_base is None else heap_base
        if initial_pages is None:
            initial_pages = max(pages, pages_for(heap_base + 1))
        self.memory = Memory(initial_pages, maximum, memory64)
        self.allocator = cls(self.memory, heap_base)
        self.name = cls.name
        self.blocks = {}          # live address -> requested size
        self.live_bytes = 0
        self.peak_live = 0        # (no peak heap to keep: memory never shrinks)

    @classmethod
    def like(cls, module, allocator=None, **overrides):
        """A heap in the start state of a real module (a manifest entry or its name),
        running the module's own model, or `allocator` if one is named."""
        from .modules import find
        entry = find(module) if isinstance(module, str) else module
        allocator = allocator or entry.get("model")
        if not allocator:
            raise ValueError(f"module {entry['name']!r} has no simulator model; "
                             "name an allocator to run in its start state")
        options = dict(heap_base=entry["heap_base"], initial_pages=entry["initial_pages"],
                       maximum=entry.get("maximum_pages") or "wasm32")
        options.update(overrides)
        return cls(allocator, **options)

    # -- the malloc API ---------------------------------------------------

    def malloc(self, size, align=0, tag=None):
        """An address, or 0 when the allocator cannot satisfy the request. `tag` reaches
        models that use tags (the optional `tag(label)` hook, see allocators/layered.py)."""
        size = _size("malloc size", size)
        if align:
            check_power_of_two(_size("malloc alignment", align), f"malloc({size}, align)")
        if tag is not None:
            self._tag(tag)
        ptr = (self.allocator.aligned_alloc(align, size) if align
               else self.allocator.malloc(size))
        if ptr:
            self.blocks[ptr] = size
            self.live_bytes += size
            self.peak_live = max(self.peak_live, self.live_bytes)
        return ptr

    def free(self, ptr):
        ptr = _size("free address", ptr)
        if ptr == 0:
            return                                   # free(NULL) is a no-op in C
        size = self.blocks.pop(ptr, None)
        if size is None:
            raise InvalidFree(f"free({ptr:#x}): not a live block of this heap "
                              "(never allocated, or already freed)")
        self.allocator.free(ptr)
        self.live_bytes -= size

    def realloc(self, ptr, size, tag=None):
        ptr, size = _size("realloc address", ptr), _size("realloc size", size)
        if ptr == 0:
            return self.malloc(size, tag=tag)
        old = self.blocks.get(ptr)
        if old is None:
            raise InvalidFree(f"realloc({ptr:#x}, {size}): not a live block of this heap")
        if tag is not None:
            self._tag(tag)
        new = self.allocator.realloc(ptr, size)
        if new:
            del self.blocks[ptr]
            self.blocks[new] = size
            self.live_bytes += size - old
            self.peak_live = max(self.peak_live, self.live_bytes)
        elif size == 0:
            # realloc(p, 0) returning NULL has freed p, as C allocators do
            del self.blocks[ptr]
            self.live_bytes -= old
        return new

    def _tag(self, label):
        hook = getattr(self.allocator, "tag", None)
        if hook is not None:
            hook(label)

    # -- inspection -------------------------------------------------------

    def spans(self):
        return self.allocator.spans()

    def check(self):
        """The model's invariants (its `check()`), then the live blocks': see check_blocks.
        Raises AssertionError; `python -O` strips these asserts."""
        self.allocator.check()
        check_blocks(self.allocator, self.memory.byte_length, self.blocks.items())

    def stats(self):
        from .metrics import heap_metrics
        return heap_metrics(self)

    def audit(self):
        from .audit import audit
        return audit(self)

    def __repr__(self):
        return (f"<Heap {self.name}: {len(self.blocks)} live blocks, "
                f"{self.live_bytes} live bytes, {self.memory.pages} pages "
                f"({self.memory.pages * PAGE} bytes)>")

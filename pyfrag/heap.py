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

from . import allocators
from .memory import PAGE, Memory, pages_for


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
        self.peak_live = 0        # memory never shrinks, so peak heap is simply the current size

    @classmethod
    def like(cls, module, **overrides):
        """A heap in the start state of a real module (a manifest entry or its name)."""
        from .modules import find
        entry = find(module) if isinstance(module, str) else module
        if not entry.get("model"):
            raise ValueError(f"module {entry['name']!r} has no simulator model")
        options = dict(heap_base=entry["heap_base"], initial_pages=entry["initial_pages"],
                       maximum=entry.get("maximum_pages") or "wasm32")
        options.update(overrides)
        return cls(entry["model"], **options)

    # -- the malloc API ---------------------------------------------------

    def malloc(self, size, align=0, tag=None):
        """An address, or 0 when the allocator cannot satisfy the request. `tag` reaches
        models that use tags (the optional `tag(label)` hook, see allocators/layered.py)."""
        if size < 0:
            raise ValueError(f"malloc size must be >= 0, got {size}")
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
        if ptr == 0:
            return                                   # free(NULL) is a no-op in C
        size = self.blocks.pop(ptr, None)
        if size is None:
            raise InvalidFree(f"free({ptr:#x}): not a live block of this heap "
                              "(never allocated, or already freed)")
        self.allocator.free(ptr)
        self.live_bytes -= size

    def realloc(self, ptr, size, tag=None):
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
        self.allocator.check()
        for ptr, size in self.blocks.items():
            assert self.allocator.heap_base <= ptr and ptr + size <= self.memory.byte_length, \
                f"live block {ptr:#x}+{size} lies outside the heap"

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

"""AssemblyScript 0.28's stub runtime (`std/assembly/rt/stub.ts`): a bump allocator.

Owns the model of `heap.alloc` / `heap.free` / `heap.realloc` in a module
built with `--runtime stub`. Main entry point: `AsStub.malloc`. It is the
generic `Bump` with AssemblyScript's block geometry and growth rule:

- Each block is a 4-byte header (the payload size) plus a payload sized like
  TLSF's, so every address is 16-byte aligned; the first header sits just
  below `__heap_base` rounded up to 16.
- Freeing the newest block rolls the pointer back to its header; any other
  free is ignored.
- Reallocating the newest block resizes it in place. Any other block keeps
  its address when the request fits its payload; otherwise it is copied to a
  new block of at least twice its payload and the old one is abandoned (not
  even the rollback rule can reclaim it).
- Growth doubles memory (max(current pages, pages needed)) and falls back to
  just the pages needed; memory is grown only when a payload would pass the
  end of memory.

Address-exact against a real `--runtime stub` module. A request the real
module traps on (over 1 GiB, memory exhausted) returns 0 here with the state
untouched, as the trapped module's is. The stub does its arithmetic in 32
bits, which shows at the top of the address space, and the model does the
same: once memory is exactly 4 GiB its end computes as 0, so nearly every
request fails; and a block that would end past 4 GiB is handed out all the
same, extending past the end of memory, while the next offset wraps around to
a low address, so later blocks are handed out over live ones (the replay
reports the block past the end). From the wrap on, a block's header is read
where it was last written, as the module reads it from memory; what a
realloc's copy writes over other blocks' headers is not followed.
"""

from ..memory import WASM32_MAX_PAGES
from .as_tlsf import AL_SIZE, BLOCK_MAXSIZE, BLOCK_OVERHEAD, PAGE_BITS, AsTlsf, compute_size
from .bump import Bump

U32 = 0xFFFFFFFF


class AsStub(Bump):
    name = "as-stub"
    overlaps = True        # past 4 GiB its offset wraps over live blocks, as the module's
    summary = "AssemblyScript 0.28 stub runtime: bump with headers, rollback, doubling growth; address-exact"
    exact = "as-stub"
    alignment = AL_SIZE
    header = BLOCK_OVERHEAD
    # __heap_base of a small module with the stub runtime (no stack reserved)
    default_start = (1164, 1)

    # -- block geometry -------------------------------------------------------

    def __init__(self, memory, heap_base):
        super().__init__(memory, heap_base)
        self.headers = None     # from the first wrap on: address -> payload, every header written

    def _extent(self, size):
        return compute_size(size)

    def _end(self, ptr, size):
        # already places the next payload on 16; in 32 bits, as the stub computes it
        return (ptr + compute_size(size)) & U32

    def _grow(self, end):
        """maybeGrowMemory: double the pages, or take only those needed if that is refused."""
        before = self.memory.pages
        needed = (end - (before << PAGE_BITS) + 0xFFFF) >> PAGE_BITS
        return self.memory.grow(max(before, needed)) >= 0 or self.memory.grow(needed) >= 0

    # -- the protocol ---------------------------------------------------------

    # The same rules as TLSF's: 16-byte alignment or nothing, blocks up to 1 GiB.
    aligned_alloc = AsTlsf.aligned_alloc
    unsupported = AsTlsf.unsupported

    def _refused(self, size, end):
        """What the real module traps on without growing: over 1 GiB, or, with memory
        exactly 4 GiB (its end is 0 in 32 bits), a block ending more than a page
        below 4 GiB (the pages it then asks for round to 0 only above that)."""
        return size > BLOCK_MAXSIZE or (
            self.memory.pages >= WASM32_MAX_PAGES and end + 0xFFFF < 1 << 32)

    def malloc(self, size):
        ptr = (self.top + BLOCK_OVERHEAD) & U32
        end = self._end(ptr, size)
        if self._refused(size, end):
            return 0
        if end < ptr and self.headers is None:     # the offset wraps past 4 GiB
            self.headers = dict(self.blocks)
        p = super().malloc(size)
        if p and self.headers is not None:
            self.headers[p] = size
        return p

    def _held(self, ptr):
        # the header in front of `ptr`, as the module reads it from memory
        return self.blocks[ptr] if self.headers is None else self.headers[ptr]

    def free(self, ptr):
        if self._end(ptr, self._held(ptr)) == self.top:
            self.top = ptr - self.header
        self.blocks.pop(ptr, None)

    def realloc(self, ptr, size):
        old = self._held(ptr)
        last = self._end(ptr, old) == self.top
        payload = compute_size(old)
        if size <= payload:                        # fits: the newest block also shrinks
            return self._resized(ptr, size) if last else ptr
        if last:                                   # the newest block grows in place
            return 0 if self._refused(size, self._end(ptr, size)) else self._resized(ptr, size)
        new = self.malloc(max(compute_size(size), payload * 2))
        if new:
            self.blocks.pop(ptr, None)             # abandoned, never freed
        return new

    def _resized(self, ptr, size):
        p = super().realloc(ptr, size)
        if p and self.headers is not None:
            self.headers[p] = size
        return p

    # -- inspection -------------------------------------------------------------

    def check(self):
        if self.headers is None:
            return super().check()
        for ptr in self.blocks:
            assert ptr % self.alignment == 0, f"misaligned block {ptr:#x}"
            assert ptr in self.headers, f"block {ptr:#x} has no header"
        assert self.top <= U32, f"top {self.top:#x} is past 32 bits"

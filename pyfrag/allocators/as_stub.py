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
bits, which shows at the top of the address space: once memory is exactly
4 GiB its end computes as 0, so nearly every request fails (modelled);
and a block that would end past 4 GiB wraps around to a low offset and is
handed out over live blocks (not modelled: here that request fails, because a
block must lie inside memory).
"""

from ..memory import WASM32_MAX_PAGES
from .as_tlsf import AL_SIZE, BLOCK_MAXSIZE, BLOCK_OVERHEAD, PAGE_BITS, AsTlsf, compute_size
from .bump import Bump


class AsStub(Bump):
    name = "as-stub"
    summary = "AssemblyScript 0.28 stub runtime: bump with headers, rollback, doubling growth; address-exact"
    exact = "as-stub"
    alignment = AL_SIZE
    header = BLOCK_OVERHEAD
    # __heap_base of a small module with the stub runtime (no stack reserved)
    default_start = (1164, 1)

    # -- block geometry -------------------------------------------------------

    def _extent(self, size):
        return compute_size(size)

    def _end(self, ptr, size):
        return ptr + compute_size(size)        # already places the next payload on 16

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
        if self._refused(size, self.top + BLOCK_OVERHEAD + compute_size(size)):
            return 0
        return super().malloc(size)

    def realloc(self, ptr, size):
        old = self.blocks[ptr]
        last = self._end(ptr, old) == self.top
        payload = compute_size(old)
        if size <= payload:                        # fits: the newest block also shrinks
            return super().realloc(ptr, size) if last else ptr
        if last:                                   # the newest block grows in place
            return 0 if self._refused(size, ptr + compute_size(size)) else super().realloc(ptr, size)
        new = self.malloc(max(compute_size(size), payload * 2))
        if new:
            del self.blocks[ptr]                   # abandoned, never freed
        return new

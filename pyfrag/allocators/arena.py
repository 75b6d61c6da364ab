"""Arena (region) allocator on a parent model: the article's strategy 1.

Main entry point: `Arena` (registered as "arena"; "arena:<parent>" picks the
parent, default first-fit). Requests bump upward inside a chunk of CHUNK bytes
taken from the parent. A request that does not fit in what is left of it gets
a new chunk; if it is bigger than a quarter of CHUNK, a chunk of exactly its
size, and the current chunk keeps serving the small requests after it.
Freeing one block gives nothing back; a *region* (the
chunks filled since the last reset) goes back to the parent all at once, in
one batch of parent frees, as soon as none of its blocks is live any more.

`reset()` ends the current region: later requests start a fresh one. A trace
triggers it with an alloc (or realloc) tagged "reset": the arena resets, then
serves that request. A block still live at a reset is never invalidated (a
trace still holds it): it keeps its whole region from the parent until it is
freed, which is exactly what an arena costs when one object outlives its task.
"""

from .base import align_up, check_power_of_two
from .layered import Layered, Tagged, fill

CHUNK = 64 * 1024       # bytes per chunk taken from the parent
RESET_TAG = "reset"


class Region:
    __slots__ = ("chunks", "live")

    def __init__(self):
        self.chunks = []    # (start, end) of every chunk taken from the parent
        self.live = 0       # live blocks inside those chunks


class Arena(Tagged, Layered):
    name = "arena"
    summary = "bump inside chunks from a parent; a region is freed all at once"

    def __init__(self, memory, heap_base, parent=None, chunk=CHUNK):
        super().__init__(memory, heap_base, parent)
        self.chunk = chunk
        self.region = Region()
        self.cursor = self.limit = 0        # free room of the current chunk
        self.blocks = {}                    # live ptr -> (end, region)
        self.last = 0                       # newest block of the current chunk

    # -- alloc ------------------------------------------------------------

    def malloc(self, size):
        return self._alloc(8, size)

    def aligned_alloc(self, align, size):
        check_power_of_two(align, self.name)
        return self._alloc(max(align, 8), size)

    def _alloc(self, align, size):
        if self.take_tag() == RESET_TAG:
            self.reset()
        need = align_up(size or 1, 8)
        ptr = align_up(self.cursor, align)
        if self.cursor and ptr + need <= self.limit:
            self.cursor = ptr + need
            self.last = ptr
        else:
            # a chunk from the parent; room for aligning inside it if the parent's
            # own alignment is smaller than asked for
            slack = align - self.parent.alignment if align > self.parent.alignment else 0
            big = need > self.chunk // 4
            length = (need if big else self.chunk) + slack
            start = self.parent.malloc(length)
            if not start:
                return 0
            self.region.chunks.append((start, start + length))
            ptr = align_up(start, align)
            if not big:
                # a big block gets a chunk of its own; small ones keep bumping here
                self.cursor, self.limit, self.last = ptr + need, start + length, ptr
        self.blocks[ptr] = (ptr + need, self.region)
        self.region.live += 1
        return ptr

    def realloc(self, ptr, size):
        if self.take_tag() == RESET_TAG:
            self.reset()
        need = align_up(size or 1, 8)
        end, region = self.blocks[ptr]
        if ptr == self.last and region is self.region and ptr + need <= self.limit:
            # the newest block grows or shrinks in place
            self.cursor = ptr + need
            self.blocks[ptr] = (ptr + need, region)
            return ptr
        new = self.malloc(size)
        if new:
            self.free(ptr)
        return new

    # -- free -------------------------------------------------------------

    def free(self, ptr):
        _, region = self.blocks.pop(ptr)
        if ptr == self.last:
            self.last = 0
        region.live -= 1
        if not region.live:
            self._release(region)

    def reset(self):
        """End the current region; it goes back to the parent once none of its blocks is live."""
        old, self.region = self.region, Region()
        self.cursor = self.limit = self.last = 0
        if not old.live:
            self._release(old)

    def _release(self, region):
        for start, _ in region.chunks:
            self.parent.free(start)
        region.chunks.clear()
        if region is self.region:
            self.cursor = self.limit = self.last = 0

    # -- inspection -------------------------------------------------------

    def regions(self):
        """Every region still holding chunks (the current one first)."""
        seen = {id(self.region): self.region}
        for _, region in self.blocks.values():
            seen.setdefault(id(region), region)
        return [r for r in seen.values() if r.chunks]

    def pieces(self):
        return sorted(c for r in self.regions() for c in r.chunks)

    def inner_spans(self):
        live = sorted((ptr, end) for ptr, (end, _) in self.blocks.items())
        return fill(self.pieces(), live)

    def check(self):
        super().check()
        regions = self.regions()
        chunks = self.pieces()
        for (_, a_end), (b_start, _) in zip(chunks, chunks[1:]):
            assert a_end <= b_start, f"arena chunks overlap at {b_start:#x}"
        counts = {}
        for ptr, (end, region) in self.blocks.items():
            assert ptr % 8 == 0 and end > ptr, f"bad arena block {ptr:#x}..{end:#x}"
            assert any(s <= ptr and end <= e for s, e in region.chunks), \
                f"block {ptr:#x} lies outside its region's chunks"
            counts[id(region)] = counts.get(id(region), 0) + 1
        for region in regions:
            assert region.live == counts.get(id(region), 0), "region live count is off"
            assert region.live or region is self.region, "an empty old region was kept"
        if self.cursor:
            assert any(s <= self.cursor <= e == self.limit for s, e in self.region.chunks), \
                "the bump cursor is outside the current chunk"
        live = sorted((ptr, end) for ptr, (end, _) in self.blocks.items())
        for (_, a_end), (b_start, _) in zip(live, live[1:]):
            assert a_end <= b_start, f"arena blocks overlap at {b_start:#x}"

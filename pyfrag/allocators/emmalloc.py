"""Emscripten's emmalloc (system/lib/emmalloc.c, Emscripten 3.1.6), standalone wasm.

Main entry point: `Emmalloc`. The heap is one run of adjacent *regions* from
`__heap_base` up to the sbrk break, each with its size at both ends (free ones
flagged), between a 16-byte sentinel region at each end. Free regions sit in
64 circular doubly linked lists ("buckets") by payload size, with a 64-bit mask
of buckets that *may* be non-empty (bits are cleared lazily, only when malloc
finds a bucket empty; the stale bits steer later searches, so they are modelled).

malloc: round the size up to a multiple of 4 (at least 8), then try the head
region of each marked bucket from the request's bucket upward, cycling a
region that does not fit to the back of its list; then up to 99 regions of
the largest marked bucket (only when that bucket holds >= 1 KiB regions);
then sbrk(size + 48) and try again. sbrk grows memory by exactly the pages the
new break needs (standalone `emscripten_resize_heap`). free merges with both
neighbours. realloc resizes in place into a free right neighbour or by
shrinking, else malloc + copy + free.
"""

from .base import Allocator, check_power_of_two, merge_spans, posix_memalign_refuses

# -- emmalloc constants (wasm32) ----------------------------------------------

NUM_BUCKETS = 64
REGION = 16                   # sizeof(Region): size, prev, next, ceiling size
HEADER = 8                    # REGION_HEADER_SIZE: size at both ends of a used region
SMALLEST = 8                  # SMALLEST_ALLOCATION_SIZE
MALLOC_ALIGNMENT = 8          # alignof(max_align_t) in Emscripten 3.1.6
MAX_ALLOC_SIZE = 0xFFFFFFC7
ADDRESS_SPACE = 1 << 32
MAX_TRIES_IN_LARGEST = 99


def bucket_of(size):
    """compute_free_list_bucket(): 8-byte buckets below 128, then 4 (later 2) per power of two."""
    if size < 128:
        return (size >> 3) - 1
    clz = 32 - size.bit_length()
    if clz > 19:
        return 110 - (clz << 2) + ((size >> (29 - clz)) ^ 4)
    return min(71 - (clz << 1) + ((size >> (30 - clz)) ^ 2), NUM_BUCKETS - 1)


def validate_size(size):
    return (size + 3) & -4 if size > SMALLEST else SMALLEST


class Emmalloc(Allocator):
    name = "emmalloc"
    summary = "Emscripten emmalloc: boundary-tagged regions, 64 bucketed free lists, sbrk growth"
    exact = "emmalloc"
    alignment = MALLOC_ALIGNMENT
    default_start = (591936, 16)       # as wasm_modules/emmalloc.wasm: 64 KiB stack, 1 MiB memory

    def __init__(self, memory, heap_base):
        super().__init__(memory, heap_base)
        self.size = {}            # region start -> size, every region incl. the two sentinels
        self.start_of = {}        # region end -> region start (the "size at the ceiling")
        self.free_set = set()     # starts of free regions
        # Bucket lists: node -> neighbour; the sentinel node of bucket i is -(i + 1).
        self.nxt = {-(i + 1): -(i + 1) for i in range(NUM_BUCKETS)}
        self.prv = dict(self.nxt)
        self.used_mask = 0        # freeRegionBucketsUsed, stale bits included
        self.brk = heap_base      # sbrk break; `__heap_base` is where sbrk starts
        self.block_end = 0        # end of the region block (listOfAllRegions[2]); 0: none yet
        # The static constructor starts with a tiny dynamic region.
        self._claim(3 * REGION)

    # -- regions and free lists -------------------------------------------

    def _set(self, start, size):
        old = self.size.get(start)
        if old is not None:
            del self.start_of[start + old]
        self.size[start] = size
        self.start_of[start + size] = start

    def _drop(self, start):
        del self.start_of[start + self.size.pop(start)]

    def _link(self, region):
        """link_to_free_list(): the region becomes the head of its bucket."""
        b = bucket_of(self.size[region] - HEADER)
        head = -(b + 1)
        first = self.nxt[head]
        self.prv[region], self.nxt[region] = head, first
        self.nxt[head] = self.prv[first] = region
        self.used_mask |= 1 << b
        self.free_set.add(region)

    def _unlink(self, region):
        p, n = self.prv.pop(region), self.nxt.pop(region)
        self.nxt[p], self.prv[n] = n, p
        self.free_set.discard(region)

    def _to_back(self, region, head):
        """unlink + prepend_to_free_list(): cycle a region that did not fit to the list's end."""
        self._unlink(region)
        last = self.prv[head]
        self.prv[region], self.nxt[region] = last, head
        self.nxt[last] = self.prv[head] = region
        self.free_set.add(region)

    # -- sbrk and claim_more_memory ---------------------------------------

    def _sbrk(self, increment):
        increment = (increment + 3) & -4
        old, new = self.brk, self.brk + increment
        if new >= ADDRESS_SPACE:
            return -1
        if new > self.memory.byte_length and not self.grow_to(new):
            return -1
        self.brk = new
        return old

    def _claim(self, nbytes):
        start = self._sbrk(nbytes)
        if start == -1:
            return False
        end = start + nbytes
        end_sentinel = end - REGION
        self._set(end_sentinel, REGION)
        if start == self.block_end:
            # contiguous with our block: the old end sentinel is swallowed
            self._drop(self.start_of[start])
            last = self.start_of[start - REGION]
            self.block_end = end
            if last in self.free_set:
                self._unlink(last)
                self._set(last, end_sentinel - last)
                self._link(last)
                return True
            start -= REGION
        else:
            if self.block_end:
                raise NotImplementedError("emmalloc model: sbrk handed out non-contiguous memory")
            self._set(start, REGION)              # start sentinel
            self.block_end = end
            start += REGION
        self._set(start, end_sentinel - start)
        self._link(start)
        return True

    # -- malloc -----------------------------------------------------------

    def _attempt(self, region, align, size):
        """attempt_allocate(): the payload address, or 0 if `size` does not fit at `align`."""
        rsize = self.size[region]
        payload = region + 4
        aligned = (payload + align - 1) & -align
        if aligned + size > region + rsize - 4:
            return 0
        self._unlink(region)
        if aligned != payload:
            # the region before grows to take the alignment gap
            bump = aligned - payload
            prev = self.start_of[region]
            self._set(prev, self.size[prev] + bump)
            self._drop(region)
            region += bump
            rsize -= bump
        if REGION + HEADER + size <= rsize:
            rest = region + HEADER + size
            self._set(region, size + HEADER)
            self._set(rest, rsize - size - HEADER)
            self._link(rest)
        else:
            self._set(region, rsize)
        return region + 4

    def _allocate(self, align, size):
        if align & (align - 1) or size > MAX_ALLOC_SIZE:
            return 0
        align = max(align, MALLOC_ALIGNMENT)
        size = validate_size(size)
        while True:
            b = bucket_of(size)
            mask = self.used_mask >> b
            while mask:
                skip = (mask & -mask).bit_length() - 1
                b += skip
                mask >>= skip
                head = -(b + 1)
                region = self.nxt[head]
                if region != head:
                    ptr = self._attempt(region, align, size)
                    if ptr:
                        return ptr
                    self._to_back(region, head)
                    b += 1
                    mask >>= 1
                else:
                    self.used_mask &= ~(1 << b)     # a stale bit: the bucket was empty
                    mask ^= 1
            largest = self.used_mask.bit_length() - 1
            head = -(largest + 1)
            region = self.nxt[head] if self.used_mask else None
            if self.used_mask >> 30:
                tries = MAX_TRIES_IN_LARGEST
                while region != head and tries > 0:
                    tries -= 1
                    ptr = self._attempt(region, align, size)
                    if ptr:
                        return ptr
                    region = self.nxt[region]
            if not self._claim(size + 3 * REGION):
                break
            # claimed: search again from the start, as the C code recurses
        # sbrk failed: finish the walk of the largest bucket where it stopped
        if region is not None:
            while region != head:
                ptr = self._attempt(region, align, size)
                if ptr:
                    return ptr
                region = self.nxt[region]
        return 0

    def malloc(self, size):
        return self._allocate(MALLOC_ALIGNMENT, size)

    def unsupported(self, size, align=None):
        return posix_memalign_refuses(align)

    def aligned_alloc(self, align, size):
        # What our module's aligned_alloc calls: posix_memalign(), which refuses
        # alignments that are not a multiple of 4 and then is emmalloc_memalign().
        # An alignment past 32 bits cannot reach a wasm32 module at all (its harness fails the
        # request without a call); searched for, it would claim memory up to the limit first.
        check_power_of_two(align, self.name)
        return self._allocate(align, size) if align % 4 == 0 and align >> 32 == 0 else 0

    # -- free -------------------------------------------------------------

    def free(self, ptr):
        region = ptr - 4
        start, size = region, self.size[region]
        nxt = region + size
        prev = self.start_of[region]
        if prev in self.free_set:
            self._unlink(prev)
            self._drop(region)
            start, size = prev, size + self.size[prev]
        if nxt in self.free_set:
            self._unlink(nxt)
            size += self.size[nxt]
            self._drop(nxt)
        self._set(start, size)
        self._link(start)

    # -- realloc ----------------------------------------------------------

    def _resize(self, region, new_size):
        """attempt_region_resize(): grow into a free right neighbour, or shrink, in place."""
        size = self.size[region]
        nxt = region + size
        if nxt in self.free_set:
            nxt_end = nxt + self.size[nxt]
            new_nxt = region + new_size
            if new_nxt + REGION <= nxt_end:
                self._unlink(nxt)
                self._drop(nxt)
                self._set(new_nxt, nxt_end - new_nxt)
                self._link(new_nxt)
                self._set(region, new_size)
                return True
            if new_nxt <= nxt_end:
                self._unlink(nxt)
                self._drop(nxt)
                self._set(region, size + (nxt_end - nxt))
                return True
            return False
        if new_size + REGION <= size:
            self._set(region, new_size)
            self._set(region + new_size, size - new_size)
            self._link(region + new_size)
            return True
        return new_size <= size

    def realloc(self, ptr, size):
        # C semantics: realloc(p, 0) frees p and returns NULL.
        if size == 0:
            self.free(ptr)
            return 0
        if size > MAX_ALLOC_SIZE:
            return 0
        size = validate_size(size)
        if self._resize(ptr - 4, size + HEADER):
            return ptr
        new = self._allocate(MALLOC_ALIGNMENT, size)
        if new:
            self.free(ptr)
        return new

    # -- inspection -------------------------------------------------------

    def _regions(self):
        """(start, size, free) for every region from the start sentinel to the break."""
        start = self.heap_base
        while start < self.block_end:
            size = self.size[start]
            yield start, size, start in self.free_set
            start += size

    def spans(self):
        raw = [(start, size, not free) for start, size, free in self._regions()]
        raw.append((self.block_end, self.memory.byte_length - self.block_end, False))
        return merge_spans(raw)

    def check(self):
        assert self.block_end == self.brk <= self.memory.byte_length, \
            f"region block ends at {self.block_end:#x}, break {self.brk:#x}"
        walked, last_free = 0, False
        for start, size, free in self._regions():
            assert size >= REGION and size % 4 == 0, f"region {start:#x} has bad size {size}"
            assert self.start_of[start + size] == start, f"region {start:#x}: ceiling does not match"
            assert not (free and last_free), f"free region {start:#x} follows another free region"
            last_free = free
            walked += 1
        assert walked == len(self.size), f"{len(self.size) - walked} regions lie off the walk"
        listed = set()
        for b in range(NUM_BUCKETS):
            head = -(b + 1)
            node = self.nxt[head]
            while node != head:
                assert bucket_of(self.size[node] - HEADER) == b, f"region {node:#x} in wrong bucket {b}"
                assert self.nxt[self.prv[node]] == node, f"broken free list at {node:#x}"
                assert node not in listed, f"region {node:#x} listed twice"
                listed.add(node)
                node = self.nxt[node]
            if head != self.nxt[head]:
                assert self.used_mask >> b & 1, f"bucket {b} non-empty but unmarked"
        assert listed == self.free_set, "free regions and bucket lists disagree"

"""mimalloc 2.0.9 as it builds for wasm32-wasi (Debian's source package, static.c).

Main entry point: `Mimalloc` (registered as "mimalloc"), address-exact against
wasm_modules/mimalloc.wasm. What that takes, in mimalloc's own terms (32-bit,
MI_SECURE 0, no padding, default options, one thread):

- Segments. Memory comes from sbrk in 4 MiB segments aligned to 4 MiB
  (os.c: current size rounded up to the alignment, the gap is lost). A
  segment's first 64 KiB (2 slices of 32 KiB) hold its header; the other 126
  slices form spans. Free spans coalesce with free neighbours and sit in
  LIFO span queues binned by slice count; a page takes the first span that is
  big enough, searching from its own bin up, and gives back the rest.
- Pages and bins. Requests up to 64 KiB go to one of 73 size bins (block
  size = the bin's largest size): blocks up to 8 KiB in 1-slice pages, up to
  64 KiB in 8-slice (256 KiB) pages; blocks of 4..1024 bytes start 384 bytes
  into their page. A page hands out its `free` list; frees go to `local_free`,
  which becomes the free list once `free` is empty; fresh capacity is added at
  most 4 KiB (at least 4 blocks) at a time, in address order. Pages of a bin
  form a queue, searched first to last; a new page goes in front, a full one
  moves to the full queue and comes back at the end when a block is freed.
- Retirement. A page whose last block is freed is given back to its segment,
  unless it is the only page of its bin (then it stays for 8 page-fresh
  searches, 2 for medium blocks).
- Large and huge. Requests over 64 KiB are rounded by _mi_os_good_alloc_size;
  up to 2 MiB they take a span of their own (rounded to 32 KiB, or 256 KiB
  above 256 KiB) whose whole size is the block; larger ones get a segment of
  their own, never reused once freed (sbrk memory is not given back).
- Segment cache. An empty 4 MiB segment is cached (slots, lowest first) and
  reused before memory grows. A failed request runs a forced collect (retired
  and empty pages freed, the cache dropped: those segments are lost) and
  tries once more.
- sbrk. mimalloc grows memory through wasi-libc's sbrk, whose increment is
  an intptr_t: asking 2 GiB or more at once (a huge block near 2 GiB) aborts,
  the module traps mid-malloc, and this model returns 0 with the state as it
  was at that point (no forced collect).
- The ABI: malloc/free/realloc, and aligned_alloc as posix_memalign (the
  alignment must be a multiple of 4: 1 and 2 fail). realloc keeps the block
  when the new size fits its usable size and is at least half of it.

malloc(0..4) returns 4-byte-aligned blocks (mimalloc's smallest bin is one
word), so this model's `alignment` is 4.

A run at its memory limit fails request after request, each with a forced
collect: the model keeps that cheap without changing what it does. The
collect's walk over every page of every queue only finds work on pages a free
reached since the last one (`touched`: only a free fills `local` or empties a
page), so it visits those, and of the queues only those that hold an empty one,
in the walk's own order; the segment cache counts its entries; a span search
that no free span can satisfy goes straight to a new segment, and one that
failed stays failed, for as many slices or more, until a span, the cache or the
memory changes (`refused`): it then only makes its refused memory.grow again.
And when the forced collect changed no span, the retry after it fails as the
first try did (every grow it made was refused, so memory is as it was, and its
bin's queue is empty now): it only makes the same refused memory.grow calls.
"""

from ..memory import PAGE
from .base import Allocator, check_power_of_two, merge_spans, posix_memalign_refuses

KiB, MiB = 1 << 10, 1 << 20
WORD = 4
SLICE = 32 * KiB                     # MI_SEGMENT_SLICE_SIZE on 32-bit
SEGMENT = 4 * MiB                    # MI_SEGMENT_SIZE, also its alignment
SEGMENT_MASK = SEGMENT - 1
INFO = 64 * KiB                      # segment header rounded to the OS page: 2 slices
SEGMENT_SLICES = SEGMENT // SLICE    # 128
SMALL_OBJ_MAX = 8 * KiB
MEDIUM_OBJ_MAX = 64 * KiB
LARGE_OBJ_MAX = 2 * MiB
MEDIUM_PAGE_SLICES = 8               # 256 KiB pages for medium blocks
SMALL_SIZE_MAX = 128 * WORD          # the "direct page" fast path
ALIGNMENT_MAX = SEGMENT // 2
MAX_ALIGN_GUARANTEE = 128
START_OFFSET = 3 * MAX_ALIGN_GUARANTEE   # blocks of 4..1024 bytes start this far in
HUGE_BLOCK = 1 << 31
PTRDIFF_MAX = (1 << 31) - 1
BIN_HUGE, BIN_FULL = 73, 74
SPAN_BINS = 36                       # MI_SEGMENT_BIN_MAX + 1
MAX_EXTEND = 4 * KiB
MIN_EXTEND = 4
RETIRE_CYCLES = 8
CACHE_SLOTS = 32 * 16                # MI_BITMAP_FIELD_BITS * MI_CACHE_FIELDS
SBRK_MAX = 1 << 31                   # wasi-libc's sbrk takes an intptr_t: 2 GiB or more aborts


def _bin(wsize):
    """page-queue.c mi_bin, by size in words. MI_MAX_ALIGN_SIZE (16) is 4 words
    here, so MI_ALIGN4W: sizes up to 16 words round up to 2 or 4 words first."""
    if wsize <= 1:
        return 1
    if wsize <= 4:
        return (wsize + 1) & ~1
    if wsize > MEDIUM_OBJ_MAX // WORD:
        return BIN_HUGE
    if wsize <= 16:
        wsize = (wsize + 3) & ~3
    w = wsize - 1
    b = w.bit_length() - 1
    return ((b << 2) + ((w >> (b - 2)) & 3)) - 3


def _span_bin(count):
    """segment.c mi_slice_bin8."""
    if count <= 1:
        return count
    count -= 1
    s = count.bit_length() - 1
    if s <= 2:
        return count + 1
    return ((s << 2) | ((count >> (s - 2)) & 3)) - 4


BIN_OF_WSIZE = [_bin(w) for w in range(MEDIUM_OBJ_MAX // WORD + 1)]
BIN_SIZE = [WORD] * (BIN_FULL + 1)           # block size of each bin: its largest size
for _w, _b in enumerate(BIN_OF_WSIZE):
    BIN_SIZE[_b] = max(BIN_SIZE[_b], _w * WORD)
BIN_SIZE[BIN_HUGE] = MEDIUM_OBJ_MAX + WORD
BIN_SIZE[BIN_FULL] = MEDIUM_OBJ_MAX + 2 * WORD
SPAN_BIN = [_span_bin(c) for c in range(SEGMENT_SLICES + 1)]


def good_alloc_size(size):
    """os.c _mi_os_good_alloc_size."""
    if size < 512 * KiB:
        a = PAGE
    elif size < 2 * MiB:
        a = 64 * KiB
    elif size < 8 * MiB:
        a = 256 * KiB
    elif size < 32 * MiB:
        a = MiB
    else:
        a = 4 * MiB
    if size >= (1 << 32) - a:
        return size
    return (size + a - 1) & -a


class SbrkAbort(Exception):
    """sbrk(n) with n >= 2 GiB: wasi-libc calls abort(), the module traps."""


class Segment:
    __slots__ = ("base", "size", "huge", "used")

    def __init__(self, base, size, huge):
        self.base, self.size, self.huge, self.used = base, size, huge, 0


class Page:
    """One page: a span of slices holding blocks of one size."""
    __slots__ = ("seg", "addr", "slices", "start", "bsize", "reserved", "capacity", "used",
                 "free", "local", "expire", "queue", "prev", "next")

    def __init__(self, seg, addr, slices, bsize):
        self.seg, self.addr, self.slices, self.bsize = seg, addr, slices, bsize
        offset = START_OFFSET if WORD <= bsize <= 1024 else 0
        self.start = addr + offset
        self.reserved = (slices * SLICE - offset) // bsize
        self.capacity = self.used = self.expire = 0
        self.free = []            # the free list, head last
        self.local = []           # local_free, head last
        self.queue = self.prev = self.next = None


class Queue:
    """A heap page queue: a doubly linked list of pages, first to last."""
    __slots__ = ("index", "block_size", "first", "last")

    def __init__(self, index):
        self.index, self.block_size, self.first, self.last = index, BIN_SIZE[index], None, None

    def push(self, page):
        """In front (mi_page_queue_push)."""
        page.queue, page.prev, page.next = self, None, self.first
        if self.first is not None:
            self.first.prev = page
        else:
            self.last = page
        self.first = page

    def append(self, page):
        """At the end (mi_page_queue_enqueue_from)."""
        page.queue, page.prev, page.next = self, self.last, None
        if self.last is not None:
            self.last.next = page
        else:
            self.first = page
        self.last = page

    def remove(self, page):
        if page.prev is not None:
            page.prev.next = page.next
        else:
            self.first = page.next
        if page.next is not None:
            page.next.prev = page.prev
        else:
            self.last = page.prev
        page.queue = page.prev = page.next = None

    def __iter__(self):
        page = self.first
        while page is not None:
            yield page
            page = page.next


class Mimalloc(Allocator):
    name = "mimalloc"
    summary = ("mimalloc 2.0.9: 4 MiB segments aligned to 4 MiB, size-class pages, "
               "free lists per page, cached empty segments")
    exact = "mimalloc"
    alignment = WORD
    default_start = (666336, 11)        # as wasm_modules/mimalloc.wasm: the ABI table below

    def __init__(self, memory, heap_base):
        super().__init__(memory, heap_base)
        self.queues = [Queue(i) for i in range(BIN_FULL + 1)]
        self.full = self.queues[BIN_FULL]
        self.retired_min, self.retired_max = BIN_FULL, 0
        self.blocks = {}                # returned pointer -> page
        self.unalign = {}               # aligned pointer -> its block, where they differ
        self.segments = {}              # base -> Segment in use
        self.free_spans = {}            # free span start -> slice count
        self.free_ends = {}             # free span end -> start
        self.span_queues = [{} for _ in range(SPAN_BINS)]   # insertion order: last = first
        self.cache = [None] * CACHE_SLOTS
        self.cached = 0                 # segments in the cache
        self.touched = set()            # pages a free reached since the last forced collect
        self.spans_changed = 0          # a count of changes to the free spans or the cache
        self.refused = None             # (spans_changed, pages, slices, grow) of a failed span search
        self.refused_grow = 0           # the page delta of the last memory.grow refused
        self.lost = []                  # (start, length) never handed out again
        self.floor = memory.byte_length     # memory below this was never mimalloc's

    # -- malloc / free / realloc / aligned_alloc ----------------------------

    def malloc(self, size):
        if size <= SMALL_SIZE_MAX:
            page = self.queues[BIN_OF_WSIZE[(size + 3) >> 2]].first
            if page is not None and page.free:
                page.used += 1
                p = page.free.pop()
                self.blocks[p] = page
                return p
        return self._malloc_generic(size, 0)

    def free(self, ptr):
        page = self.blocks.pop(ptr)
        if self.unalign:
            ptr = self.unalign.pop(ptr, ptr)
        page.local.append(ptr)
        self.touched.add(page)
        page.used -= 1
        if not page.used:
            self._retire(page)
        elif page.queue is self.full:
            self._unfull(page)

    def realloc(self, ptr, size):
        page = self.blocks[ptr]
        usable = page.bsize - (ptr - self.unalign.get(ptr, ptr))
        if 0 < size <= usable and size >= usable // 2:
            return ptr
        return super().realloc(ptr, size)       # malloc, then free the old block

    def unsupported(self, size, align=None):
        return posix_memalign_refuses(align)

    def aligned_alloc(self, align, size):
        """posix_memalign -> mi_malloc_aligned."""
        check_power_of_two(align, self.name)
        if align % WORD:
            return 0                                    # EINVAL
        if size > PTRDIFF_MAX:
            return 0                                    # refused before any collect
        if not size & (size - 1) and align <= size <= SMALL_SIZE_MAX:
            return self.malloc(size)
        if align <= size <= SMALL_SIZE_MAX:             # a free block that happens to fit
            page = self.queues[BIN_OF_WSIZE[(size + 3) >> 2]].first
            if page is not None and page.free and page.free[-1] % align == 0:
                page.used += 1
                p = page.free.pop()
                self.blocks[p] = page
                return p
        if align <= size <= MAX_ALIGN_GUARANTEE and size % align == 0:
            return self.malloc(size)
        if align > ALIGNMENT_MAX:
            p = self._malloc_generic(max(size, SMALL_SIZE_MAX + 1), align)
        else:
            p = self.malloc(size + align - 1)
        if not p:
            return 0
        q = (p + align - 1) & -align
        if q != p:
            self.unalign[q] = p
            self.blocks[q] = self.blocks.pop(p)
        return q

    # -- page level (page.c) ----------------------------------------------------

    def _malloc_generic(self, size, huge_align):
        try:
            calls = self.memory.grow_calls
            page = self._find_page(size, huge_align)
            if page is None:
                refused, changed = self.memory.grow_calls - calls, self.spans_changed
                self._collect_force()
                if self.spans_changed != changed or not refused:
                    page = self._find_page(size, huge_align)
                else:                   # the retry would only make the same refused grows
                    for _ in range(refused):
                        self.memory.grow(self.refused_grow)
        except SbrkAbort:
            return 0            # the real module traps here: a failed request, nothing undone
        if page is None:
            return 0
        page.used += 1
        p = page.free.pop()
        self.blocks[p] = page
        return p

    def _find_page(self, size, huge_align):
        if size > MEDIUM_OBJ_MAX or huge_align:
            if size > PTRDIFF_MAX:
                return None
            return self._large_huge_page(size, huge_align)
        pq = self.queues[BIN_OF_WSIZE[(size + 3) >> 2]]
        page = pq.first
        if page is not None:
            if not page.free and page.local:
                page.free, page.local = page.local, page.free
            if page.free:
                page.expire = 0
                return page
        return self._find_free(pq, True)

    def _find_free(self, pq, first_try):
        """mi_page_queue_find_free_ex: first page with a free block, extended, or fresh."""
        page = pq.first
        while page is not None:
            nxt = page.next
            if not page.free and page.local:
                page.free, page.local = page.local, page.free
            if page.free:
                break
            if page.capacity < page.reserved:
                self._extend(page)
                break
            pq.remove(page)                     # mi_page_to_full
            self.full.append(page)
            page = nxt
        if page is None:
            self._collect_retired(False)
            page = self._fresh_page(pq)
            if page is None and first_try:
                page = self._find_free(pq, False)
        else:
            page.expire = 0
        return page

    def _fresh_page(self, pq):
        bsize = pq.block_size
        slices = 1 if bsize <= SMALL_OBJ_MAX else MEDIUM_PAGE_SLICES
        found = self._span_alloc(slices)
        if found is None:
            return None
        page = Page(found[1], found[0], slices, bsize)
        self._extend(page)
        pq.push(page)
        return page

    def _large_huge_page(self, size, huge_align):
        bsize = good_alloc_size(size)
        if bsize > LARGE_OBJ_MAX or huge_align:
            page = self._huge_segment(bsize, huge_align)
        else:
            unit = MEDIUM_PAGE_SLICES * SLICE if bsize > MEDIUM_PAGE_SLICES * SLICE else SLICE
            slices = (bsize + unit - 1) // unit * unit // SLICE
            found = self._span_alloc(slices)
            page = found and Page(found[1], found[0], slices, slices * SLICE)
        if page is None:
            return None
        self._extend(page)
        self.queues[BIN_HUGE].push(page)
        return page

    def _extend(self, page):
        """mi_page_extend_free: the next blocks of the page, in address order."""
        if page.free or page.capacity >= page.reserved:
            return
        bsize = page.bsize
        extend = page.reserved - page.capacity
        limit = MIN_EXTEND if bsize >= MAX_EXTEND else max(MAX_EXTEND // bsize, MIN_EXTEND)
        if extend > limit:
            extend = limit
        first = page.start + page.capacity * bsize
        page.free = list(range(first + (extend - 1) * bsize, first - 1, -bsize))
        page.capacity += extend

    def _unfull(self, page):
        self.full.remove(page)
        self.queues[BIN_OF_WSIZE[page.bsize >> 2]].append(page)

    def _retire(self, page):
        """_mi_page_retire: keep the only page of a bin for a while, free the others."""
        pq = page.queue
        if page.bsize <= MEDIUM_OBJ_MAX and pq.index < BIN_HUGE \
                and pq.first is page and pq.last is page:
            page.expire = 1 + (RETIRE_CYCLES if page.bsize <= SMALL_OBJ_MAX
                               else RETIRE_CYCLES // 4)
            self.retired_min = min(self.retired_min, pq.index)
            self.retired_max = max(self.retired_max, pq.index)
            return
        self._page_free(page)

    def _collect_retired(self, force):
        if self.retired_min > self.retired_max:
            return                      # none retired (the range is then BIN_FULL, 0)
        lo, hi = BIN_FULL, 0
        for index in range(self.retired_min, self.retired_max + 1):
            page = self.queues[index].first
            if page is not None and page.expire:
                if not page.used:
                    page.expire -= 1
                    if force or not page.expire:
                        self._page_free(page)
                    else:
                        lo, hi = min(lo, index), max(hi, index)
                else:
                    page.expire = 0
        self.retired_min, self.retired_max = lo, hi

    def _collect_force(self):
        """mi_heap_collect(force): after a failed request, before the one retry. It walks
        every page of every queue: merges its local frees, frees it if empty. Pages no
        free reached since the last walk have neither, so only touched ones are seen."""
        self._collect_retired(True)
        empty = set()
        for page in self.touched:
            if page.queue is None:
                continue                            # given back already: not in the walk
            if page.local:
                page.free = page.free + page.local      # local_free in front of free
                page.local = []
            if not page.used:
                empty.add(page.queue.index)
        self.touched.clear()
        for index in sorted(empty):                 # freeing pages: in the walk's order
            page = self.queues[index].first
            while page is not None:
                nxt = page.next
                if not page.used:
                    self._page_free(page)
                page = nxt
        if self.cached:                             # the cache goes back to the "OS"
            for i, base in enumerate(self.cache):
                if base is not None:
                    self.lost.append((base, SEGMENT))
                    self.cache[i] = None
            self.cached = 0

    def _page_free(self, page):
        page.queue.remove(page)
        seg = page.seg
        if not seg.huge:
            self._span_free_coalesce(page.addr, page.slices)
        seg.used -= 1
        if not seg.used:
            self._segment_free(seg)

    # -- segment level (segment.c, segment-cache.c, os.c) ----------------------

    def _span_push(self, start, count):
        self.spans_changed += 1
        self.free_spans[start] = count
        self.free_ends[start + count * SLICE] = start
        self.span_queues[SPAN_BIN[count]][start] = None

    def _span_take(self, start):
        self.spans_changed += 1
        count = self.free_spans.pop(start)
        del self.free_ends[start + count * SLICE]
        del self.span_queues[SPAN_BIN[count]][start]
        return count

    def _span_free_coalesce(self, start, count):
        end = start + count * SLICE
        if end in self.free_spans:
            count += self._span_take(end)
        prev = self.free_ends.get(start)
        if prev is not None:
            count += self._span_take(prev)
            start = prev
        self._span_push(start, count)

    def _span_alloc(self, slices):
        """mi_segments_page_alloc: best-fitting bin first, a new segment if none fits."""
        refused = self.refused
        if refused is not None and refused[2] <= slices and \
                refused[:2] == (self.spans_changed, self.memory.pages):
            self.memory.grow(refused[3])            # nothing changed: refused as before
            return None
        while True:
            # the bins from the request's up hold a span that fits if any free span does
            if self.free_spans and max(self.free_spans.values()) >= slices:
                for queue in self.span_queues[SPAN_BIN[slices]:]:
                    for start in reversed(queue):
                        count = self.free_spans[start]
                        if count >= slices:
                            self._span_take(start)
                            if count > slices:
                                self._span_push(start + slices * SLICE, count - slices)
                            seg = self.segments[start & ~SEGMENT_MASK]
                            seg.used += 1
                            return start, seg
            if not self._segment_alloc():
                self.refused = (self.spans_changed, self.memory.pages, slices,
                                self.refused_grow)
                return None

    def _segment_alloc(self):
        base = None
        if self.cached:
            i = next(i for i, b in enumerate(self.cache) if b is not None)
            base, self.cache[i] = self.cache[i], None
            self.cached -= 1
        else:
            base = self._os_alloc(SEGMENT, SEGMENT)
            if base is None:
                return False
        self.segments[base] = Segment(base, SEGMENT, False)
        self._span_push(base + INFO, SEGMENT_SLICES - INFO // SLICE)
        return True

    def _huge_segment(self, bsize, align):
        """A segment holding one page of one block; with an alignment above
        ALIGNMENT_MAX the block is placed 4 MiB in, at the alignment."""
        if align:
            size = (bsize + SEGMENT + SLICE - 1) & -SLICE
            extra = align - SEGMENT
        else:
            size, extra = (bsize + INFO + SLICE - 1) & -SLICE, 0
        start = self._os_alloc(size + extra, align or SEGMENT)
        if start is None:
            return None
        base = start + extra
        if extra:
            self.lost.append((start, extra))
        # the segment spans what memory.grow gave it, rounded by good_alloc_size
        seg = self.segments[base] = Segment(base, good_alloc_size(size + extra) - extra, True)
        seg.used = 1
        slices = size // SLICE - INFO // SLICE
        return Page(seg, base + INFO, slices, slices * SLICE)

    def _os_alloc(self, size, align):
        """mi_heap_grow: grow from the current end, rounded up to `align`."""
        size = good_alloc_size(size)
        have = self.memory.byte_length
        base = (have + align - 1) & -align
        grow = -(-(base - have + size) // PAGE)
        if grow * PAGE >= SBRK_MAX:
            raise SbrkAbort
        if self.memory.grow(grow) == -1:
            self.refused_grow = grow
            return None
        if base > have:
            self.lost.append((have, base - have))
        return base

    def _segment_free(self, seg):
        del self.segments[seg.base]
        if not seg.huge:
            self._span_take(seg.base + INFO)
            if self.cached < CACHE_SLOTS:
                self.cache[self.cache.index(None)] = seg.base
                self.cached += 1
                return
        self.lost.append((seg.base, seg.size))

    # -- inspection -------------------------------------------------------

    def _pages(self):
        for pq in self.queues:
            yield from pq

    def spans(self):
        """Live blocks, segment headers, page padding, alignment gaps, huge
        segments and lost segments are used; free spans, cached segments, free
        and not yet extended blocks are free."""
        raw = [(self.heap_base, self.floor - self.heap_base, True)]
        raw += [(s, n, True) for s, n in self.lost]
        raw += [(b, SEGMENT, False) for b in self.cache if b is not None]
        raw += [(s, n * SLICE, False) for s, n in self.free_spans.items()]
        for seg in self.segments.values():
            raw.append((seg.base, seg.size if seg.huge else INFO, True))
        live = {}
        for p, page in self.blocks.items():
            live.setdefault(page, []).append(self.unalign.get(p, p))
        for page in self._pages():
            if page.seg.huge:
                continue
            raw.append((page.addr, page.start - page.addr, True))
            cursor, size = page.start, page.bsize
            for block in sorted(live.get(page, ())):
                raw += [(cursor, block - cursor, False), (block, size, True)]
                cursor = block + size
            top = page.start + page.reserved * size
            raw += [(cursor, top - cursor, False), (top, page.addr + page.slices * SLICE - top, True)]
        raw.sort()
        out, cursor = [], self.heap_base
        for start, length, used in raw:
            if start > cursor:                   # not the allocator's to hand out
                out.append((cursor, start - cursor, True))
            out.append((start, length, used))
            cursor = max(cursor, start + length)
        out.append((cursor, self.memory.byte_length - cursor, False))
        return merge_spans(out)

    def check(self):
        """Segments, spans, pages and blocks: disjoint, inside memory, counted right."""
        end = self.memory.byte_length
        for base, seg in self.segments.items():
            assert base % SEGMENT == 0 and base + seg.size <= end, f"segment {base:#x} misplaced"
        spans = sorted(self.free_spans.items())
        for (s, n), nxt in zip(spans, spans[1:] + [(None, 0)]):
            seg = self.segments.get(s & ~SEGMENT_MASK)
            assert seg is not None and not seg.huge, f"free span {s:#x} outside a segment"
            assert s >= seg.base + INFO and s + n * SLICE <= seg.base + SEGMENT, \
                f"free span {s:#x}+{n} leaves its segment"
            assert nxt[0] is None or s + n * SLICE < nxt[0], \
                f"free spans {s:#x} and {nxt[0]:#x} touch or overlap: not coalesced"
            assert self.free_ends[s + n * SLICE] == s and s in self.span_queues[SPAN_BIN[n]], \
                f"free span {s:#x} missing from its queue"
        assert sum(map(len, self.span_queues)) == len(spans), "span queues hold stale spans"
        assert self.cached == CACHE_SLOTS - self.cache.count(None), "cache count is off"
        pages = {}
        for pq in self.queues:
            for page in pq:
                assert page.queue is pq, f"page {page.addr:#x} in the wrong queue"
                assert page.seg.base in self.segments, f"page {page.addr:#x} in a freed segment"
                pages[page.addr] = page
                if pq.index < BIN_HUGE:
                    assert pq.block_size == page.bsize, f"page {page.addr:#x} in bin {pq.index}"
                assert page in self.touched or (page.used and not page.local), \
                    f"page {page.addr:#x} holds frees no forced collect would see"
                stored = len(page.free) + len(page.local)
                assert page.used + stored == page.capacity <= page.reserved, \
                    f"page {page.addr:#x}: {page.used} used + {stored} free != {page.capacity}"
        live = {}
        for p, page in self.blocks.items():
            block = self.unalign.get(p, p)
            assert page.addr in pages, f"block {p:#x} in a page no queue holds"
            assert (block - page.start) % page.bsize == 0 and \
                block < page.start + page.capacity * page.bsize, f"block {p:#x} misplaced"
            live[page] = live.get(page, 0) + 1
        for page in pages.values():
            assert live.get(page, 0) == page.used, \
                f"page {page.addr:#x} counts {page.used} used, {live.get(page, 0)} live"
        used = {}
        for page in pages.values():
            used[page.seg] = used.get(page.seg, 0) + 1
            if not page.seg.huge:
                s, e = page.addr, page.addr + page.slices * SLICE
                assert not any(s <= f < e for f in self.free_spans), \
                    f"page {page.addr:#x} overlaps a free span"
        for seg in self.segments.values():
            assert used.get(seg, 0) == seg.used, f"segment {seg.base:#x} page count off"


"""Doug Lea's malloc 2.8.6 as the WebAssembly toolchains configure it.

Owns the dlmalloc model and its three configurations: wasi-libc's
(`Dlmalloc`, registered as "dlmalloc"), Rust std's port dlmalloc-rs
(`RustDlmalloc`, "rust-dlmalloc") and Emscripten's (`EmscriptenDlmalloc`,
"emscripten-dlmalloc"). Main entry point: `Dlmalloc.malloc`.

Address-exact: same requests from the same `__heap_base` and initial pages
give the same addresses and the same `memory.grow` calls as the real builds.
What that takes, in dlmalloc's own terms (32-bit size_t, FOOTERS off):

- Chunks. A chunk starts with prev_foot and head words, the payload ("mem")
  8 bytes in; an in-use chunk costs 4 bytes of overhead, sizes are multiples
  of MALLOC_ALIGNMENT and at least MIN_CHUNK_SIZE (16). Chunk sizes below 256
  live in 32 smallbins (LIFO lists), larger ones in treebins: bitwise tries
  keyed by size, where same-sized chunks hang off one tree node in a ring.
- Choosing a chunk (dlmalloc()): small requests take an exact smallbin fit,
  else (if the designated victim "dv" is too small) the next non-empty
  smallbin or the smallest tree chunk, whose remainder becomes the new dv;
  large requests take the best-fitting tree chunk unless dv fits as well.
  Then dv is split, then the top chunk, then memory is obtained (sys_alloc).
- The trie search is exact best fit, and the chunk it returns for a size is
  always the tree node of that size, which is the oldest chunk of that size
  still free (a newcomer joins the ring behind the node; when the node leaves,
  the oldest ring member takes its place). So the model keeps one sorted list
  of free sizes and a FIFO per size: the same choices as the trie, without
  its pointer structure.
- free() and the remainders of realloc/memalign merge with free neighbours on
  both sides, into dv or top when they touch them, and are otherwise binned.
  Memory is never given back (MORECORE_CANNOT_TRIM / no trim on wasm).
- Growth differs per configuration (see each class): where the first segment
  starts, and how much is asked for at a time.

Trace requests the real module cannot serve return 0 here with the same state
(and the same memory growth) the real allocator is left in.
"""

from bisect import bisect_left, insort

from ..memory import PAGE
from .base import Allocator, merge_spans, posix_memalign_refuses

# ---------------------------------------------------------------------------
# wasm32 constants of malloc.c
# ---------------------------------------------------------------------------

M32 = 0xFFFFFFFF                 # size_t arithmetic wraps at 32 bits
HALF_MAX = 1 << 31               # HALF_MAX_SIZE_T: sbrk sizes must stay below it
SIZE_T = 4
MEM_OFFSET = 2 * SIZE_T          # chunk2mem: prev_foot + head
CHUNK_OVERHEAD = 4               # an in-use chunk's cost (its head word)
SEGMENT_RECORD = 16              # sizeof(struct malloc_segment)
NSMALLBINS = 32
SMALLBIN_SHIFT = 3
MIN_LARGE_SIZE = 256             # chunk sizes from here on go to treebins
MAX_SMALL_SIZE = MIN_LARGE_SIZE - 1


class Dlmalloc(Allocator):
    """wasi-libc's dlmalloc (wasi-libc 2022-05-10, as in Debian's wasi-libc package).

    Configuration (dlmalloc/src/dlmalloc.c): MALLOC_ALIGNMENT 16, no mmap,
    MORECORE = wasi-libc's sbrk, which only grows memory by whole pages and
    whose break is the end of memory; granularity 64 KiB (sysconf page size).
    On the first malloc, the memory between `__heap_base` and the end of
    memory becomes the first segment, if it holds more than 88 bytes;
    otherwise the first sbrk starts the heap at the end of memory.
    """

    name = "dlmalloc"
    summary = "Doug Lea's malloc 2.8.6 from wasi-libc: bins, tree bins, dv, top; sbrk growth"
    exact = "wasi-libc dlmalloc"
    alignment = 16
    default_start = (67072, 2)     # a small wasi-libc reactor: 64 KiB stack, 1 KiB data
    granularity = PAGE             # DEFAULT_GRANULARITY 0 -> the page size
    page_size = PAGE               # what MORECORE(0) results are page-aligned to
    claims_gap = True              # wasi-libc's [__heap_base, memory end) first segment
    lead_strict = False            # memalign: a leader of MIN_CHUNK_SIZE is allowed

    def __init__(self, memory, heap_base):
        super().__init__(memory, heap_base)
        a = self.alignment
        self.mask = a - 1
        self.pad_add, self.neg = CHUNK_OVERHEAD + self.mask, -a  # pad: (req + pad_add) & neg
        self.min_chunk = (16 + a - 1) & -a                       # MIN_CHUNK_SIZE
        self.min_request = self.min_chunk - CHUNK_OVERHEAD - 1    # MIN_REQUEST
        self.max_small_request = MAX_SMALL_SIZE - self.mask - CHUNK_OVERHEAD
        self.max_request = (-self.min_chunk << 2) & M32           # MAX_REQUEST
        self.top_foot = (((-MEM_OFFSET) & self.mask)              # TOP_FOOT_SIZE
                         + self.pad(SEGMENT_RECORD) + self.min_chunk)
        self.sys_pad = self.top_foot + a                          # SYS_ALLOC_PADDING
        # -- chunk state --
        self.inuse = {}          # in-use chunk -> size
        # binned free chunks (dv and top are not binned), by both edges: start -> size
        # and end -> -start (its prev_foot). Binned chunks are never adjacent, so one
        # chunk's end is never another's start: one dict serves both lookups.
        self.edge = {}
        self.small = [{} for _ in range(NSMALLBINS)]   # LIFO: newest last
        self.smallmap = 0
        self.tree = {}           # size -> its tree node: the oldest free chunk of that size
        self.ring = {}           # size -> the newer chunks of that size, oldest first (rare)
        self.tsizes = []         # sorted sizes present in `tree`
        self.dv = self.dvsize = 0       # designated victim; dv is 0 exactly when dvsize is
        self.top = self.topsize = 0
        self.seg_base = self.seg_size = 0
        self.contiguous = True   # cleared for good once a contiguous sbrk fails

    def pad(self, req):
        """pad_request: chunk size for `req` payload bytes."""
        return (req + self.pad_add) & self.neg

    def request2size(self, req):
        return self.min_chunk if req < self.min_request else self.pad(req)

    # -- bins -----------------------------------------------------------------

    def _insert(self, p, s):
        """insert_chunk: bin a free chunk (smallbin, tree node, or the node's ring)."""
        edge = self.edge
        edge[p] = s
        edge[p + s] = -p
        if s < MIN_LARGE_SIZE:
            idx = s >> SMALLBIN_SHIFT
            self.small[idx][p] = None
            self.smallmap |= 1 << idx
        elif s in self.tree:
            self.ring.setdefault(s, []).append(p)
        else:
            self.tree[s] = p
            insort(self.tsizes, s)

    def _unlink(self, p, s):
        """unlink_chunk: take a binned free chunk out of its bin."""
        edge = self.edge
        del edge[p]
        del edge[p + s]
        if s < MIN_LARGE_SIZE:
            idx = s >> SMALLBIN_SHIFT
            b = self.small[idx]
            del b[p]
            if not b:
                self.smallmap &= ~(1 << idx)
        elif self.tree[s] == p:
            self._untree(s, bisect_left(self.tsizes, s))
        else:
            same = self.ring[s]
            same.remove(p)
            if not same:
                del self.ring[s]

    def _untree(self, s, i):
        """The tree node of size s (tsizes[i]) leaves: the oldest of its ring takes its place."""
        same = self.ring.get(s)
        if same is None:
            del self.tree[s]
            del self.tsizes[i]
        else:
            self.tree[s] = same.pop(0)
            if not same:
                del self.ring[s]

    def _take_small(self, idx):
        """The first chunk of smallbin idx (the most recently binned one)."""
        b = self.small[idx]
        p = b.popitem()[0]
        if not b:
            self.smallmap &= ~(1 << idx)
        edge = self.edge
        del edge[p + edge.pop(p)]
        return p

    def _take_tree(self, s, i):
        """The tree node of size s (tsizes[i]): the oldest free chunk of that size."""
        p = self.tree[s]
        self._untree(s, i)
        edge = self.edge
        del edge[p]
        del edge[p + s]
        return p

    def _replace_dv(self, p, s):
        """replace_dv: the old dv (always small here) goes to its smallbin."""
        if self.dvsize:
            self._insert(self.dv, self.dvsize)
        self.dv, self.dvsize = p, s

    # -- malloc ---------------------------------------------------------------

    def malloc(self, nbytes):
        # The common paths (a tree chunk for a large request, dv) are written out here
        # rather than in helpers: fewer calls and attribute lookups per request.
        inuse = self.inuse
        if nbytes <= self.max_small_request:
            nb = self.min_chunk if nbytes < self.min_request else (nbytes + self.pad_add) & self.neg
            idx = nb >> SMALLBIN_SHIFT
            smallbits = self.smallmap >> idx
            if smallbits & 3:
                # remainderless fit: this bin, or the next one up (8 bytes more)
                idx += ~smallbits & 1
                p = self._take_small(idx)
                inuse[p] = idx << SMALLBIN_SHIFT
                return p + MEM_OFFSET
            if nb > self.dvsize:
                if smallbits:
                    # next non-empty smallbin (two or more bins up, so it always splits)
                    left = smallbits << idx
                    i = (left & -left).bit_length() - 1
                    p = self._take_small(i)
                    inuse[p] = nb
                    self._replace_dv(p + nb, (i << SMALLBIN_SHIFT) - nb)
                    return p + MEM_OFFSET
                if self.tsizes:
                    # tmalloc_small: the smallest tree chunk; its remainder is the new dv
                    s = self.tsizes[0]
                    p = self._take_tree(s, 0)
                    if s - nb < self.min_chunk:
                        inuse[p] = s
                    else:
                        inuse[p] = nb
                        self._replace_dv(p + nb, s - nb)
                    return p + MEM_OFFSET
        elif nbytes >= self.max_request:
            nb = M32                          # sys_alloc refuses it
        else:
            nb = (nbytes + self.pad_add) & self.neg
            ts = self.tsizes
            i = bisect_left(ts, nb)
            if i < len(ts):
                # tmalloc_large: the best-fitting tree chunk, unless dv fits at least as well
                s = ts[i]
                rsize = s - nb
                dvsize = self.dvsize
                if nb > dvsize or rsize < dvsize - nb:
                    tree = self.tree
                    p = tree[s]
                    if s in self.ring:
                        self._untree(s, i)
                    else:
                        del tree[s]
                        del ts[i]
                    edge = self.edge
                    del edge[p]
                    if rsize < self.min_chunk:
                        del edge[p + s]
                        inuse[p] = s
                    else:
                        # the remainder keeps the chunk's end (its foot is rewritten)
                        self._insert(p + nb, rsize)
                        inuse[p] = nb
                    return p + MEM_OFFSET
        dvsize = self.dvsize
        if nb <= dvsize:
            p = self.dv
            rsize = dvsize - nb
            if rsize >= self.min_chunk:
                self.dv, self.dvsize = p + nb, rsize
                inuse[p] = nb
            else:
                self.dv = self.dvsize = 0
                inuse[p] = dvsize
            return p + MEM_OFFSET
        return self._take_top(nb) or self._sys_alloc(nb)

    # -- obtaining memory -----------------------------------------------------

    def _init_top(self, p, size):
        """init_top: top starts at the first aligned chunk position at or after p."""
        off = (-(p + MEM_OFFSET)) & self.mask
        self.top, self.topsize = p + off, size - off

    def _take_top(self, nb):
        """Split a chunk off the bottom of top, if top stays non-empty; else 0."""
        if nb < self.topsize:
            p = self.top
            self.top = p + nb
            self.topsize -= nb
            self.inuse[p] = nb
            return p + MEM_OFFSET
        return 0

    def _extend(self, tbase, tsize):
        """Make [tbase, tbase + tsize) part of the heap: the first segment, or top's growth."""
        if not self.top:
            self.seg_base, self.seg_size = tbase, tsize
            self._init_top(tbase, tsize - self.top_foot)
            return
        # Memory only ever grows through this allocator, so a new region always
        # starts where the segment ends: dlmalloc appends it to top (its
        # add_segment / prepend_alloc paths for foreign regions never run).
        assert tbase == self.seg_base + self.seg_size, \
            f"{self.name}: new region {tbase:#x} does not extend the segment"
        self.seg_size += tsize
        self._init_top(self.top, self.topsize + tsize)

    def _sbrk(self, increment):
        """wasi-libc's sbrk: the break is the end of memory; grows by whole pages. None = fail."""
        if increment == 0:
            return self.memory.byte_length
        old = self.memory.grow(increment // PAGE)
        return None if old == -1 else old * PAGE

    def _claim_initial(self):
        """wasi-libc's first-malloc hook: [__heap_base, memory end) as the first segment."""
        size = self._sbrk(0) - self.heap_base
        if size > self.min_chunk + self.top_foot + self.alignment:
            self._extend(self.heap_base, size)

    def _sys_alloc(self, nb):
        """sys_alloc with MORECORE only: grow the segment by what top lacks, rounded
        to the granularity; after a failed contiguous sbrk, by the whole request."""
        if not self.top and self.claims_gap:
            self._claim_initial()
            mem = self._take_top(nb)
            if mem:
                return mem
        gran = self.granularity
        asize = (nb + self.sys_pad + gran - 1) & M32 & -gran
        if asize <= nb:
            return 0                                    # wrapped around
        tbase = None
        if self.contiguous:
            if not self.top:                            # first time: start at the break
                base = self._sbrk(0)
                ssize = asize + (-base & (self.page_size - 1))
                if nb < ssize < HALF_MAX:
                    br = self._sbrk(ssize)
                    if br == base:
                        tbase, tsize = base, ssize
            else:                                       # ask only for what top lacks
                ssize = (nb - self.topsize + self.sys_pad + gran - 1) & M32 & -gran
                if ssize < HALF_MAX:
                    br = self._sbrk(ssize)
                    if br is not None:
                        tbase, tsize = br, ssize
            if tbase is None:
                # (a break that moved elsewhere cannot happen: nothing else calls sbrk)
                self.contiguous = False
        if tbase is None and asize < HALF_MAX:          # the non-contiguous MORECORE path
            br = self._sbrk(asize)
            end = self._sbrk(0)
            if br is not None and end - br > nb + self.top_foot:
                tbase, tsize = br, end - br
        if tbase is None:
            return 0
        self._extend(tbase, tsize)
        return self._take_top(nb)

    # -- free -----------------------------------------------------------------

    def free(self, mem):
        """free(), which is dispose_chunk: merge with free neighbours, then bin."""
        p = mem - MEM_OFFSET
        psize = self.inuse.pop(p)
        nxt = p + psize
        dv = self.dv
        edge = self.edge
        prev = edge.get(p)
        if prev is not None:                            # a binned chunk before p
            prev = -prev
            self._unlink(prev, p - prev)
            psize += p - prev
            p = prev
        elif dv and dv + self.dvsize == p:              # dv before p
            psize += self.dvsize
            p = dv
            if nxt in self.inuse:
                self.dvsize = psize
                return
        if nxt == self.top:
            self.top = p
            self.topsize += psize
            if p == dv:
                self.dv = self.dvsize = 0
            return
        if nxt == dv:
            self.dv = p
            self.dvsize += psize
            return
        nsize = edge.get(nxt)
        if nsize is not None:
            self._unlink(nxt, nsize)
            psize += nsize
            if p == dv:
                self.dvsize = psize
                return
        self._insert(p, psize)

    _free = free        # the chunk-level free, which RustDlmalloc's `free` wraps

    def _dispose(self, p, psize):
        """dispose_chunk of a chunk that is no block (a remainder, a leader): freed as one."""
        self.inuse[p] = psize
        self._free(p + MEM_OFFSET)

    # -- realloc --------------------------------------------------------------

    def realloc(self, mem, nbytes):
        if nbytes >= self.max_request:
            return 0
        if self._resize_in_place(mem - MEM_OFFSET, self.request2size(nbytes)):
            return mem
        new = self.malloc(nbytes)
        if new:
            self.free(mem)
        return new

    def _resize_in_place(self, p, nb):
        """try_realloc_chunk: shrink, or grow into top, dv or a free right neighbour."""
        inuse = self.inuse
        oldsize = inuse[p]
        nxt = p + oldsize
        if oldsize >= nb:
            if oldsize - nb >= self.min_chunk:
                inuse[p] = nb
                self._dispose(p + nb, oldsize - nb)
            return True
        if nxt == self.top:
            room = oldsize + self.topsize
            if room <= nb:
                return False
            inuse[p] = nb
            self.top, self.topsize = p + nb, room - nb
            return True
        if nxt == self.dv:
            room = oldsize + self.dvsize
            if room < nb:
                return False
            if room - nb >= self.min_chunk:
                inuse[p] = nb
                self.dv, self.dvsize = p + nb, room - nb
            else:
                inuse[p] = room
                self.dv = self.dvsize = 0
            return True
        nsize = self.edge.get(nxt)
        if nsize is None or oldsize + nsize < nb:
            return False
        self._unlink(nxt, nsize)
        room = oldsize + nsize
        if room - nb < self.min_chunk:
            inuse[p] = room
        else:
            inuse[p] = nb
            self._dispose(p + nb, room - nb)
        return True

    # -- aligned allocation ---------------------------------------------------

    def unsupported(self, size, align=None):
        return posix_memalign_refuses(align)

    def aligned_alloc(self, align, size):
        """posix_memalign, which wasm_modules/src/abi.c exports as aligned_alloc."""
        if align == self.alignment:
            return self.malloc(size)
        d = align // 4                                  # alignment / sizeof(void*)
        if align % 4 or not d or d & (d - 1):
            return 0                                    # EINVAL
        if size > self.max_request - align:
            return 0                                    # ENOMEM
        return self._memalign(max(align, self.min_chunk), size)

    def _memalign(self, align, nbytes):
        """internal_memalign: over-allocate, then give back the leader and the tail."""
        mc = self.min_chunk
        align = max(align, mc)
        if nbytes >= self.max_request - align:
            return 0
        nb = self.request2size(nbytes)
        mem = self.malloc((nb + align + mc - CHUNK_OVERHEAD) & M32)
        if not mem:
            return 0
        p = mem - MEM_OFFSET
        inuse = self.inuse
        if mem & (align - 1):
            br = ((mem + align - 1) & -align) - MEM_OFFSET
            lead = br - p
            if lead < mc or (lead == mc and self.lead_strict):
                br += align
                lead += align
            inuse[br] = inuse.pop(p) - lead
            self._dispose(p, lead)
            p = br
        size = inuse[p]
        if size > nb + mc:
            inuse[p] = nb
            self._dispose(p + nb, size - nb)
        return p + MEM_OFFSET

    # -- inspection -----------------------------------------------------------

    def _binned(self):
        """start -> size of every binned free chunk."""
        return {p: s for p, s in self.edge.items() if s > 0}

    def _chunks(self):
        """(start, size, used) of every chunk, dv and top included, in address order."""
        out = [(p, s, True) for p, s in self.inuse.items()]
        out += [(p, s, False) for p, s in self._binned().items()]
        if self.dvsize:
            out.append((self.dv, self.dvsize, False))
        out.sort()
        out.append((self.top, self.topsize, False))
        return out

    def spans(self):
        end = self.memory.byte_length
        if not self.top:
            return merge_spans([(self.heap_base, end - self.heap_base, False)])
        # A chunk's first word (prev_foot) belongs to the chunk before it: the
        # payload of an in-use chunk, the size footer of a free one. So each
        # chunk's span runs from its head word to the next chunk's prev_foot.
        seg_end = self.seg_base + self.seg_size
        first = self.seg_base + ((-(self.seg_base + MEM_OFFSET)) & self.mask) + SIZE_T
        # below the first segment: never claimed, never handed out (Rust's port
        # takes fresh pages from memory.grow above the initial memory): overhead
        raw = [(self.heap_base, self.seg_base - self.heap_base, True),
               (self.seg_base, first - self.seg_base, True)]              # alignment pad
        raw += [(p + SIZE_T, s, used) for p, s, used in self._chunks()]
        top_end = self.top + self.topsize + SIZE_T
        raw.append((top_end, seg_end - top_end, True))                     # segment footer
        raw.append((seg_end, end - seg_end, False))                        # past the break
        return merge_spans(raw)

    def check(self):
        """dlmalloc's check_malloc_state: chunk walk, bin membership, top and footprint."""
        if not self.top:
            assert not (self.inuse or self.edge or self.dvsize), "chunks before any segment"
            return
        a, mc = self.alignment, self.min_chunk
        seg_end = self.seg_base + self.seg_size
        assert self.heap_base <= self.seg_base and seg_end <= self.memory.byte_length, \
            f"segment [{self.seg_base:#x}, {seg_end:#x}) outside the heap"
        cursor = self.seg_base + ((-(self.seg_base + MEM_OFFSET)) & self.mask)
        prev_free = False
        for p, s, used in self._chunks():
            assert p == cursor, f"chunk {p:#x} does not follow the chunk ending at {cursor:#x}"
            assert (p + MEM_OFFSET) % a == 0 and s % a == 0, f"misaligned chunk {p:#x}+{s}"
            assert s >= mc or (p == self.top and s >= 0), f"chunk {p:#x} smaller than {mc}"
            assert used or not prev_free, f"free chunk {p:#x} follows a free chunk (PINUSE)"
            prev_free = not used
            cursor = p + s
        assert cursor + self.top_foot == seg_end, \
            f"top {self.top:#x}+{self.topsize} is not last in the segment ending {seg_end:#x}"
        assert bool(self.dv) == bool(self.dvsize), "dv and dvsize disagree"
        binned = self._binned()
        assert self.dv not in binned, "dv is also binned"
        for p, s in binned.items():
            assert self.edge.get(p + s) == -p, f"free chunk {p:#x}: foot missing"
            if s < MIN_LARGE_SIZE:
                assert p in self.small[s >> SMALLBIN_SHIFT], f"free chunk {p:#x} not in its smallbin"
            else:
                assert self.tree.get(s) == p or p in self.ring.get(s, ()), \
                    f"free chunk {p:#x} not in its treebin"
        assert len(self.edge) == 2 * len(binned), "stale chunk feet"
        for idx, b in enumerate(self.small):
            assert bool(b) == bool(self.smallmap >> idx & 1), f"smallmap bit {idx} is wrong"
            for p in b:
                assert binned.get(p) == idx << SMALLBIN_SHIFT, f"{p:#x} in wrong smallbin"
        assert self.tsizes == sorted(self.tree), "tree sizes out of order"
        assert all(s in self.tree and same for s, same in self.ring.items()), "a ring without a node"
        assert len(self.tree) + sum(map(len, self.ring.values())) + sum(map(len, self.small)) == \
            len(binned), "a binned chunk is in two bins"


# ---------------------------------------------------------------------------
# Rust std's port (dlmalloc-rs 0.2.x, wasm32-unknown-unknown, Rust 1.63)
# ---------------------------------------------------------------------------

class RustDlmalloc(Dlmalloc):
    """Rust std's `System` allocator on wasm32-unknown-unknown: dlmalloc-rs.

    The same algorithm with MALLOC_ALIGNMENT 8 (two usizes). Its sys_alloc
    calls memory.grow directly for `nb + TOP_FOOT_SIZE + 8` rounded up to 64
    KiB, without subtracting what top already holds, and the first segment is
    the first region grown (memory below the initial end, `__heap_base`
    included, is never used). memalign wants a leader strictly larger than
    MIN_CHUNK_SIZE.

    Also modelled: what wasm_modules/src/tracking.rs does around it. Requests
    go through `Layout` (size at least 1 and, in Rust 1.63, at most usize::MAX
    less the alignment, else 0 before the allocator is called; later Rust
    versions stop at isize::MAX), alignments above 8 go to memalign, and a
    block allocated with such an alignment is reallocated by memalign + copy +
    free (dlmalloc-rs's `realloc` for over-aligned blocks).
    """

    name = "rust-dlmalloc"
    summary = "Rust std's dlmalloc port (wasm32-unknown-unknown): dlmalloc with page-granular memory.grow"
    exact = "rust-dlmalloc"
    alignment = 8
    default_start = (1048576, 17)    # rustc's cdylib: 1 MiB stack, then data
    claims_gap = False
    lead_strict = True

    def __init__(self, memory, heap_base):
        super().__init__(memory, heap_base)
        self.aligns = {}             # mem -> alignment, for blocks aligned above 8

    def _sys_alloc(self, nb):
        gran = self.granularity
        asize = (nb + self.top_foot + self.alignment + gran - 1) & M32 & -gran
        old = self.memory.grow(asize // PAGE)
        if old == -1:
            return 0
        self._extend(old * PAGE, asize)
        return self._take_top(nb)

    def malloc(self, nbytes):
        if nbytes >= self.max_request:
            # Layout refuses sizes past usize::MAX - 7; dlmalloc-rs refuses the
            # rest itself, where C would let sys_alloc refuse them
            return 0
        return super().malloc(nbytes or 1)

    unsupported = Allocator.unsupported       # Layout takes any power of two

    def aligned_alloc(self, align, size):
        align = max(align, self.alignment)
        if align & (align - 1) or max(size, 1) > M32 - (align - 1):
            return 0
        if align <= self.alignment:
            return self.malloc(size)
        mem = self._memalign(align, size or 1)
        if mem:
            self.aligns[mem] = align
        return mem

    def free(self, mem):
        self.aligns.pop(mem, None)
        super().free(mem)

    def realloc(self, mem, nbytes):
        nbytes = nbytes or 1
        align = self.aligns.get(mem)
        if align is None:
            return super().realloc(mem, nbytes)
        new = self._memalign(align, nbytes)
        if new:
            self.free(mem)
            self.aligns[new] = align
        return new


# ---------------------------------------------------------------------------
# Emscripten's dlmalloc (system/lib/dlmalloc.c, Emscripten 3.1.6)
# ---------------------------------------------------------------------------

class EmscriptenDlmalloc(Dlmalloc):
    """`emcc -sMALLOC=dlmalloc` (standalone wasm, memory growth allowed).

    The same malloc.c with MALLOC_ALIGNMENT 8 and a 4 KiB page size, so a
    4 KiB granularity. Emscripten's sbrk keeps its own break, starting at
    `__heap_base` (4-byte steps), and grows memory by the pages the new break
    needs. The first segment starts at `__heap_base` and is sized to end on a
    4 KiB boundary; memory past the break stays unused until sbrk reaches it.
    """

    name = "emscripten-dlmalloc"
    summary = "Emscripten's dlmalloc: 8-byte alignment, 4 KiB granularity, sbrk from __heap_base"
    exact = "emscripten-dlmalloc"
    alignment = 8
    default_start = (591392, 16)      # as wasm_modules/emscripten-dlmalloc.wasm: 1 MiB memory
    granularity = 4096
    page_size = 4096
    claims_gap = False

    def __init__(self, memory, heap_base):
        super().__init__(memory, heap_base)
        self.brk = heap_base

    def _sbrk(self, increment):
        old = self.brk
        new = old + ((increment + 3) & ~3 & M32)
        if new > M32:
            return None                                 # past 4 GiB
        have = self.memory.byte_length
        if new > have and self.memory.grow(-(-(new - have) // PAGE)) == -1:
            return None
        self.brk = new
        return old

"""talc 4.4.2 (SFBdragon/talc) on wasm32 as `TalckWasm`, the configuration its README gives
for WebAssembly: `Talc<WasmHandler>` behind lock_api with `AssumeUnlockable`.

Owns the model of talc's bins, chunk tags and wasm heap growth. Main entry point:
`Talc.malloc`.

Address-exact against the talc module (wasm_modules/, talc 4.4.2 built from its
tag under src/global_alloc.rs): the same addresses and memory sizes, event by event
(tests/fidelity/test_rust_allocators.py).

What the model does, after the source (wasm32: 4-byte words, ALIGN 4):

- Chunks. An allocated chunk ends in a one-word tag (its base address with an
  "allocated" and an "above is free" flag); a chunk is at least 12 bytes. The
  block sits at the chunk's base, or above it at the first address of the wanted
  alignment; the tag goes at the first word past the block, or at the chunk's top
  (the word before it then points to the tag). Free gaps hold a list node and
  their size at both ends; gaps never touch each other.
- Bins. 64 bins: one per word up to 64 bytes, per two words up to 128, then two per
  power of two (the last bin takes everything from 2^36 up). Each bin is a list,
  newest gap first; a request looks in the first non-empty bin that could hold it
  and walks on until a gap fits (for alignments above 4 -- malloc's 8 included --
  each gap is checked for room after aligning). A chosen gap is split: what lies
  below an aligned block becomes a gap if it is at least 12 bytes (else the chunk
  takes it), what lies above the tag likewise.
- Memory. Nothing below the first `memory.grow` is used (the initial pages,
  `__heap_base` included). On a miss the handler grows by
  ceil(max(size + 8, 2 x align) / 64 KiB) pages, halving the request while
  memory.grow refuses it; the first growth becomes the heap (a 4-byte base tag,
  256 bytes of bin heads, their tag), later ones extend its top gap or add one.
  It is asked again until the request fits or no page at all can be had, so a
  request that fails has taken every page it could. The growth that makes memory
  exactly 4 GiB makes the heap's end wrap to 0: talc panics and the module traps;
  the model fails that request, memory grown as the module's was.
- realloc is Talck's: a larger size grows in place into a free gap above (or
  into the chunk's own slack), else allocates, copies and frees; a smaller one
  shrinks in place, giving back a gap when 12 bytes or more come free.
- The wrapper's rules are rust_alloc.py's.
"""

from ..memory import PAGE
from .rust_alloc import GlobalAllocModel, free_run_spans

WORD = 4                        # usize, and talc's ALIGN
TAG = WORD
NODE = 2 * WORD                 # LlistNode: next, next_of_prev
MIN_CHUNK = NODE + TAG          # 12
BINS = 64                       # usize::BITS * 2
META = BINS * WORD              # the bin heads at the bottom of the first heap
HEAP_HEADER = TAG + META + TAG  # base tag, bin heads, their chunk's tag: the first gap's offset


def bin_of_size(size):
    """talc's bucketing for 4-byte words: word steps below 64, double words below 128,
    then two bins per power of two."""
    if size < 64:
        return (size - MIN_CHUNK) // WORD
    if size < 128:
        return size // 8 + 5
    bits = size.bit_length() - 1
    return min((bits - 7) * 2 + (size >> (bits - 1)) - 2 + 21, BINS - 1)


def required_chunk_size(size):
    return MIN_CHUNK if size <= MIN_CHUNK - TAG else (size + TAG + WORD - 1) & -WORD


class Talc(GlobalAllocModel):
    name = "talc"
    summary = "talc 4.4.2 (TalckWasm): segregated bins, tagged chunks, grows by the request"
    exact = "talc"
    # a no_std Rust cdylib: 1 MiB of stack, 64 KiB of replay arrays, data: 18 initial pages
    default_start = (1114608, 18)

    def __init__(self, memory, heap_base):
        super().__init__(memory, heap_base)
        self.gaps = {}          # free gap base -> its end (acme)
        self.below = {}         # free gap end -> its base
        self.nxt = {}           # gap base -> next gap in its bin (0: last)
        self.prv = {}           # gap base -> previous gap in its bin (0: first)
        self.heads = [0] * BINS
        self.avail = 0          # bit b: bin b is not empty
        self.chunks = {}        # block address -> [chunk base, tag address, size, align]
        self.heap = None        # (base, acme) of the one heap, once memory was grown

    # -- bins -------------------------------------------------------------------

    def _register(self, base, acme):
        b = bin_of_size(acme - base)
        head = self.heads[b]
        self.nxt[base], self.prv[base] = head, 0
        if head:
            self.prv[head] = base
        self.heads[b] = base
        self.avail |= 1 << b
        self.gaps[base] = acme
        self.below[acme] = base

    def _deregister(self, base):
        acme = self.gaps.pop(base)
        del self.below[acme]
        nxt, prv = self.nxt.pop(base), self.prv.pop(base)
        if prv:
            self.nxt[prv] = nxt
        else:
            b = bin_of_size(acme - base)
            self.heads[b] = nxt
            if not nxt:
                self.avail &= ~(1 << b)
        if nxt:
            self.prv[nxt] = prv
        return acme

    def _next_bin(self, b):
        rest = self.avail >> b if b < BINS else 0
        return b + (rest & -rest).bit_length() - 1 if rest else None

    def _find(self, size, align):
        """get_sufficient_chunk: (gap base, gap end, block address), the gap taken off its bin."""
        need = required_chunk_size(size)
        b = self._next_bin(bin_of_size(need))
        while b is not None:
            base = self.heads[b]
            while base:
                acme = self.gaps[base]
                if acme - base >= need:
                    if align <= WORD:
                        self._deregister(base)
                        return base, acme, base
                    block = (base + align - 1) & -align
                    if block + size + TAG <= acme:
                        self._deregister(base)
                        return base, acme, block
                base = self.nxt[base]
            b = self._next_bin(b + 1)
        return None

    # -- heap growth (WasmHandler) ------------------------------------------------

    def _grow(self, size, align):
        """handle_oom: grow memory for this request, halving while refused; False when
        not one page can be had."""
        delta = -(-max(size + 8, (align * 2) & 0xFFFFFFFF) // PAGE)
        while delta:
            old = self.memory.grow(delta)
            if old != -1:
                break
            delta >>= 1
        else:
            return False
        start, end = old * PAGE, (old + delta) * PAGE
        if end == 1 << 32:
            # the heap's end wraps to 0 in 32 bits: extend's (or claim's) assertions
            # panic and the module traps; the model fails the request there
            return False
        if self.heap is None:
            # claim: base tag, the bin heads, their chunk's tag, then one gap
            self.heap = (start, end)
            self._register(start + HEAP_HEADER, end)
            return True
        assert self.heap[1] == start, "talc: memory grew apart from its heap"
        if start in self.below:                     # the top gap grows over the new pages
            top = self.below[start]
            self._deregister(top)
            self._register(top, end)
        else:
            self._register(start, end)
        self.heap = (self.heap[0], end)
        return True

    # -- allocation -----------------------------------------------------------------

    def _alloc(self, size, align):
        """Talc::malloc for a valid Layout(size >= 1, align)."""
        found = self._find(size, align)
        while found is None:
            if not self._grow(size, align):
                return 0
            found = self._find(size, align)
        base, acme, block = found
        floor = min(block, acme - MIN_CHUNK)
        if floor - base >= MIN_CHUNK:               # room below an aligned block: a gap
            self._register(base, floor)
            base = floor
        post = (block + size + WORD - 1) & -WORD
        tag = max(base + NODE, post)
        if acme - (tag + TAG) >= MIN_CHUNK:
            self._register(tag + TAG, acme)
        else:
            tag = acme - TAG
        self.chunks[block] = [base, tag, size, align]
        return block

    def _free(self, block):
        base, tag, _, _ = self.chunks.pop(block)
        acme = tag + TAG
        if base in self.below:                      # a gap below: merge
            base = self.below[base]
            self._deregister(base)
        if acme in self.gaps:                       # a gap above: merge
            acme = self._deregister(acme)
        self._register(base, acme)

    def _grow_in_place(self, block, size):
        chunk = self.chunks[block]
        base, tag, old, _ = chunk
        post = (block + size + WORD - 1) & -WORD
        if post == (block + old + WORD - 1) & -WORD or post <= tag:
            chunk[2] = size                         # the chunk already holds it
            return True
        acme = tag + TAG
        if acme not in self.gaps:
            return False
        top_tag = self.gaps[acme] - TAG             # the gap above's last word
        if post > top_tag:
            return False
        self._deregister(acme)
        if top_tag - post >= MIN_CHUNK:
            self._register(post + TAG, top_tag + TAG)
            chunk[1] = post
        else:
            chunk[1] = top_tag
        chunk[2] = size
        return True

    def _shrink(self, block, size):
        chunk = self.chunks[block]
        base, tag, _, _ = chunk
        new_tag = max(base + NODE, (block + size + WORD - 1) & -WORD)
        if tag - new_tag >= MIN_CHUNK:
            acme = tag + TAG
            if acme in self.gaps:
                acme = self._deregister(acme)
            self._register(new_tag + TAG, acme)
            chunk[1] = new_tag
        chunk[2] = size

    # -- the protocol ---------------------------------------------------------------

    def align_of(self, ptr):
        return self.chunks[ptr][3]

    def free(self, ptr):
        self._free(ptr)

    def _realloc(self, ptr, size):
        """Talck's GlobalAlloc::realloc."""
        old = self.chunks[ptr][2]
        if size < old:
            self._shrink(ptr, size)
            return ptr
        if size == old or self._grow_in_place(ptr, size):
            return ptr
        new = self._alloc(size, self.align_of(ptr))
        if new:
            self._free(ptr)
        return new

    # -- inspection -----------------------------------------------------------------

    def spans(self):
        """Free: the gaps. Used: chunks, tags, the bin heads, and everything below the
        heap (the initial pages, which talc never uses)."""
        return free_run_spans(self.heap_base, self.memory.byte_length,
                              ((b, self.gaps[b] - b) for b in sorted(self.gaps)))

    def check(self):
        if self.heap is None:
            assert not self.gaps and not self.chunks and not self.avail, "state before any heap"
            return
        start, end = self.heap
        assert end <= self.memory.byte_length, "the heap runs past memory"
        # the heap is tiled: base tag and bin heads, then chunks and gaps, none missing
        pieces = [(b, a, False) for b, a in self.gaps.items()]
        for block, (base, tag, size, align) in self.chunks.items():
            assert block % align == 0 and base <= block, f"block {block:#x} misaligned"
            assert block + size <= tag and tag % WORD == 0, f"block {block:#x} runs into its tag"
            assert tag + TAG - base >= MIN_CHUNK, f"chunk of {block:#x} too small"
            pieces.append((base, tag + TAG, True))
        cursor = start + HEAP_HEADER
        after_gap = False
        for base, acme, used in sorted(pieces):
            assert base == cursor, f"heap not tiled at {cursor:#x} (next piece {base:#x})"
            assert used or not after_gap, f"gaps touch at {base:#x}"
            assert used or acme - base >= MIN_CHUNK, f"gap {base:#x} too small"
            after_gap, cursor = not used, acme
        assert cursor == end, f"heap pieces end at {cursor:#x}, the heap at {end:#x}"
        # each gap in the list of its bin, the availability bits exact
        seen = 0
        for b, head in enumerate(self.heads):
            assert bool(head) == bool(self.avail >> b & 1), f"bin {b}: availability bit wrong"
            prev, base = 0, head
            while base:
                assert bin_of_size(self.gaps[base] - base) == b, f"gap {base:#x} in bin {b}"
                assert self.prv[base] == prev, f"gap {base:#x}: broken back link"
                prev, base, seen = base, self.nxt[base], seen + 1
        assert seen == len(self.gaps) == len(self.below), "gaps missing from the bins"

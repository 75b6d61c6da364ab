"""AssemblyScript 0.28's TLSF memory manager (`std/assembly/rt/tlsf.ts`).

Owns the model of the allocator behind `heap.alloc` / `heap.free` /
`heap.realloc` in a module built with `--runtime incremental` (the default
runtime; `minimal` uses the same TLSF). Main entry point: `AsTlsf.malloc`.

Address-exact: the same requests from the same `__heap_base` and initial
pages give the same addresses and the same `memory.grow` calls. What that
takes, in AssemblyScript's own terms:

- Layout. Every block has a 4-byte header (`mmInfo`: payload size plus the
  FREE / LEFTFREE tags) in front of a 16-byte aligned payload. A payload is at
  least 12 bytes (room for a free block's prev/next/back words) and is sized
  so the next header keeps the next payload aligned. The ROOT structure (the
  first- and second-level bitmaps, 23 x 16 list heads and the tail pointer,
  1572 bytes) sits at `__heap_base` rounded up to 16, and the heap proper
  starts right after it. A zero-sized used "tail" block ends the heap.
- Lazy start. ROOT is built by the first call, not at instantiation, so
  memory stays untouched until then. Allocating with `heap.alloc` runs no GC
  code, so nothing else is allocated behind the caller's back.
- Free lists. A free block goes to the head of list (fl, sl); a search takes
  the head of the first non-empty list of a class at least as large as the
  request, after rounding the request up to the next second-level class
  (`roundSize`). Freeing merges with free neighbours on both sides.
- Growth. When no list fits, memory grows by max(current pages, pages
  needed): it doubles, or takes just what is needed if doubling is refused;
  the new pages become one free block merged with the old tail.
- Reallocation shrinks or grows in place when the block (plus a free right
  neighbour) is large enough, else allocates a new block first and then frees
  the old one.

A request the real module cannot serve (over 1 GiB, or memory exhausted)
traps there; here it returns 0 with the state untouched, which is exactly the
state the trapped module is left in.
"""

from .base import Allocator, check_power_of_two, merge_spans

# ---------------------------------------------------------------------------
# Constants of the 32-bit build (rt/common.ts and rt/tlsf.ts)
# ---------------------------------------------------------------------------

AL_BITS = 4
AL_SIZE = 1 << AL_BITS
AL_MASK = AL_SIZE - 1
BLOCK_OVERHEAD = 4                         # the mmInfo word
BLOCK_MAXSIZE = (1 << 30) - BLOCK_OVERHEAD
BLOCK_MINSIZE = ((3 * 4 + BLOCK_OVERHEAD + AL_MASK) & ~AL_MASK) - BLOCK_OVERHEAD  # 12

SL_BITS = 4
SL_SIZE = 1 << SL_BITS
SB_BITS = SL_BITS + AL_BITS
SB_SIZE = 1 << SB_BITS                     # below this, one list per 16 bytes
FL_BITS = 31 - SB_BITS                     # 23 first-level classes

# ROOT: flMap word, FL_BITS u32 second-level maps, FL_BITS*SL_SIZE heads, tail
_SL_END = 4 + FL_BITS * 4
_HL_END = ((_SL_END + AL_MASK) & ~AL_MASK) + FL_BITS * SL_SIZE * 4
ROOT_SIZE = _HL_END + 4                    # 1572

PAGE_BITS = 16


# ---------------------------------------------------------------------------
# Size arithmetic
# ---------------------------------------------------------------------------

def compute_size(size):
    """Payload size of a block holding `size` bytes (prepareSize, minus its range check)."""
    if size <= BLOCK_MINSIZE:
        return BLOCK_MINSIZE
    return ((size + BLOCK_OVERHEAD + AL_MASK) & ~AL_MASK) - BLOCK_OVERHEAD


def round_size(size):
    """Round a search size up to the next second-level class boundary (roundSize)."""
    if size < BLOCK_MAXSIZE >> 1:
        return size + (1 << (size.bit_length() - 1 - SL_BITS)) - 1
    return size


def list_index(size):
    """fl * SL_SIZE + sl of the list a free block of `size` lives in (mapping_insert)."""
    if size < SB_SIZE:
        return size >> AL_BITS
    size = min(size, BLOCK_MAXSIZE)
    fl = size.bit_length() - 1
    sl = (size >> (fl - SL_BITS)) ^ SL_SIZE
    return ((fl - (SB_BITS - 1)) << SL_BITS) + sl


def _ctz(x):
    return (x & -x).bit_length() - 1


class AsTlsf(Allocator):
    name = "as-tlsf"
    summary = "AssemblyScript 0.28 TLSF (--runtime incremental heap.alloc); address-exact"
    exact = "as-tlsf"
    alignment = AL_SIZE
    # __heap_base of a small module with the incremental runtime's 32 KiB stack
    default_start = (33932, 1)

    def __init__(self, memory, heap_base):
        super().__init__(memory, heap_base)
        self.root = (heap_base + AL_MASK) & ~AL_MASK
        self.ready = False        # ROOT is built by the first call (initialize)
        self.size = {}            # block address (its header) -> payload size, every block
        self.tail = 0             # address of the zero-sized tail block, 0 = none yet
        # Free lists. Each list is a dict used as an ordered set whose *last* key
        # is the list head: insertion at the head is an append, unlinking any
        # block is a delete, and the order of the rest is kept, as in the
        # real doubly linked list.
        self.lists = [{} for _ in range(FL_BITS * SL_SIZE)]
        self.fl_map = 0
        self.sl_map = [0] * FL_BITS
        self.free_at = {}         # free block -> its list index
        self.free_before = {}     # address just past a free block -> that block (LEFTFREE + back)

    # -- free lists ---------------------------------------------------------

    def _insert(self, block):
        """insertBlock: mark `block` free, merging with free neighbours first."""
        size = self.size[block]
        right = block + BLOCK_OVERHEAD + size
        if right in self.free_at:
            self._remove(right)
            size += BLOCK_OVERHEAD + self.size.pop(right)
            right = block + BLOCK_OVERHEAD + size
        left = self.free_before.get(block)
        if left is not None:
            self._remove(left)
            del self.size[block]
            size += self.size[left] + BLOCK_OVERHEAD
            block = left
        self.size[block] = size
        index = list_index(size)
        self.lists[index][block] = None
        self.free_at[block] = index
        self.free_before[right] = block
        fl = index >> SL_BITS
        self.fl_map |= 1 << fl
        self.sl_map[fl] |= 1 << (index & (SL_SIZE - 1))

    def _remove(self, block):
        """removeBlock: unlink a free block from its list and the bitmaps."""
        index = self.free_at.pop(block)
        del self.free_before[block + BLOCK_OVERHEAD + self.size[block]]
        bucket = self.lists[index]
        del bucket[block]
        if not bucket:
            fl = index >> SL_BITS
            self.sl_map[fl] &= ~(1 << (index & (SL_SIZE - 1)))
            if not self.sl_map[fl]:
                self.fl_map &= ~(1 << fl)

    def _search(self, size):
        """searchBlock: head of the first list whose class fits `size`, or None."""
        if size < SB_SIZE:
            fl, sl = 0, size >> AL_BITS
        else:
            index = list_index(round_size(size))
            fl, sl = index >> SL_BITS, index & (SL_SIZE - 1)
        sl_map = self.sl_map[fl] & (-1 << sl)
        if not sl_map:
            fl_map = self.fl_map & (-1 << (fl + 1))
            if not fl_map:
                return None
            fl = _ctz(fl_map)
            sl_map = self.sl_map[fl]
        return next(reversed(self.lists[(fl << SL_BITS) + _ctz(sl_map)]))

    def _prepare(self, block, size):
        """prepareBlock: `block` (already unlinked) becomes used; split off the rest if it can stand alone."""
        remaining = self.size[block] - size
        if remaining >= BLOCK_OVERHEAD + BLOCK_MINSIZE:
            self.size[block] = size
            spare = block + BLOCK_OVERHEAD + size
            self.size[spare] = remaining - BLOCK_OVERHEAD
            self._insert(spare)

    # -- memory -------------------------------------------------------------

    def _add_memory(self, start, end):
        """addMemory: turn [start, end) into a free block plus a new tail, merged with the old tail."""
        start = ((start + BLOCK_OVERHEAD + AL_MASK) & ~AL_MASK) - BLOCK_OVERHEAD
        end &= ~AL_MASK
        if self.tail and start - AL_SIZE == self.tail:
            start = self.tail                      # the old tail header becomes the new block's
        size = end - start
        if size < BLOCK_OVERHEAD + BLOCK_MINSIZE + BLOCK_OVERHEAD:
            return
        left_size = size - 2 * BLOCK_OVERHEAD
        self.tail = start + BLOCK_OVERHEAD + left_size
        self.size[self.tail] = 0
        self.size[start] = left_size
        self._insert(start)

    def _initialize(self):
        """initialize: make room for ROOT and hand the rest of memory to the heap."""
        needed = (self.root + ROOT_SIZE + 0xFFFF) >> PAGE_BITS
        before = self.memory.pages
        if needed > before and self.memory.grow(needed - before) < 0:
            return False
        self.ready = True
        self._add_memory(self.root + ROOT_SIZE, self.memory.byte_length)
        return True

    def _grow(self, size):
        """growMemory: grow by max(pages now, pages needed), falling back to just the pages needed."""
        if size >= SB_SIZE:
            size = round_size(size)
        before = self.memory.pages
        # one header more if the new memory cannot merge with the tail block
        size += BLOCK_OVERHEAD << ((before << PAGE_BITS) - BLOCK_OVERHEAD != self.tail)
        needed = (size + 0xFFFF) >> PAGE_BITS
        if self.memory.grow(max(before, needed)) < 0 and self.memory.grow(needed) < 0:
            return False
        self._add_memory(before << PAGE_BITS, self.memory.byte_length)
        return True

    def _allocate(self, size):
        """allocateBlock: a used block for `size` bytes, or None (the real module traps)."""
        if size > BLOCK_MAXSIZE or not (self.ready or self._initialize()):
            return None
        payload = compute_size(size)
        block = self._search(payload)
        if block is None:
            if not self._grow(payload):
                return None
            block = self._search(payload)
        self._remove(block)
        self._prepare(block, payload)
        return block

    # -- the protocol -------------------------------------------------------

    def malloc(self, size):
        block = self._allocate(size)
        return 0 if block is None else block + BLOCK_OVERHEAD

    def unsupported(self, size, align=None):
        """AssemblyScript's heap offers 16-byte alignment and blocks up to 1 GiB only."""
        if align and align > AL_SIZE:
            return f"AssemblyScript's allocator aligns to {AL_SIZE} bytes at most"
        if size > BLOCK_MAXSIZE:
            return f"AssemblyScript's allocator serves at most {BLOCK_MAXSIZE} bytes"
        return None

    def aligned_alloc(self, align, size):
        """The module offers 16-byte alignment only: a larger one cannot be met."""
        check_power_of_two(align, self.name)
        return self.malloc(size) if align <= AL_SIZE else 0

    def free(self, ptr):
        self._insert(ptr - BLOCK_OVERHEAD)

    def realloc(self, ptr, size):
        if size > BLOCK_MAXSIZE:
            return 0
        block = ptr - BLOCK_OVERHEAD
        payload = compute_size(size)
        have = self.size[block]
        if payload <= have:                        # shrink (or same class) in place
            self._prepare(block, payload)
            return ptr
        right = block + BLOCK_OVERHEAD + have
        if right in self.free_at and have + BLOCK_OVERHEAD + self.size[right] >= payload:
            self._remove(right)                    # grow in place into the free right neighbour
            self.size[block] = have + BLOCK_OVERHEAD + self.size.pop(right)
            self._prepare(block, payload)
            return ptr
        new = self._allocate(size)                 # moveBlock: allocate first, then free
        if new is None:
            return 0
        self._insert(block)
        return new + BLOCK_OVERHEAD

    # -- inspection ---------------------------------------------------------

    def spans(self):
        # ROOT and the padding up to the first block count as used from the
        # start (they are reserved whether or not the first call has come), and
        # the tail header as free (growth turns it into free space), so building
        # ROOT lazily never shows as a change of layout.
        end = self.memory.byte_length
        first = ((self.root + ROOT_SIZE + BLOCK_OVERHEAD + AL_MASK) & ~AL_MASK) - BLOCK_OVERHEAD
        raw = [(self.heap_base, min(first, end) - self.heap_base, True)]
        if not self.ready:
            return merge_spans(raw + [(first, end - first, False)])
        cursor = first
        for block in sorted(self.size):
            if block > cursor:                     # only after a failed addMemory
                raw.append((cursor, block - cursor, True))
            cursor = block + BLOCK_OVERHEAD + self.size[block]
            raw.append((block, cursor - block, block != self.tail and block not in self.free_at))
        raw.append((cursor, end - cursor, False))
        return merge_spans(raw)

    def check(self):
        if not self.ready:
            assert not self.size, "blocks exist before initialization"
            return
        blocks = sorted(self.size)
        assert self.tail == blocks[-1] and self.size[self.tail] == 0, "tail is not the last block"
        assert self.tail + BLOCK_OVERHEAD <= self.memory.byte_length, "tail lies past memory"
        assert blocks[0] >= self.root + ROOT_SIZE, "first block overlaps ROOT"
        previous_free = False
        for block, right in zip(blocks, blocks[1:] + [None]):
            size = self.size[block]
            assert (block + BLOCK_OVERHEAD) & AL_MASK == 0, f"misaligned payload at {block:#x}"
            end = block + BLOCK_OVERHEAD + size
            if right is not None:
                assert end <= right, f"block {block:#x} overlaps {right:#x}"
            is_free = block in self.free_at
            if is_free:
                assert size >= BLOCK_MINSIZE, f"free block {block:#x} too small"
                assert not previous_free, f"free block {block:#x} was not merged with its left"
                assert self.free_at[block] == list_index(size), f"block {block:#x} in the wrong list"
                assert block in self.lists[self.free_at[block]]
                assert self.free_before[end] == block, f"no back reference for {block:#x}"
            elif size:
                assert size >= BLOCK_MINSIZE and (size + BLOCK_OVERHEAD) & AL_MASK == 0, \
                    f"used block {block:#x} has an impossible size {size}"
            previous_free = is_free and end == right
        assert len(self.free_before) == len(self.free_at)
        for index, bucket in enumerate(self.lists):
            fl, sl = divmod(index, SL_SIZE)
            assert bool(bucket) == bool(self.sl_map[fl] >> sl & 1), f"sl bitmap wrong at {fl},{sl}"
            assert all(self.free_at.get(b) == index for b in bucket), f"stale block in list {index}"
        for fl in range(FL_BITS):
            assert bool(self.sl_map[fl]) == bool(self.fl_map >> fl & 1), f"fl bitmap wrong at {fl}"

"""The data structures behind the free-list models: the heap's block map and the
placement queries on it.

Main entry points: `BlockMap` (every block of the heap in address order, with
the first-fit / next-fit search) and `SizeBins` (free blocks by size, for
best-fit). Both answer exactly what a walk of the heap or of a free list would,
in the time of a couple of bisects plus a short C-level scan, so a
million-event trace replays at about half a million events per second even
when the heap holds tens of thousands of free blocks (lists that never
coalesce do), at about 40 bytes per block.

`BlockMap` sits on `SortedChunks`: a sorted list of ints cut into chunks of a
few hundred, so an insert or delete moves one chunk's items, not the whole
list, with one byte beside each item (its "mark") and an upper bound of the
marks per chunk. Its items are block starts; a block ends where the next one
starts (the last one at `top`), so sizes are never stored. The mark is 0 for a
used block and the size class (>= 2, monotone in the size) for a free one. The
first free block at or after a position whose class is >= c is then found by
`re.search` of a byte-range pattern, first over the chunk bounds and then
inside one chunk: memchr-speed scans in C instead of a Python loop. Classes
below 64 hold a single size (multiples of 8 under 512 bytes), larger ones a
sixteenth of an octave, so only blocks of the request's own class need their
exact size checked.

`SizeBins` is segregated-fit: one sorted list per size class and a bit mask of
the non-empty ones, so best-fit is a bisect in the request's own class or the
first block of the next non-empty class.
"""

import re
from bisect import bisect_left, bisect_right, insort

LOAD = 128          # chunks hold up to 2*LOAD items; a full one splits in two

# -- size classes -----------------------------------------------------------

CLASSED = 1 << 21          # sizes from 2 MiB up all share class 255 (such blocks are few)


def _class_table():
    """CLASS_OF[size >> 3] for every size below CLASSED: exact below 512 bytes (one
    class per multiple of 8), then sixteen classes per octave. Built from runs of
    equal bytes, so import stays quick."""
    runs = [bytes(range(64))]
    for octave in range(12):                      # [512 << octave, 1024 << octave)
        width = 4 << octave                       # sizes (>> 3) per class
        runs += [bytes([64 + 16 * octave + sub]) * width for sub in range(16)]
    return b"".join(runs)


CLASS_OF = _class_table()


def size_class(size):
    """0..255, monotone in size (the hot paths inline this expression)."""
    return CLASS_OF[size >> 3] if size < CLASSED else 255


_AT_LEAST = [None] * 256      # class c -> compiled pattern matching a byte >= c


def _at_least(c):
    pattern = _AT_LEAST[c] = re.compile(b"[" + re.escape(bytes([c])) + b"-\xff]")
    return pattern


# -- the chunked sorted list ----------------------------------------------------

class SortedChunks:
    """Sorted ints in chunks, a mark byte beside each; positions are (chunk, index).

    `maxes[k]` is an upper bound of chunk k's marks, never lower: raised as marks
    are set, and lowered only by a search that found the chunk empty of a class
    (BlockMap._first), so no change ever pays for a max() over a chunk."""

    def __init__(self):
        self.chunks = []            # sorted, non-empty lists of items
        self.marks = []             # per chunk: bytearray, one mark per item
        self.firsts = []            # per chunk: its first item (what bisect looks at)
        self.maxes = bytearray()    # per chunk: an upper bound of its marks

    def locate(self, x):
        """(chunk, index) where x is or would be inserted."""
        k = bisect_right(self.firsts, x) - 1
        if k < 0:
            k = 0
        return k, bisect_left(self.chunks[k], x)

    def insert(self, x, mark):
        if not self.chunks:
            self.chunks.append([x])
            self.marks.append(bytearray([mark]))
            self.firsts.append(x)
            self.maxes.append(mark)
            return
        k = bisect_right(self.firsts, x) - 1
        if k < 0:
            k = 0
        self.insert_at(k, bisect_left(self.chunks[k], x), x, mark)

    def insert_at(self, k, i, x, mark):
        """Insert x at (k, i), which must keep the order. A full chunk splits in two,
        so positions after (k, i) may change."""
        chunk, marks = self.chunks[k], self.marks[k]
        chunk.insert(i, x)
        marks.insert(i, mark)
        if i == 0:
            self.firsts[k] = x
        if mark > self.maxes[k]:
            self.maxes[k] = mark
        if len(chunk) > 2 * LOAD:
            self.chunks.insert(k + 1, chunk[LOAD:])
            self.marks.insert(k + 1, marks[LOAD:])
            self.firsts.insert(k + 1, chunk[LOAD])
            self.maxes.insert(k + 1, self.maxes[k])
            del chunk[LOAD:], marks[LOAD:]

    def delete_at(self, k, i):
        """Delete the item at (k, i); positions before it stay valid."""
        chunk = self.chunks[k]
        del chunk[i]
        del self.marks[k][i]
        if not chunk:
            del self.chunks[k], self.marks[k], self.firsts[k], self.maxes[k]
        elif i == 0:
            self.firsts[k] = chunk[0]

    def set_mark(self, k, i, mark):
        self.marks[k][i] = mark
        if mark > self.maxes[k]:
            self.maxes[k] = mark

    def move(self, x, nx, mark):
        """Put nx (with `mark`) where x is; the caller guarantees no item lies between them."""
        k, i = self.locate(x)
        self.chunks[k][i] = nx
        if i == 0:
            self.firsts[k] = nx
        self.set_mark(k, i, mark)

    def items(self):
        return [x for chunk in self.chunks for x in chunk]

    def check(self):
        assert all(self.chunks), "empty chunk"
        assert self.firsts == [chunk[0] for chunk in self.chunks], "chunk heads out of step"
        assert all(top >= max(m) for top, m in zip(self.maxes, self.marks)), \
            "a chunk holds a mark above its bound"
        assert len(self.maxes) == len(self.marks) == len(self.chunks)
        assert [len(m) for m in self.marks] == [len(c) for c in self.chunks]
        items = self.items()
        assert items == sorted(items) and len(set(items)) == len(items), "items out of order"


# -- the heap's blocks in address order (first-fit, next-fit) ----------------------------

class BlockMap(SortedChunks):
    """Every block of the heap by start address; mark 0 = used, else the free block's
    size class. Sizes follow from the next start (or `top`)."""

    def __init__(self, top):
        super().__init__()
        self.top = top              # where the last block ends
        self.rover = 0              # where `next_fit` starts searching

    def end_of(self, k, i):
        """End of the block at (k, i): the start of the next one, or the top."""
        if i + 1 < len(self.chunks[k]):
            return self.chunks[k][i + 1]
        if k + 1 < len(self.chunks):
            return self.firsts[k + 1]
        return self.top

    def around(self, b):
        """(k, i, end, after, before) for the block starting at b: its position, its end,
        and the positions of its neighbours (None past either end of the heap)."""
        chunks = self.chunks
        k = bisect_right(self.firsts, b) - 1
        chunk = chunks[k]
        i = bisect_left(chunk, b)
        if i + 1 < len(chunk):
            after, end = (k, i + 1), chunk[i + 1]
        elif k + 1 < len(chunks):
            after, end = (k + 1, 0), self.firsts[k + 1]
        else:
            after, end = None, self.top
        before = (k, i - 1) if i else (k - 1, len(chunks[k - 1]) - 1) if k else None
        return k, i, end, after, before

    def first_fit(self, need, k=0, i=0, stop_k=-1, stop_i=0):
        """(start, size, k, i) of the first free block holding `need` bytes from position
        (k, i) up to (stop_k, stop_i), by default the whole heap; None if none does."""
        if not self.chunks:
            return None
        if stop_k < 0:
            stop_k = len(self.chunks) - 1
            stop_i = len(self.chunks[stop_k])
        c = CLASS_OF[need >> 3] if need < CLASSED else 255
        pattern = _AT_LEAST[c] or _at_least(c)
        maxes = self.maxes
        while True:
            if maxes[k] >= c:
                chunk, marks = self.chunks[k], self.marks[k]
                end = stop_i if k == stop_k else len(chunk)
                m = pattern.search(marks, i, end)
                if m is None and i == 0 and end == len(chunk):
                    maxes[k] = c - 1        # nothing of class c or above here: tighten
                while m:
                    j = m.start()
                    size = self.end_of(k, j) - chunk[j]
                    if size >= need:
                        return chunk[j], size, k, j
                    m = pattern.search(marks, j + 1, end)
            # jump to the next chunk holding any block of class >= c
            m = pattern.search(maxes, k + 1, stop_k + 1)
            if not m:
                return None
            k, i = m.start(), 0

    def next_fit(self, need):
        """Like first_fit, but from the first block at or above `rover`, wrapping round."""
        if not self.chunks:
            return None
        k, i = self.locate(self.rover)
        found = self.first_fit(need, k, i)
        return found if found is not None else self.first_fit(need, 0, 0, k, i)

    def blocks(self):
        """(start, size, used) of every block, in address order."""
        return [(b, e - b, not m) for b, e, m in self._walk()]

    def _walk(self):
        starts = self.items()
        return zip(starts, starts[1:] + [self.top], b"".join(self.marks))

    def check(self):
        super().check()
        for b, end, mark in self._walk():
            assert not mark or mark == size_class(end - b), f"free block {b:#x}: wrong size class"


# -- free blocks by size (best-fit) ------------------------------------------------------

class SizeBins:
    """Free blocks in segregated bins, one per size class, each a sorted list of
    size << shift | start keys (by size, then by address), with a bit mask of the
    bins that hold anything. `shift` covers every address of the memory, and is
    no wider, so keys stay small ints that bisect compares fast."""

    def __init__(self, shift):
        self.shift = shift
        self.low = (1 << shift) - 1
        self.bins = [[] for _ in range(256)]
        self.nonempty = 0             # bit c set when bins[c] holds a block

    def add(self, b, size):
        c = CLASS_OF[size >> 3] if size < CLASSED else 255
        insort(self.bins[c], size << self.shift | b)
        self.nonempty |= 1 << c

    def remove(self, b, size):
        c = CLASS_OF[size >> 3] if size < CLASSED else 255
        keys = self.bins[c]
        del keys[bisect_left(keys, size << self.shift | b)]
        if not keys:
            self.nonempty &= ~(1 << c)

    def find(self, need):
        """(start, size, None, None) of the smallest free block holding `need` bytes (the
        lowest address among equals; no block-map position); None if none does."""
        c = CLASS_OF[need >> 3] if need < CLASSED else 255
        keys = self.bins[c]
        i = bisect_left(keys, need << self.shift)
        if i < len(keys):
            key = keys[i]
        else:
            above = self.nonempty >> (c + 1)
            if not above:
                return None
            key = self.bins[c + (above & -above).bit_length()][0]
        return key & self.low, key >> self.shift, None, None

    def check(self, free_blocks):
        keys = sorted(k for keys in self.bins for k in keys)
        assert keys == sorted(s << self.shift | b for b, s in free_blocks), \
            "size bins out of step with the free blocks"
        for c, keys in enumerate(self.bins):
            assert keys == sorted(keys), f"bin {c} out of order"
            assert all(size_class(k >> self.shift) == c for k in keys), f"bin {c}: wrong class"
            assert bool(keys) == bool(self.nonempty >> c & 1), f"bin {c}: mask out of step"

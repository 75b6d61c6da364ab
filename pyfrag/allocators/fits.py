"""Indexes over a free list that answer placement queries without walking it.

Main entry points: `AddressIndex` (first-fit and next-fit) and `SizeIndex`
(best-fit). Both answer exactly what a linear walk of the free list would, in
the time of a couple of bisects plus a short C-level scan, so a million-event
trace replays at hundreds of thousands of events per second even when the free
list holds tens of thousands of blocks (free lists that never coalesce do).

Both sit on `SortedChunks`, a sorted list of ints cut into chunks of a few
hundred, so an insert or delete moves one chunk's items, not the whole list.
Beside each item it keeps one byte, its "mark", and per chunk the largest
mark. `AddressIndex` keeps free blocks' addresses with their size class as the
mark (one byte, monotone in the size), so the first block at or after a
position whose class is >= c is found by `re.search` of a byte-range pattern
over the chunk maxima and then inside one chunk: memchr-speed scans in C
instead of a Python loop. Classes below 128 hold a single size (multiples of 8
under 1 KiB), larger ones an eighth of an octave, so only blocks of the
request's own class need their exact size checked. `SizeIndex` keeps
(size, address) keys and leaves the marks at 0.
"""

import re
from bisect import bisect_left, bisect_right

LOAD = 256          # chunks hold LOAD..2*LOAD items (the last may hold fewer)

# -- size classes -----------------------------------------------------------


def size_class(size):
    """0..255, monotone in size; exact below 1 KiB, eight classes per octave up to
    64 MiB, one class for everything larger."""
    if size < 1024:
        return size >> 3
    e = size.bit_length()
    c = 128 + ((e - 11) << 3) + ((size >> (e - 4)) & 7)
    return c if c < 255 else 255


_AT_LEAST = [None] * 256      # class c -> compiled pattern matching a byte >= c


def _at_least(c):
    pattern = _AT_LEAST[c] = re.compile(b"[" + re.escape(bytes([c])) + b"-\xff]")
    return pattern


# -- the chunked sorted list ----------------------------------------------------

class SortedChunks:
    """Sorted ints in chunks, a mark byte beside each. The hot methods of the
    subclasses inline the chunk lookup (`_locate`) because they run per event."""

    def __init__(self):
        self.chunks = []            # sorted, non-empty lists of items
        self.marks = []             # per chunk: bytearray, one mark per item
        self.firsts = []            # per chunk: its first item (what bisect looks at)
        self.maxes = bytearray()    # per chunk: its largest mark

    def _locate(self, x):
        """(chunk, position) where x is or would be inserted."""
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
        chunk, marks = self.chunks[k], self.marks[k]
        i = bisect_left(chunk, x)
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
            del chunk[LOAD:], marks[LOAD:]
            self.maxes[k:k + 1] = bytes((max(marks), max(self.marks[k + 1])))

    def delete(self, x):
        k = bisect_right(self.firsts, x) - 1
        if k < 0:
            k = 0
        chunk, marks = self.chunks[k], self.marks[k]
        i = bisect_left(chunk, x)
        del chunk[i]
        mark = marks.pop(i)
        if not chunk:
            del self.chunks[k], self.marks[k], self.firsts[k], self.maxes[k]
            return
        if i == 0:
            self.firsts[k] = chunk[0]
        if mark and mark == self.maxes[k]:
            self._drop_max(k, mark)

    def _drop_max(self, k, old):
        """An item marked `old`, chunk k's maximum, is gone: find the new maximum."""
        marks = self.marks[k]
        # a C-level scan for another `old` is much cheaper than max() over a bytearray
        if (_AT_LEAST[old] or _at_least(old)).search(marks) is None:
            self.maxes[k] = max(marks)

    def items(self):
        return [x for chunk in self.chunks for x in chunk]

    def check(self):
        assert all(self.chunks), "empty chunk"
        assert self.firsts == [chunk[0] for chunk in self.chunks], "chunk heads out of step"
        assert bytes(self.maxes) == bytes(max(m) for m in self.marks), "chunk maxima out of step"
        assert [len(m) for m in self.marks] == [len(c) for c in self.chunks]
        items = self.items()
        assert items == sorted(items), "items out of order"


# -- address order (first-fit, next-fit) -----------------------------------------

class AddressIndex(SortedChunks):
    def __init__(self, sizes):
        super().__init__()
        self.sizes = sizes              # the allocator's block start -> size of free blocks

    def add(self, b, size):
        self.insert(b, size >> 3 if size < 1024 else size_class(size))

    def remove(self, b, size):
        self.delete(b)

    def move(self, b, size, nb, nsize):
        """Free block b becomes nb; the caller guarantees no free block lies between."""
        mark = nsize >> 3 if nsize < 1024 else size_class(nsize)
        k = bisect_right(self.firsts, b) - 1
        if k < 0:
            k = 0
        marks = self.marks[k]
        i = bisect_left(self.chunks[k], b)
        old = marks[i]
        self.chunks[k][i] = nb
        marks[i] = mark
        if i == 0:
            self.firsts[k] = nb
        top = self.maxes[k]
        if mark > top:
            self.maxes[k] = mark
        elif old == top and mark < old:
            self._drop_max(k, old)

    def find(self, need, start=0):
        """Start of the lowest-addressed free block >= `start` holding `need` bytes,
        wrapping round to the bottom; None if no block fits."""
        if not self.chunks:
            return None
        last = len(self.chunks) - 1
        if not start:
            return self._first(need, 0, 0, last, len(self.chunks[last]))
        k, i = self._locate(start)
        found = self._first(need, k, i, last, len(self.chunks[last]))
        return found if found is not None else self._first(need, 0, 0, k, i)

    def _first(self, need, k, i, stop_k, stop_i):
        """The first fitting block from (chunk k, position i) up to (stop_k, stop_i)."""
        c = need >> 3 if need < 1024 else size_class(need)
        pattern = _AT_LEAST[c] or _at_least(c)
        sizes = self.sizes
        while True:
            chunk, marks = self.chunks[k], self.marks[k]
            end = stop_i if k == stop_k else len(chunk)
            m = pattern.search(marks, i, end)
            while m:
                j = m.start()
                if marks[j] > c or sizes[chunk[j]] >= need:
                    return chunk[j]
                m = pattern.search(marks, j + 1, end)
            # jump to the next chunk holding any block of class >= c
            m = pattern.search(self.maxes, k + 1, stop_k + 1)
            if not m:
                return None
            k, i = m.start(), 0

    def check(self, free_at):
        super().check()
        assert self.items() == sorted(free_at), "address index out of step with the free blocks"
        assert b"".join(self.marks) == bytes(size_class(free_at[b]) for b in self.items()), \
            "size classes out of step with the free blocks"


# -- size order (best-fit) ------------------------------------------------------------

_SHIFT = 64                  # key = size << 64 | start: by size, then by address
_LOW = (1 << _SHIFT) - 1


class SizeIndex(SortedChunks):
    def __init__(self, sizes):
        super().__init__()

    def add(self, b, size):
        self.insert(size << _SHIFT | b, 0)

    def remove(self, b, size):
        self.delete(size << _SHIFT | b)

    def move(self, b, size, nb, nsize):
        self.delete(size << _SHIFT | b)
        self.insert(nsize << _SHIFT | nb, 0)

    def find(self, need, start=0):
        """Start of the smallest free block holding `need` bytes (lowest address among
        equals); None if none does. `start` is ignored: best-fit has no rover."""
        if not self.chunks:
            return None
        k, i = self._locate(need << _SHIFT)
        chunk = self.chunks[k]
        if i == len(chunk):
            if k + 1 == len(self.chunks):
                return None
            chunk, i = self.chunks[k + 1], 0
        return chunk[i] & _LOW

    def check(self, free_at):
        super().check()
        assert self.items() == sorted(s << _SHIFT | b for b, s in free_at.items()), \
            "size index out of step with the free blocks"

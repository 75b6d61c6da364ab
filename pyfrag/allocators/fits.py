"""The data structures behind the free-list models: the heap's blocks and the
placement queries on them.

Main entry points: `BlockMap` (every block of the heap in address order, with
the first-fit / next-fit search; coalescing models), and the indexes of free
blocks alone, all `FreeIndex`es (add, remove, find, shrink): `SizeBins` (by
size, for best-fit), `AddressBins` (by address within size classes, for
first-fit that never coalesces) and `FreeMap` (the BlockMap search over free
blocks only, for next-fit that never coalesces). Each answers exactly what a
walk of the heap or of a free list would, in the time of a couple of bisects
plus a short C-level scan, so a million-event trace replays at about half a
million events per second and more even when the heap holds hundreds of
thousands of free blocks (lists that never coalesce do).

`BlockMap` and `FreeMap` sit on `SortedChunks`: a sorted list of ints cut into
chunks of a few hundred, so an insert or delete moves one chunk's items, not
the whole list, with one byte beside each item (its "mark") and an upper bound
of the marks per chunk. A BlockMap's items are block starts; a block ends
where the next one starts (the last one at `top`), so sizes are never stored.
The mark is 0 for a used block and the size class (>= 2, monotone in the size)
for a free one. The first free block at or after a position whose class is
>= c is then found by `re.search` of a byte-range pattern, first over the chunk
bounds and then inside one chunk: C-speed scans instead of a Python loop.
Classes below 64 hold a single size (multiples of 8 under 512 bytes), larger
ones a sixteenth of an octave, so only blocks of the request's own class need
their exact size checked.

`SizeBins` and `AddressBins` are segregated fits: one sorted list of int keys
per size class. SizeBins sorts by size (then address) and keeps a bit mask of
the non-empty classes, so best-fit is a bisect in the request's own class or
the first block of the next non-empty class. AddressBins sorts by address and
keeps, per class, the lowest-addressed block of that class or any above, so
first-fit reads one list entry and checks only the request's own class below
it. When a heap holds hundreds of thousands of free blocks, each of the few
bisects an operation makes costs more than the rest of it (their items are
scattered through memory), so the paths here avoid them where they can.
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


# -- what the indexes of free blocks share -------------------------------------------

class FreeIndex:
    """An index of free blocks: add(b, size), remove(b, size), a search giving
    (start, size, k, i) where (k, i) is the block's position in the index or
    (None, None), and shrink."""

    def shrink(self, b, size, nb, nsize, k, i):
        """Free block [b, b+size), found at (k, i), is now its part [nb, nb+nsize)."""
        self.remove(b, size)
        self.add(nb, nsize)


# -- the chunked sorted list ----------------------------------------------------

class SortedChunks:
    """Sorted ints in chunks, a mark byte beside each; positions are (chunk, index).

    `maxes[k]` is an upper bound of chunk k's marks, never lower: raised as marks
    are set, and lowered only by a search that found the chunk empty of a class
    (first_fit), so no change ever pays for a max() over a chunk."""

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

    # -- searches (for subclasses whose items are blocks, start << shift | anything) --

    shift = 0
    rover = 0                       # where `next_fit` starts searching

    def _rover_position(self):
        """Position of the first item at or above the rover."""
        return self.locate(self.rover << self.shift)

    def first_fit(self, need, k=0, i=0, stop_k=-1, stop_i=0):
        """(start, size, k, i) of the first free block holding `need` bytes from position
        (k, i) up to (stop_k, stop_i), by default all of them; None if none does."""
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
                    start, size = self._block(k, j)
                    if size >= need:
                        return start, size, k, j
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
        k, i = self._rover_position()
        found = self.first_fit(need, k, i)
        return found if found is not None else self.first_fit(need, 0, 0, k, i)

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

    def _block(self, k, i):
        b = self.chunks[k][i]
        return b, self.end_of(k, i) - b

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



# -- free blocks alone in address order (next-fit without coalescing) -----------------

class FreeMap(SortedChunks, FreeIndex):
    """Free blocks by address, each item a start << shift | size key marked with its
    size class: the first-fit / next-fit search of BlockMap over free blocks only,
    for a heap whose used blocks are kept elsewhere."""

    def __init__(self, shift):
        super().__init__()
        self.shift = shift
        self.low = (1 << shift) - 1
        self.hint = (0, 0, -1)      # (k, i, key) of the last block shrunk in place

    def _rover_position(self):
        # next-fit's rover is most often the tail left by the last allocation, still
        # where shrink put it: a bisect of a map this size costs more than the check
        k, i, key = self.hint
        chunks = self.chunks
        if key >> self.shift == self.rover and k < len(chunks) and i < len(chunks[k]) \
                and chunks[k][i] == key:
            return k, i
        return self.locate(self.rover << self.shift)

    def _block(self, k, i):
        key = self.chunks[k][i]
        return key >> self.shift, key & self.low

    def add(self, b, size):
        key = b << self.shift | size
        if not self.chunks:
            self.insert(key, size_class(size))
            return
        k = bisect_right(self.firsts, key) - 1
        if k < 0:
            k = 0
        self.insert_at(k, bisect_left(self.chunks[k], key), key,
                       CLASS_OF[size >> 3] if size < CLASSED else 255)

    def remove(self, b, size):
        self.delete_at(*self.locate(b << self.shift | size))

    def shrink(self, b, size, nb, nsize, k, i):
        if k is None:
            FreeIndex.shrink(self, b, size, nb, nsize, k, i)
            return
        # the part takes the block's place: the address order and the chunk's bound hold
        key = nb << self.shift | nsize
        self.chunks[k][i] = key
        if not i:
            self.firsts[k] = key
        self.marks[k][i] = CLASS_OF[nsize >> 3] if nsize < CLASSED else 255
        self.hint = k, i, key

    def free_blocks(self):
        return [(key >> self.shift, key & self.low) for key in self.items()]

    def check(self, free_blocks):
        super().check()
        assert self.free_blocks() == free_blocks, "free map out of step with the free blocks"
        assert [m for marks in self.marks for m in marks] == \
            [size_class(size) for _, size in free_blocks], "free map: wrong size class"

# -- free blocks by size (best-fit) ------------------------------------------------------

class SizeBins(FreeIndex):
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

    def free_blocks(self):
        """(start, size) of every block in the bins, in address order."""
        return sorted((key & self.low, key >> self.shift) for keys in self.bins for key in keys)

    def check(self, free_blocks):
        keys = sorted(k for keys in self.bins for k in keys)
        assert keys == sorted(s << self.shift | b for b, s in free_blocks), \
            "size bins out of step with the free blocks"
        for c, keys in enumerate(self.bins):
            assert keys == sorted(keys), f"bin {c} out of order"
            assert all(size_class(k >> self.shift) == c for k in keys), f"bin {c}: wrong class"
            assert bool(keys) == bool(self.nonempty >> c & 1), f"bin {c}: mask out of step"


# -- free blocks by address, in size classes (first-fit) -------------------------------

class AddressBins(FreeIndex):
    """Free blocks in segregated bins, one per size class, each a sorted list of
    start << shift | size keys (by address), with the suffix minima of the bins'
    first keys: lowest[c] is the lowest-addressed block of class c or above. The
    first fit is then lowest[c + 1] or a block of the request's own class, where
    only blocks below lowest[c + 1] need their size checked."""

    def __init__(self, shift):
        self.shift = shift
        self.low = (1 << shift) - 1
        self.none = 1 << 2 * shift          # above every key: an empty suffix
        self.bins = [[] for _ in range(256)]
        self.lowest = [self.none] * 257

    def add(self, b, size):
        c = CLASS_OF[size >> 3] if size < CLASSED else 255
        key = b << self.shift | size
        keys = self.bins[c]
        insort(keys, key)
        if keys[0] == key:
            lowest = self.lowest
            while c >= 0 and lowest[c] > key:   # a new minimum of every suffix it joins
                lowest[c] = key
                c -= 1

    def remove(self, b, size):
        c = CLASS_OF[size >> 3] if size < CLASSED else 255
        key = b << self.shift | size
        keys = self.bins[c]
        i = bisect_left(keys, key)
        del keys[i]
        if not i:
            # the suffixes whose minimum this was take their next one
            bins, lowest = self.bins, self.lowest
            while c >= 0 and lowest[c] == key:
                keys = bins[c]
                above = lowest[c + 1]
                lowest[c] = keys[0] if keys and keys[0] < above else above
                c -= 1

    def find(self, need):
        """(start, size, None, None) of the lowest-addressed free block holding `need`
        bytes; None if none does."""
        c = CLASS_OF[need >> 3] if need < CLASSED else 255
        best = self.lowest[c + 1]
        low = self.low
        for key in self.bins[c]:
            if key >= best:
                break
            if key & low >= need:
                best = key
                break
        if best == self.none:
            return None
        return best >> self.shift, best & low, None, None

    def free_blocks(self):
        """(start, size) of every block in the bins, in address order."""
        return [(key >> self.shift, key & self.low)
                for key in sorted(key for keys in self.bins for key in keys)]

    def check(self, free_blocks):
        keys = sorted(k for keys in self.bins for k in keys)
        assert keys == [b << self.shift | s for b, s in free_blocks], \
            "address bins out of step with the free blocks"
        above = self.none
        for c in range(255, -1, -1):
            keys = self.bins[c]
            assert keys == sorted(keys), f"bin {c} out of order"
            assert all(size_class(k & self.low) == c for k in keys), f"bin {c}: wrong class"
            above = min(keys[:1] + [above])
            assert self.lowest[c] == above, f"lowest[{c}] is not the lowest key from bin {c} up"

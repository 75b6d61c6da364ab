"""Hot/cold split on a parent model: the article's strategy 3.

Main entry point: `HotCold` (registered as "hot-cold"; "hot-cold:<parent>"
picks the parent, default first-fit). Long-lived ("cold") requests go to the
parent, so an address-ordered parent packs them at the bottom of the heap.
Short-lived ("hot") churn is kept apart in a window of `hot_pages` pages
(default 16 = 1 MiB) reserved from the parent at the first hot request; inside
the window a second instance of the parent model (or of `hot=`) runs as its
own sub-heap, so the holes churn leaves never perforate the cold data. A hot
request the window cannot hold spills to the parent.

Which requests are hot:
  - tagged ones by their tag: "hot", "temp", "scratch", "churn", "short" are hot,
    any other tag ("anchor", "result", "document", ...) is cold;
  - untagged ones by size: smaller than `hot_below` bytes (default 256) is hot,
    since small objects are the typical churn (particles, nodes, strings).
"""

from ..memory import PAGE, Memory
from .base import align_up, check_power_of_two
from .layered import Layered, Tagged

HOT_TAGS = frozenset({"hot", "temp", "scratch", "churn", "short"})
# Where the sub-heap's own addresses start. The window starts on a multiple of
# it, so translating a hot address keeps every alignment up to WINDOW_ALIGN.
WINDOW_ALIGN = 4096


class HotCold(Tagged, Layered):
    name = "hot-cold"
    summary = "long-lived data from the parent at the bottom, churn in its own sub-heap"

    def __init__(self, memory, heap_base, parent=None, hot=None, hot_pages=16, hot_below=256):
        super().__init__(memory, heap_base, parent)
        self.hot_name = hot or parent or self.parent_name
        self.hot_pages = hot_pages
        self.hot_below = hot_below
        self.hot = None            # the sub-heap's model, once the window is reserved
        self.block = 0             # the parent's block holding the window
        self.window = (0, 0)       # [start, end) of the window in the real memory
        self.offset = 0            # real address = hot model's address + offset

    def is_hot(self, size, tag):
        return tag in HOT_TAGS if tag is not None else size < self.hot_below

    # -- alloc ------------------------------------------------------------

    def malloc(self, size):
        return self._alloc(8, size)

    def aligned_alloc(self, align, size):
        check_power_of_two(align, self.name)
        return self._alloc(align, size)

    def _alloc(self, align, size):
        # aligned requests use aligned_alloc on either side, plain ones malloc
        plain = align <= 8
        fresh = self.hot is None
        if self.is_hot(size, self.take_tag()) and align <= WINDOW_ALIGN and self._reserve():
            ptr = self.hot.malloc(size) if plain else self.hot.aligned_alloc(align, size)
            if ptr:
                return ptr + self.offset
        ptr = self.parent.malloc(size) if plain else self.parent.aligned_alloc(align, size)
        if not ptr and fresh and self.hot is not None:
            self._unreserve()        # a failed request leaves the heap as it found it
        return ptr

    def _reserve(self):
        """Reserve the hot window from the parent (once); False if the parent cannot."""
        if self.hot is None:
            from . import get
            # the sub-heap sees [WINDOW_ALIGN, hot_pages * PAGE) of its own memory; a
            # parent block of hot_pages * PAGE holds that much, aligned, whatever the
            # parent's own alignment (no parent aligned_alloc needed)
            block = self.parent.malloc(self.hot_pages * PAGE)
            if not block:
                return False
            start = align_up(block, WINDOW_ALIGN)
            local = Memory(self.hot_pages, self.hot_pages)
            self.hot = get(self.hot_name)(local, WINDOW_ALIGN)
            self.block = block
            self.window = (start, start + self.hot_pages * PAGE - WINDOW_ALIGN)
            self.offset = start - WINDOW_ALIGN
        return True

    def _unreserve(self):
        self.parent.free(self.block)
        self.hot, self.block, self.window, self.offset = None, 0, (0, 0), 0

    def realloc(self, ptr, size):
        # a block stays on its side; a hot block the window cannot grow moves to the parent
        self.take_tag()
        if not self._in_window(ptr):
            return self.parent.realloc(ptr, size)
        ptr -= self.offset
        new = self.hot.realloc(ptr, size)
        if new:
            return new + self.offset
        new = self.parent.malloc(size)
        if new:
            self.hot.free(ptr)
        return new

    # -- free -------------------------------------------------------------

    def free(self, ptr):
        if self._in_window(ptr):
            self.hot.free(ptr - self.offset)
        else:
            self.parent.free(ptr)

    def _in_window(self, ptr):
        return self.window[0] <= ptr < self.window[1]

    # -- inspection -------------------------------------------------------

    def inner_spans(self):
        if self.hot is None:
            return []
        off = self.offset
        return [(start + off, length, used) for start, length, used in self.hot.spans()]

    def pieces(self):
        return [(self.block, self.block + self.hot_pages * PAGE)] if self.hot is not None else []

    def check(self):
        super().check()
        if self.hot is not None:
            self.hot.check()
            assert self.hot.memory.byte_length - WINDOW_ALIGN == self.window[1] - self.window[0], \
                "the hot sub-heap outgrew its window"
            assert self.offset % WINDOW_ALIGN == 0, "the hot window is misaligned"
            assert self.block <= self.window[0] and \
                self.window[1] <= self.block + self.hot_pages * PAGE, \
                "the hot window leaves the parent's block"

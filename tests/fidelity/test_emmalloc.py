"""Fidelity: the emmalloc model against the real Emscripten emmalloc module.

Every address and memory size must match on small-size and bucket-boundary
requests with in-place realloc; the scenarios and random traces all models
share are in test_every_module.py.
"""


from exactness import assert_exact, module_or_skip
from pyfrag.trace import Trace

MODULE = "emmalloc"
MIB = 1 << 20


def boundaries():
    """Sizes around the 4-byte rounding and bucket edges; frees that merge left,
    right and both ways; reallocs that grow into, shrink beside, or jump out of
    their neighbours; a request no memory can hold."""
    t = Trace("emmalloc-boundaries")
    sizes = [0, 1, 4, 7, 8, 9, 12, 13, 119, 120, 121, 159, 160, 1023, 1024, 3583, 3584,
             6143, 6144, 65535, 65536, 131071, 1 << 20, (1 << 27) + 5]
    for i, n in enumerate(sizes):
        t.alloc(i, n)
    for i in range(1, len(sizes), 3):
        t.free(i)
    for i in range(2, len(sizes), 3):
        t.free(i)                      # merges with the left neighbour freed above
    for i in range(0, len(sizes), 3):
        t.realloc(i, sizes[i] * 2 + 3)
    for i in range(0, len(sizes), 3):
        t.realloc(i, max(1, sizes[i] // 4))
    t.alloc(100, 3 << 30)              # sbrk cannot grow that far: a failed request
    for i, n in enumerate(sizes):
        t.alloc(200 + i, n + 40)
    for k, align in enumerate((1, 2, 4, 8, 16, 64, 4096, 1 << 16)):
        t.alloc(300 + k, 10 + k, align)  # posix_memalign refuses 1 and 2
    return t


def test_bucket_boundaries_merges_and_in_place_realloc():
    module_or_skip(MODULE)
    assert_exact(boundaries(), MODULE)



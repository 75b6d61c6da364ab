"""Fidelity: the zig-wasm and zig-libc models against the real Zig modules.

Every address and memory size must match on requests at the size-class and
bigpage boundaries; the scenarios and random traces all models share are in
test_every_module.py.
"""

import pytest

from exactness import assert_exact, module_or_skip
from pyfrag.trace import Trace

MODULES = ["zig-wasm", "zig-libc"]
KIB, MIB = 1 << 10, 1 << 20


def boundaries():
    """Sizes around every slot size and the 1- and 2-bigpage limits, freed in
    turn and reallocated across classes (including big blocks remapped small)."""
    t = Trace("zig-boundaries")
    sizes = [0, 1, 3, 4, 5]
    for k in range(3, 18):
        sizes += [(1 << k) - 20, (1 << k) - 17, (1 << k) - 16, (1 << k) - 4, (1 << k) - 3,
                  (1 << k), (1 << k) + 1]
    sizes += [65532, 65533, 65536, 131068, 131069]
    sizes = [n for n in sizes if n >= 0]
    for i, n in enumerate(sizes):
        t.alloc(i, n)
    for i in range(0, len(sizes), 2):
        t.free(i)
    for i, n in enumerate(sizes):
        if i % 2:
            t.realloc(i, n // 3 + 1)
    for i, n in enumerate(sizes):
        t.alloc(1000 + i, n // 2)
    t.alloc(2000, 40000)
    t.realloc(2000, 10)          # big run kept, but now freed as a small slot
    t.free(2000)
    t.alloc(2001, 10)
    t.alloc(2002, 40000)
    t.alloc(2003, 3 << 30)       # more than memory.grow can give: a failed request
    for k, align in enumerate((1, 2, 4, 8, 64, 4096, 1 << 16, 1 << 17)):
        t.alloc(3000 + k, 10, align)     # posix_memalign refuses 1 and 2 in zig-libc
    return t


@pytest.mark.parametrize("module", MODULES)
def test_size_class_boundaries(module):
    module_or_skip(module)
    assert_exact(boundaries(), module)



"""Zig's libc malloc, the one `zig cc -target wasm32-wasi` links (Zig 0.17).

Main entry point: `ZigLibc`. Zig 0.17 no longer ships wasi-libc's dlmalloc:
lib/c/malloc.zig implements malloc/free/realloc over `std.heap.WasmAllocator`
(the same BrkAllocator as zig_wasm.py) and stores a 16-byte header (alignment
and size) in front of every block, 16 being max(alignof(max_align_t), 8) on
wasm32. So malloc(n) is alloc(n + 16, align 16) and returns the block + 16;
aligned_alloc(a, n) uses max(16, a) for both the header and the alignment.
"""

from .base import posix_memalign_refuses
from .zig_wasm import ZigWasm


class ZigLibc(ZigWasm):
    name = "zig-libc"
    summary = "Zig 0.17 libc malloc (zig cc, wasm32-wasi): wasm_allocator behind a 16-byte header"
    exact = "zig-libc"
    alignment = 16
    default_start = (590016, 10)        # as wasm_modules/zig-libc.wasm: stack and table below

    block_align = 16

    def _layout(self, align):
        # malloc.zig: the header slot is as wide as the alignment, so the block stays aligned
        a = max(self.block_align, align)
        return a, a

    def unsupported(self, size, align=None):
        return posix_memalign_refuses(align)

    def aligned_alloc(self, align, size):
        # What our module's aligned_alloc calls: posix_memalign(), which refuses
        # alignments below the pointer size before reaching malloc.zig.
        return super().aligned_alloc(align, size) if align >= 4 else 0

    def realloc(self, ptr, size):
        # C semantics of malloc.zig: realloc(p, 0) frees p and returns NULL.
        if size == 0:
            self.free(ptr)
            return 0
        return super().realloc(ptr, size)

/* The pyfrag ABI for C allocators: malloc/free/realloc/aligned_alloc/live_bytes
 * exported over whatever libc malloc this file is linked with (wasi-libc's
 * dlmalloc, Zig's libc, Emscripten's emmalloc or dlmalloc).
 *
 * live_bytes is the sum of *requested* sizes of live blocks (the article's
 * TrackingAllocator), which malloc_usable_size cannot tell us. The requested
 * sizes live in a fixed table in static memory (below __heap_base), never in
 * the measured heap, and the allocator sees exactly the sizes the trace asks
 * for: so a model needs only the module's heap base and initial pages to be
 * address-exact, no knowledge of this wrapper.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define EXPORT(name) __attribute__((export_name(name)))

/* Open addressing, linear probing, keyed by address (0 = empty slot).
 * 2^16 slots = 512 KiB of zeroed static memory; filled to 3/4 at most so
 * probes stay short. Past that the wrapper traps rather than fake an OOM. */
#define BITS 16
#define SLOTS (1u << BITS)
#define MASK (SLOTS - 1)
#define MAX_LIVE (SLOTS / 4 * 3)

static struct { uint32_t ptr, size; } table[SLOTS];
static uint32_t count;
static size_t live;

static uint32_t home(uint32_t p) { return (p * 2654435761u) >> (32 - BITS); }

static void remember(void *p, size_t n) {
    uint32_t k = (uint32_t)(uintptr_t)p, i = home(k);
    if (count >= MAX_LIVE) __builtin_trap();
    while (table[i].ptr) i = (i + 1) & MASK;
    table[i].ptr = k;
    table[i].size = (uint32_t)n;
    count++;
    live += n;
}

static void forget(void *p) {
    uint32_t k = (uint32_t)(uintptr_t)p, i = home(k), j;
    while (table[i].ptr != k) {
        if (!table[i].ptr) return;          /* not ours: nothing to forget */
        i = (i + 1) & MASK;
    }
    live -= table[i].size;
    count--;
    /* Backward-shift deletion (Knuth's algorithm R): no tombstones. */
    for (j = i;;) {
        j = (j + 1) & MASK;
        if (!table[j].ptr) break;
        uint32_t h = home(table[j].ptr);
        if (i <= j ? (h <= i || h > j) : (h <= i && h > j)) {
            table[i] = table[j];
            i = j;
        }
    }
    table[i].ptr = 0;
}

EXPORT("malloc") void *pf_malloc(size_t n) {
    void *p = malloc(n);
    if (p) remember(p, n);
    return p;
}

EXPORT("free") void pf_free(void *p) {
    if (!p) return;
    forget(p);
    free(p);
}

EXPORT("realloc") void *pf_realloc(void *p, size_t n) {
    if (!p) return pf_malloc(n);
    void *q = realloc(p, n);
    if (q) {                 /* on failure the old block stays live and counted */
        forget(p);
        remember(q, n);
    }
    return q;
}

EXPORT("aligned_alloc") void *pf_aligned_alloc(size_t align, size_t n) {
    /* C11 wants n to be a multiple of align; posix_memalign does not, and
     * traces ask for arbitrary sizes, so use it. */
    void *p = 0;
    if (posix_memalign(&p, align, n)) return 0;
    remember(p, n);
    return p;
}

EXPORT("live_bytes") size_t pf_live_bytes(void) { return live; }

/* The pyfrag ABI for C allocators: malloc/free/realloc/aligned_alloc/live_bytes
 * exported over whatever libc malloc this file is linked with (wasi-libc's
 * dlmalloc, Zig's libc, Emscripten's emmalloc or dlmalloc, mimalloc), and the
 * replay inside the module (pyfrag_run). Main entry points: the exports below.
 *
 * live_bytes is the sum of *requested* sizes of live blocks (the article's
 * TrackingAllocator). The host always knows a block's size, so free and
 * realloc take it, as Rust's dealloc(ptr, layout) does:
 *
 *   free(ptr, size, align)                 size: the block's requested size
 *   realloc(ptr, new_size, size, align)    align: what it was asked with, 0 for malloc's
 *
 * and the wrapper keeps no table of blocks: nothing it holds can fill, however
 * many blocks are live. The allocator sees exactly the sizes the trace asks for,
 * so a model needs only the module's heap base and initial pages to be
 * address-exact, no knowledge of this wrapper.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define EXPORT(name) __attribute__((export_name(name)))

static size_t live;

EXPORT("malloc") void *pf_malloc(size_t n) {
    void *p = malloc(n);
    if (p) live += n;
    return p;
}

EXPORT("aligned_alloc") void *pf_aligned_alloc(size_t align, size_t n) {
    /* C11 wants n to be a multiple of align; posix_memalign does not, and
     * traces ask for arbitrary sizes, so use it. */
    void *p = 0;
    if (posix_memalign(&p, align, n)) return 0;
    live += n;
    return p;
}

EXPORT("free") void pf_free(void *p, size_t size, size_t align) {
    (void)align;                /* C's free finds the chunk itself */
    if (!p) return;
    free(p);
    live -= size;
}

EXPORT("realloc") void *pf_realloc(void *p, size_t n, size_t size, size_t align) {
    (void)align;
    if (!p) return pf_malloc(n);
    void *q = realloc(p, n);
    if (q) live += n - size;    /* on failure the old block stays live and counted */
    else if (!n) live -= size;  /* realloc(p, 0) returning NULL has freed p */
    return q;
}

EXPORT("live_bytes") size_t pf_live_bytes(void) { return live; }

/* ---- the replay inside the module -------------------------------------------------------------------
 * pyfrag_run(count, flags) replays `count` events with the rules of pyfrag's replay loop
 * (pyfrag/replay.py, drive) from arrays the host wrote at pyfrag_run_events(), so the host does
 * no work per event and makes one call per chunk. The module keeps no ids: the host tells each
 * event where the id's block stands, either as `ref`, the index in this chunk of the id's
 * previous event (whose outputs say), or, when that event lies in an earlier chunk (ref -1),
 * by writing the block's state into the event's own in/out fields. Arrays of `count`
 * elements, one after another (offsets in units of count, so an i64 array is 8-aligned):
 *     0 u32 size    in: the request's size (realloc: the new size)
 *     4 i32 ref     in: the id's previous event in this chunk, or -1 (state given below)
 *     8 u32 block   in/out: the address of the id's block (0: the id holds NULL)
 *    12 u32 bsize   in/out: the block's requested size
 *    16 u32 result  out: the address returned (0 for a free or a failure)
 *    20 u32 pages   out: memory pages after the event (the host writes 0: still 0 after a
 *                   trap, it marks the event that did not finish)
 *    24 i64 live    out: requested bytes of live blocks as the loop counts them (not leaked ones)
 *    32 u8  op      in: 0 alloc, 1 free, 2 realloc
 *    33 u8  code    in: 0 malloc, k aligned_alloc(1 << (k - 1)), 255 fails without a call
 *    34 u8  meta    in/out: bit 0 the id is held (a block, or NULL after a failure), bits 1-7
 *                   the block's alignment code
 *    35 u8  status  out: RUN_* bits; issue bits and live are written before the allocator is
 *                   called, so after a trap they say what the loop had done in that event
 * flags: RUN_STOP ends after the first failed request (returns its index + 1), RUN_START
 * starts the loop's live count from 0 (a trace's first chunk). Returns the events done. */
enum { OP_ALLOC, OP_FREE, OP_REALLOC };
enum { RUN_FAILED = 1, RUN_BAD_FREE = 2, RUN_LEAKED = 4, RUN_NOT_LIVE = 8, RUN_OUTSIDE = 16 };
enum { RUN_STOP = 1, RUN_START = 2 };
#define UNCALLED 255u
#define HELD 1u
#define RUN_EVENT_BYTES 36u
/* The run's arrays, then the loop's live count, in static memory below __heap_base: 512 KiB,
 * the size the wrapper's old block table had, so the heap starts where it did. */
#define RUN_BYTES (512u * 1024 - 8)
#define RUN_EVENTS (RUN_BYTES / RUN_EVENT_BYTES)

static struct { uint8_t events[RUN_BYTES]; int64_t live; } run __attribute__((aligned(8)));

EXPORT("pyfrag_run_events") void *pf_run_events(void) { return run.events; }
EXPORT("pyfrag_run_capacity") uint32_t pf_run_capacity(void) { return RUN_EVENTS; }

static void *request(uint32_t code, uint32_t size) {
    return code ? pf_aligned_alloc((size_t)1 << (code - 1), size) : pf_malloc(size);
}

EXPORT("pyfrag_run") uint32_t pf_run(uint32_t count, uint32_t flags) {
    uint8_t *base = run.events;
    uint32_t *sizes = (uint32_t *)base, *block = sizes + 2 * count, *bsize = sizes + 3 * count,
             *result = sizes + 4 * count, *pages = sizes + 5 * count;
    int32_t *refs = (int32_t *)(sizes + count);
    int64_t *lives = (int64_t *)(base + 24 * count);
    uint8_t *ops = base + 32 * count, *codes = ops + count, *meta = codes + count,
            *status = meta + count;
    if (flags & RUN_START) run.live = 0;
    for (uint32_t i = 0; i < count; i++) {
        int32_t ref = refs[i];
        uint32_t from = ref >= 0 ? (uint32_t)ref : i, size = sizes[i], code = codes[i];
        uint32_t p = block[from], held = bsize[from], m = meta[from], st = 0;
        void *old = (m & HELD) ? (void *)(uintptr_t)p : 0, *r = 0;
        size_t align = (m >> 1) ? (size_t)1 << ((m >> 1) - 1) : 0;
        switch (ops[i]) {
        case OP_FREE:
            st = m & HELD ? 0 : RUN_BAD_FREE;
            status[i] = st;
            lives[i] = run.live;
            if (old) { pf_free(old, held, align); run.live -= held; }
            p = held = m = 0;
            break;
        case OP_ALLOC:
            if (old) { st = RUN_LEAKED; run.live -= held; }   /* still in live_bytes() */
            status[i] = st;
            lives[i] = run.live;
            if (code != UNCALLED) r = request(code, size);
            p = (uint32_t)(uintptr_t)r;
            held = r ? size : 0;
            m = HELD | (r ? code << 1 : 0);
            if (r) run.live += size; else st |= RUN_FAILED;
            break;
        default:
            if (!old) st = RUN_NOT_LIVE;
            status[i] = st;
            lives[i] = run.live;
            if (code != UNCALLED) r = old ? pf_realloc(old, size, held, align) : pf_malloc(size);
            if (r) {
                run.live += (int64_t)size - (old ? held : 0);
                p = (uint32_t)(uintptr_t)r;
                m = HELD | (old ? m & ~HELD : 0);
                held = size;
            } else if (old && !size) {      /* realloc(p, 0) returning NULL has freed p */
                run.live -= held;
                p = held = 0;
                m = HELD;
            } else {
                st |= RUN_FAILED;           /* the block, if any, stays as it was */
            }
        }
        uint32_t now = __builtin_wasm_memory_size(0);
        if (r && (uint64_t)(uintptr_t)r + size > (uint64_t)now << 16) st |= RUN_OUTSIDE;
        result[i] = (uint32_t)(uintptr_t)r;
        block[i] = p;
        bsize[i] = held;
        meta[i] = (uint8_t)m;
        lives[i] = run.live;
        status[i] = (uint8_t)st;
        pages[i] = now;
        if ((flags & RUN_STOP) && (st & RUN_FAILED)) return i + 1;
    }
    return count;
}

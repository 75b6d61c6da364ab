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
 * probes stay short. Past that the wrapper traps rather than fake an OOM.
 * The same memory holds the batches of pyfrag_replay and pyfrag_run (below): a
 * module is driven one way only (call by call, by batches, or by runs), and
 * mixing them traps. */
#define BITS 16
#define SLOTS (1u << BITS)
#define MASK (SLOTS - 1)
#define MAX_LIVE (SLOTS / 4 * 3)
#define BATCHED UINT32_MAX          /* `count` once batches have run */
#define RUNNING (UINT32_MAX - 1)    /* `count` once pyfrag_run has run */
#define EVENT_WORDS 8
/* pyfrag_run (below): events per call, and the ids' table (key = id + 1, 0 = empty) */
#define RUN_EVENTS 3072u
#define RUN_BITS 15
#define RUN_SLOTS (1u << RUN_BITS)
#define RUN_MASK (RUN_SLOTS - 1)
#define RUN_MAX_IDS (RUN_SLOTS / 4 * 3)
#define RUN_EVENT_BYTES 35u          /* i64 id, size, live; u32 result, pages; u8 op, align, status */

struct run_slot { uint32_t key, ptr, size; };   /* ptr 0: the id's last request failed */
struct run_state { uint32_t ids, leaked; };      /* keys in the table; bytes of leaked blocks */
/* 8 bytes of slack so the i64 arrays start 8-aligned, the events, the ids' table, the state */
#define RUN_BYTES (8 + RUN_EVENTS * RUN_EVENT_BYTES + RUN_SLOTS * sizeof(struct run_slot) \
                   + sizeof(struct run_state))

static union {
    struct { uint32_t ptr, size; } slot[SLOTS];
    uint32_t event[SLOTS * 2 / EVENT_WORDS][EVENT_WORDS];
    uint8_t run[RUN_BYTES];             /* in the union, so static memory stays put */
} table;
_Static_assert(RUN_BYTES <= sizeof(table.slot), "pyfrag_run's arrays fit the size table's memory");
static uint32_t count;
static size_t live;

/* The table serves one way of driving the module: the first batch or run claims it (call-by-call
 * use has left it empty, or it traps), and any other way traps from then on. */
static void drive_by(uint32_t mode) {
    if (count == mode) return;
    if (count) __builtin_trap();
    count = mode;
}

static uint32_t home(uint32_t p) { return (p * 2654435761u) >> (32 - BITS); }

static void remember(void *p, size_t n) {
    uint32_t k = (uint32_t)(uintptr_t)p, i = home(k);
    if (count >= MAX_LIVE) __builtin_trap();
    while (table.slot[i].ptr) i = (i + 1) & MASK;
    table.slot[i].ptr = k;
    table.slot[i].size = (uint32_t)n;
    count++;
    live += n;
}

static void forget(void *p) {
    uint32_t k = (uint32_t)(uintptr_t)p, i = home(k), j;
    if (count >= RUNNING) __builtin_trap();
    while (table.slot[i].ptr != k) {
        if (!table.slot[i].ptr) return;          /* not ours: nothing to forget */
        i = (i + 1) & MASK;
    }
    live -= table.slot[i].size;
    count--;
    /* Backward-shift deletion (Knuth's algorithm R): no tombstones. */
    for (j = i;;) {
        j = (j + 1) & MASK;
        if (!table.slot[j].ptr) break;
        uint32_t h = home(table.slot[j].ptr);
        if (i <= j ? (h <= i || h > j) : (h <= i && h > j)) {
            table.slot[i] = table.slot[j];
            i = j;
        }
    }
    table.slot[i].ptr = 0;
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
    } else if (!n) {
        forget(p);           /* realloc(p, 0) returning NULL has freed p */
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

/* ---- batched replay ------------------------------------------------------
 * pyfrag_replay(from, to) runs events [from, to) the host wrote at pyfrag_events(), each
 * EVENT_WORDS u32 words, so a million-event trace costs a few host calls
 * instead of a million. In: word 0 the op (low byte; bit 8 REF: word 1 is the
 * index of an earlier event of this batch, whose block it names; bits 16-23
 * log2 of the block's alignment, which Rust and Zig need back to free it),
 * word 1 the block's address, word 2 the size, word 3
 * the block's size before a realloc or free (with REF, word 7 of the event
 * named). Out: word 4 the address returned (0 for free, or on failure), word 5
 * the block's address after the event (0 once freed), word 6 memory pages after
 * it, word 7 the block's size after it. The allocator sees the very calls
 * the exports above make, so addresses equal a call-by-call replay's; the host
 * keeps ids and sizes, so no table limits how many blocks are live. After a
 * trap, word 6 of every event run is non-zero: the host resumes after it. */
/* OP_NOTHING: a request the host fails without a call (too big for wasm32) */
enum { OP_MALLOC, OP_FREE, OP_REALLOC, OP_ALIGNED, OP_NOTHING };
#define REF 0x100u

EXPORT("pyfrag_events") uint32_t *pf_events(void) { return table.event[0]; }
EXPORT("pyfrag_capacity") uint32_t pf_capacity(void) { return SLOTS * 2 / EVENT_WORDS; }

EXPORT("pyfrag_replay") uint32_t pf_replay(uint32_t from, uint32_t to) {
    drive_by(BATCHED);
    for (uint32_t i = from; i < to; i++) {
        uint32_t *e = table.event[i], op = e[0];
        if (op & REF) {          /* resolved in place: after a trap the host reads plain words */
            uint32_t *made = table.event[e[1]];
            e[3] = made[7];
            e[1] = made[5];
            e[0] = op = (op & ~REF & 0xff) | (made[0] & 0xff0000);
        }
        void *p = (void *)(uintptr_t)e[1], *r = 0, *block = 0;
        uint32_t size = e[2];
        switch (op & 0xff) {
        case OP_MALLOC:
            block = r = malloc(size);
            if (r) live += size;
            break;
        case OP_ALIGNED:
            if (posix_memalign(&r, (size_t)1 << (op >> 16 & 0xff), size)) r = 0;
            block = r;
            if (r) live += size;
            break;
        case OP_FREE:
            if (p) { free(p); live -= e[3]; }
            size = 0;
            break;
        case OP_REALLOC:
            r = p ? realloc(p, size) : malloc(size);
            if (r) { live += size; if (p) live -= e[3]; }
            /* a failed realloc leaves the block as it was; realloc(p, 0) returning NULL has freed it */
            else if (p && size) { block = p; size = e[3]; }
            else if (p) live -= e[3];
            if (r) block = r;
            break;
        }
        e[4] = (uint32_t)(uintptr_t)r;
        e[5] = (uint32_t)(uintptr_t)block;
        e[6] = __builtin_wasm_memory_size(0);
        e[7] = block ? size : 0;
    }
    return to;
}

/* ---- the replay inside the module -----------------------------------------
 * pyfrag_run(from, to) replays events [from, to) with the rules of pyfrag's replay loop
 * (pyfrag/replay.py, drive): the module keeps each id's block in its own table, so the host
 * only copies the trace's arrays in and the run's arrays out, with no work per event.
 * At pyfrag_run_events(), RUN_EVENTS events as arrays, in this order:
 *   i64 id, i64 size (in); i64 live (out: requested bytes of live blocks after the event, as
 *   the loop counts them, so not leaked ones); u32 result (out: the address returned, 0 for a
 *   free or a failure); u32 pages (out: memory size after the event); u8 op (in: 0 alloc,
 *   1 free, 2 realloc); u8 align (in: 0 malloc, k aligned_alloc(1 << (k - 1)), 255 fails
 *   without a call); u8 status (out: RUN_* bits below).
 * Each array has the element type of the host's own (pyfrag.runner), so it is copied as is.
 * The table holds up to RUN_MAX_IDS ids: pyfrag_run returns the first event that would
 * need one more (the host then replays elsewhere), else `to`. */
enum { RUN_FAILED = 1, RUN_BAD_FREE = 2, RUN_LEAKED = 4, RUN_NOT_LIVE = 8 };
#define UNCALLED 255u

static uint8_t *run_events(void) { return (uint8_t *)(((uintptr_t)table.run + 7) & ~(uintptr_t)7); }
static struct run_slot *run_slots(void) {
    return (struct run_slot *)(run_events() + RUN_EVENTS * RUN_EVENT_BYTES);
}
static struct run_state *run_state(void) { return (struct run_state *)(run_slots() + RUN_SLOTS); }

static uint32_t run_home(uint32_t k) { return (k * 2654435761u) >> (32 - RUN_BITS); }

static struct run_slot *run_find(uint32_t key) {    /* its slot, or the empty one it would take */
    struct run_slot *slot = run_slots();
    uint32_t i = run_home(key);
    while (slot[i].key && slot[i].key != key) i = (i + 1) & RUN_MASK;
    return &slot[i];
}

static void run_forget(struct run_slot *s) {        /* backward-shift deletion, as forget() */
    struct run_slot *slot = run_slots();
    uint32_t i = (uint32_t)(s - slot), j;
    for (j = i;;) {
        j = (j + 1) & RUN_MASK;
        if (!slot[j].key) break;
        uint32_t h = run_home(slot[j].key);
        if (i <= j ? (h <= i || h > j) : (h <= i && h > j)) {
            slot[i] = slot[j];
            i = j;
        }
    }
    slot[i].key = 0;
    run_state()->ids--;
}

static void *run_request(uint32_t align, uint64_t size) {
    void *r = 0;
    if (size > UINT32_MAX || align == UNCALLED) return 0;
    if (!align) return malloc((size_t)size);
    if (posix_memalign(&r, (size_t)1 << (align - 1), (size_t)size)) return 0;
    return r;
}

EXPORT("pyfrag_run_events") uint8_t *pf_run_events(void) { return run_events(); }
EXPORT("pyfrag_run_capacity") uint32_t pf_run_capacity(void) { return RUN_EVENTS; }

EXPORT("pyfrag_run") uint32_t pf_run(uint32_t from, uint32_t to) {
    uint8_t *ev = run_events();
    struct run_state *state = run_state();
    int64_t *ids = (int64_t *)ev, *sizes = ids + RUN_EVENTS;
    int64_t *lives = sizes + RUN_EVENTS;
    uint32_t *result = (uint32_t *)(lives + RUN_EVENTS), *pages = result + RUN_EVENTS;
    uint8_t *ops = (uint8_t *)(pages + RUN_EVENTS), *aligns = ops + RUN_EVENTS,
            *status = aligns + RUN_EVENTS;
    drive_by(RUNNING);
    for (uint32_t i = from; i < to; i++) {
        uint32_t key = (uint32_t)ids[i] + 1, st = 0;
        uint64_t size = (uint64_t)sizes[i];
        struct run_slot *s = run_find(key);
        void *old = s->key ? (void *)(uintptr_t)s->ptr : 0, *r = 0;
        if (!s->key && ops[i] != OP_FREE && state->ids >= RUN_MAX_IDS) return i;
        switch (ops[i]) {
        case OP_FREE:
            if (!s->key) { st = RUN_BAD_FREE; break; }
            if (old) { free(old); live -= s->size; }
            run_forget(s);
            break;
        case OP_MALLOC:
            if (old) { st = RUN_LEAKED; state->leaked += s->size; }   /* still live_bytes() */
            r = run_request(aligns[i], size);
            if (!s->key) { s->key = key; state->ids++; }
            s->ptr = (uint32_t)(uintptr_t)r;
            s->size = r ? (uint32_t)size : 0;
            if (r) live += (size_t)size; else st |= RUN_FAILED;
            break;
        case OP_REALLOC:
            if (!old) st = RUN_NOT_LIVE;
            if (size <= UINT32_MAX) r = old ? realloc(old, (size_t)size) : malloc((size_t)size);
            if (r) {
                if (!s->key) { s->key = key; state->ids++; }
                live += (size_t)size - (old ? s->size : 0);
                s->ptr = (uint32_t)(uintptr_t)r;
                s->size = (uint32_t)size;
            } else if (old && !size) {      /* realloc(p, 0) returning NULL has freed p */
                live -= s->size;
                s->ptr = s->size = 0;
            } else {
                st |= RUN_FAILED;           /* the block, if any, stays as it was */
            }
            break;
        }
        result[i] = (uint32_t)(uintptr_t)r;
        lives[i] = (int64_t)(live - state->leaked);
        pages[i] = (uint32_t)__builtin_wasm_memory_size(0);
        status[i] = (uint8_t)st;
    }
    return to;
}

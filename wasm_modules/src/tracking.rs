//! The Rust module: Rust std's default wasm allocator (System = the dlmalloc
//! port) behind the article's TrackingAllocator, the article's
//! `produce_fragmentation()` and `get_live_data_size()`, and pyfrag's ABI
//! (malloc/free/realloc/aligned_alloc/live_bytes) so traces can drive it.
//! Built with `--cfg wee_alloc` (and the wee_alloc crate), the same module
//! runs wee_alloc instead of System: the wee-alloc module.
//!
//! GlobalAlloc needs the Layout back on dealloc, which a C-style free(ptr)
//! does not carry. The Layout of each ABI block is kept in a fixed table in
//! static memory (below __heap_base), never in the measured heap, so the
//! allocator sees exactly the requested sizes and addresses are its own.

#[cfg(wee_alloc)]
extern crate wee_alloc;

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};

// INNER: the allocator under the tracking wrapper.
#[cfg(not(wee_alloc))]
use std::alloc::System as INNER;
#[cfg(wee_alloc)]
static INNER: wee_alloc::WeeAlloc<'static> = wee_alloc::WeeAlloc::INIT;

// ---- the article's tracking wrapper (plus realloc, so Vec growth is counted) ----

struct TrackingAllocator;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for TrackingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = INNER.alloc(layout);
        if !ptr.is_null() {
            ALLOCATED.fetch_add(layout.size(), Ordering::SeqCst);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        INNER.dealloc(ptr, layout);
        ALLOCATED.fetch_sub(layout.size(), Ordering::SeqCst);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = INNER.realloc(ptr, layout, new_size);
        if !new.is_null() {
            ALLOCATED.fetch_sub(layout.size(), Ordering::SeqCst);
            ALLOCATED.fetch_add(new_size, Ordering::SeqCst);
        }
        new
    }
}

#[global_allocator]
static A: TrackingAllocator = TrackingAllocator;

#[no_mangle]
pub extern "C" fn get_live_data_size() -> usize {
    ALLOCATED.load(Ordering::SeqCst)
}

// ---- the article's swiss-cheese pattern ----

// The article's anchors live in a local Vec and so die when the function
// returns; here they are kept (until release_fragments) so that the state the
// article describes -- 1000 anchors scattered over ~100 MB -- is still there
// for the caller to measure.
static mut FRAGMENTS: Vec<Box<[u8; 1024]>> = Vec::new();

#[no_mangle]
pub extern "C" fn produce_fragmentation() {
    let fragments = unsafe { &mut FRAGMENTS };
    for _ in 0..1000 {
        // 1. Allocate a "long-lived" small anchor
        let anchor = Box::new([0u8; 1024]); // 1KB
        // 2. Allocate a "short-lived" large temporary buffer
        {
            let temp = Box::new([0u8; 1024 * 100]); // 100KB
            // An unused Box may be optimised away entirely; a volatile read keeps
            // the allocation the article is about.
            unsafe { std::ptr::read_volatile(&temp[0]) };
            // _temp is dropped here, creating a 100KB hole
        }
        // 3. Keep the anchor alive
        fragments.push(anchor);
    }
}

#[no_mangle]
pub extern "C" fn release_fragments() {
    unsafe { FRAGMENTS = Vec::new() };
}

// ---- pyfrag's ABI ----

// 2^16 slots of (address, size, align); at most 3/4 full so probes stay short.
// Batched replays (pyfrag_replay, below) reuse the same memory for their events.
const BITS: u32 = 16;
const SLOTS: usize = 1 << BITS;
const MAX_LIVE: usize = SLOTS / 4 * 3;

#[derive(Clone, Copy)]
struct Slot {
    ptr: u32,
    size: u32,
    align: u32,
}

static mut TABLE: [Slot; SLOTS] = [Slot { ptr: 0, size: 0, align: 0 }; SLOTS];
static mut COUNT: usize = 0;
const BATCHED: usize = usize::MAX; // COUNT once batches have run: the table holds events then
const RUNNING: usize = usize::MAX - 1; // COUNT once pyfrag_run has run

/// The table serves one way of driving the module: the first batch or run claims it (call-by-call
/// use has left it empty, or it traps), and any other way traps from then on.
unsafe fn drive_by(mode: usize) {
    if COUNT != mode {
        if COUNT != 0 {
            core::arch::wasm32::unreachable();
        }
        COUNT = mode;
    }
}

fn home(p: u32) -> usize {
    (p.wrapping_mul(2654435761) >> (32 - BITS)) as usize
}

unsafe fn remember(p: *mut u8, layout: Layout) {
    if COUNT >= MAX_LIVE {
        core::arch::wasm32::unreachable();
    }
    let mut i = home(p as u32);
    while TABLE[i].ptr != 0 {
        i = (i + 1) & (SLOTS - 1);
    }
    TABLE[i] = Slot { ptr: p as u32, size: layout.size() as u32, align: layout.align() as u32 };
    COUNT += 1;
}

/// Removes `p` from the table and returns the Layout it was allocated with.
unsafe fn forget(p: *mut u8) -> Option<Layout> {
    if COUNT >= RUNNING {
        core::arch::wasm32::unreachable();
    }
    let k = p as u32;
    let mut i = home(k);
    while TABLE[i].ptr != k {
        if TABLE[i].ptr == 0 {
            return None;
        }
        i = (i + 1) & (SLOTS - 1);
    }
    let s = TABLE[i];
    COUNT -= 1;
    // Backward-shift deletion (Knuth's algorithm R): no tombstones.
    let mut j = i;
    loop {
        j = (j + 1) & (SLOTS - 1);
        if TABLE[j].ptr == 0 {
            break;
        }
        let h = home(TABLE[j].ptr);
        let movable = if i <= j { h <= i || h > j } else { h <= i && h > j };
        if movable {
            TABLE[i] = TABLE[j];
            i = j;
        }
    }
    TABLE[i].ptr = 0;
    Some(Layout::from_size_align_unchecked(s.size as usize, s.align as usize))
}

// Rust's dlmalloc rounds every request to its 8-byte alignment anyway.
const ALIGN: usize = 8;
// aligned_alloc's smallest alignment. wee_alloc serves alignments up to 4 from
// its size classes (malloc's 8 never reaches them), so those pass through.
#[cfg(not(wee_alloc))]
const MIN_ALIGN: usize = ALIGN;
#[cfg(wee_alloc)]
const MIN_ALIGN: usize = 1;

// ---- the calls both ways of driving the module make: blocks given by address and Layout ----

unsafe fn take(align: usize, size: usize) -> *mut u8 {
    // GlobalAlloc forbids zero-sized requests: ask for one byte, count zero.
    let layout = match Layout::from_size_align(size.max(1), align) {
        Ok(l) => l,
        Err(_) => return std::ptr::null_mut(),
    };
    let p = A.alloc(layout);
    if !p.is_null() && size == 0 {
        ALLOCATED.fetch_sub(1, Ordering::SeqCst);
    }
    p
}

unsafe fn real_layout(l: Layout) -> Layout {
    Layout::from_size_align_unchecked(l.size().max(1), l.align())
}

unsafe fn give_back(p: *mut u8, l: Layout) {
    if l.size() == 0 {
        ALLOCATED.fetch_add(1, Ordering::SeqCst);
    }
    A.dealloc(p, real_layout(l));
}

/// realloc of a block of Layout `l`: null when it fails, the block then unchanged.
unsafe fn resize(p: *mut u8, l: Layout, size: usize) -> *mut u8 {
    if l.size() == 0 {
        ALLOCATED.fetch_add(1, Ordering::SeqCst);
    }
    let q = A.realloc(p, real_layout(l), size.max(1));
    if q.is_null() {
        if l.size() == 0 {
            ALLOCATED.fetch_sub(1, Ordering::SeqCst);
        }
    } else if size == 0 {
        ALLOCATED.fetch_sub(1, Ordering::SeqCst);
    }
    q
}

// ---- call by call: Layouts kept in the table ----

unsafe fn alloc_with(align: usize, size: usize) -> *mut u8 {
    let p = take(align, size);
    if !p.is_null() {
        remember(p, Layout::from_size_align_unchecked(size, align));
    }
    p
}

#[no_mangle]
pub unsafe extern "C" fn malloc(size: usize) -> *mut u8 {
    alloc_with(ALIGN, size)
}

#[no_mangle]
pub unsafe extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut u8 {
    alloc_with(align.max(MIN_ALIGN), size)
}

#[no_mangle]
pub unsafe extern "C" fn free(p: *mut u8) {
    if let Some(l) = forget(p) {
        give_back(p, l);
    }
}

#[no_mangle]
pub unsafe extern "C" fn realloc(p: *mut u8, size: usize) -> *mut u8 {
    if p.is_null() {
        return malloc(size);
    }
    let l = match forget(p) {
        Some(l) => l,
        None => return std::ptr::null_mut(),
    };
    let q = resize(p, l, size);
    if q.is_null() {
        remember(p, l); // the old block stays live, as C's realloc promises
    } else {
        remember(q, Layout::from_size_align_unchecked(size, l.align()));
    }
    q
}

// ---- by batches: the host keeps ids, sizes and alignments (see src/abi.c for the layout) ----

const WORDS: usize = 8;
const EVENTS: usize = SLOTS * 3 / WORDS; // the table's memory, reused: a Slot is 3 words
const REF: u32 = 0x100;

#[no_mangle]
pub unsafe extern "C" fn pyfrag_events() -> *mut u32 {
    TABLE.as_mut_ptr() as *mut u32
}

#[no_mangle]
pub extern "C" fn pyfrag_capacity() -> u32 {
    EVENTS as u32
}

#[no_mangle]
pub unsafe extern "C" fn pyfrag_replay(from: u32, to: u32) -> u32 {
    drive_by(BATCHED);
    let events = pyfrag_events();
    for i in from as usize..to as usize {
        let e = std::slice::from_raw_parts_mut(events.add(i * WORDS), WORDS);
        let mut op = e[0];
        if op & REF != 0 {
            let made = std::slice::from_raw_parts(events.add(e[1] as usize * WORDS), WORDS);
            e[3] = made[7];
            e[1] = made[5];
            op = (op & 0xff) | (made[0] & 0xff0000);
        }
        let p = e[1] as usize as *mut u8;
        let mut size = e[2] as usize;
        let mut align = 1usize << (op >> 16 & 0xff);
        let (mut r, mut block) = (std::ptr::null_mut(), std::ptr::null_mut());
        match op & 0xff {
            0 => {
                align = ALIGN;
                r = take(align, size);
                block = r;
            }
            3 => {
                align = align.max(MIN_ALIGN);
                r = take(align, size);
                block = r;
            }
            1 => {
                if !p.is_null() {
                    give_back(p, Layout::from_size_align_unchecked(e[3] as usize, align));
                }
                size = 0;
            }
            2 => {
                if p.is_null() {
                    align = ALIGN;
                    r = take(align, size);
                } else {
                    r = resize(p, Layout::from_size_align_unchecked(e[3] as usize, align), size);
                }
                // a failed realloc leaves the block as it was; realloc(p, 0) failing has let it go
                block = if !r.is_null() {
                    r
                } else if !p.is_null() && size != 0 {
                    size = e[3] as usize;
                    p
                } else {
                    std::ptr::null_mut()
                };
            }
            _ => {}
        }
        e[0] = (op & 0xff) | (align.trailing_zeros() << 16);
        e[1] = p as u32;
        e[4] = r as u32;
        e[5] = block as u32;
        e[6] = core::arch::wasm32::memory_size(0) as u32;
        e[7] = if block.is_null() { 0 } else { size as u32 };
    }
    to
}

// ---- the whole replay inside the module: ids kept here (src/abi.c has the layout and the rules) ----

const RUN_EVENTS: usize = 3072;
const RUN_BITS: u32 = 15;
const RUN_SLOTS: usize = 1 << RUN_BITS;
const RUN_MAX_IDS: u32 = (RUN_SLOTS / 4 * 3) as u32;
const RUN_EVENT_BYTES: usize = 35; // i64 id, size, live; u32 result, pages; u8 op, align, status
const RUN_FAILED: u8 = 1;
const RUN_BAD_FREE: u8 = 2;
const RUN_LEAKED: u8 = 4;
const RUN_NOT_LIVE: u8 = 8;
const UNCALLED: u8 = 255;
// slack to 8-align the events, the events, the (id + 1, address, size) slots, each slot's log2
// alignment, then the ids in the table and the bytes of leaked blocks
const RUN_BYTES: usize = 8 + RUN_EVENTS * RUN_EVENT_BYTES + RUN_SLOTS * 13 + 8;
const _: () = assert!(RUN_BYTES <= SLOTS * 12, "pyfrag_run's arrays fit the table's memory");

#[derive(Clone, Copy)]
#[repr(C)]
struct RunSlot {
    key: u32, // id + 1; 0: empty
    ptr: u32, // 0: the id's last request failed
    size: u32,
}

unsafe fn run_events() -> *mut u8 {
    ((TABLE.as_mut_ptr() as usize + 7) & !7) as *mut u8
}

unsafe fn run_slots() -> *mut RunSlot {
    run_events().add(RUN_EVENTS * RUN_EVENT_BYTES) as *mut RunSlot
}

unsafe fn run_aligns() -> *mut u8 {
    run_slots().add(RUN_SLOTS) as *mut u8
}

unsafe fn run_state() -> *mut u32 {
    run_aligns().add(RUN_SLOTS) as *mut u32
}

fn run_home(k: u32) -> usize {
    (k.wrapping_mul(2654435761) >> (32 - RUN_BITS)) as usize
}

/// The slot of `key`, or the empty one it would take.
unsafe fn run_find(key: u32) -> usize {
    let slots = run_slots();
    let mut i = run_home(key);
    while (*slots.add(i)).key != 0 && (*slots.add(i)).key != key {
        i = (i + 1) & (RUN_SLOTS - 1);
    }
    i
}

/// Backward-shift deletion, as forget().
unsafe fn run_forget(mut i: usize) {
    let (slots, aligns) = (run_slots(), run_aligns());
    let mut j = i;
    loop {
        j = (j + 1) & (RUN_SLOTS - 1);
        if (*slots.add(j)).key == 0 {
            break;
        }
        let h = run_home((*slots.add(j)).key);
        let movable = if i <= j { h <= i || h > j } else { h <= i && h > j };
        if movable {
            *slots.add(i) = *slots.add(j);
            *aligns.add(i) = *aligns.add(j);
            i = j;
        }
    }
    (*slots.add(i)).key = 0;
    *run_state() -= 1;
}

#[no_mangle]
pub unsafe extern "C" fn pyfrag_run_events() -> *mut u8 {
    run_events()
}

#[no_mangle]
pub extern "C" fn pyfrag_run_capacity() -> u32 {
    RUN_EVENTS as u32
}

#[no_mangle]
pub unsafe extern "C" fn pyfrag_run(from: u32, to: u32) -> u32 {
    drive_by(RUNNING);
    let ids = run_events() as *const i64;
    let sizes = ids.add(RUN_EVENTS);
    let lives = sizes.add(RUN_EVENTS) as *mut i64;
    let result = lives.add(RUN_EVENTS) as *mut u32;
    let pages = result.add(RUN_EVENTS);
    let ops = pages.add(RUN_EVENTS) as *const u8;
    let aligns = ops.add(RUN_EVENTS);
    let status = aligns.add(RUN_EVENTS) as *mut u8;
    let (slots, slot_aligns, state) = (run_slots(), run_aligns(), run_state());
    let leaked = state.add(1);
    for i in from as usize..to as usize {
        let key = (*ids.add(i) as u32).wrapping_add(1);
        let size = *sizes.add(i) as u64;
        let op = *ops.add(i);
        let k = run_find(key);
        let s = slots.add(k);
        let found = (*s).key != 0;
        let old = if found { (*s).ptr as usize as *mut u8 } else { std::ptr::null_mut() };
        if !found && op != 1 && *state >= RUN_MAX_IDS {
            return i as u32;
        }
        let layout = Layout::from_size_align_unchecked((*s).size as usize, 1 << *slot_aligns.add(k));
        let (mut st, mut r) = (0u8, std::ptr::null_mut());
        match op {
            1 => {
                if !found {
                    st = RUN_BAD_FREE;
                } else {
                    if !old.is_null() {
                        give_back(old, layout);
                    }
                    run_forget(k);
                }
            }
            0 => {
                if !old.is_null() {
                    st = RUN_LEAKED; // the old block stays allocated, and in live_bytes()
                    *leaked += (*s).size;
                }
                let a = *aligns.add(i);
                let align = if a == 0 || a == UNCALLED { ALIGN } else { (1usize << (a - 1)).max(MIN_ALIGN) };
                if size <= u32::MAX as u64 && a != UNCALLED {
                    r = take(align, size as usize);
                }
                if !found {
                    (*s).key = key;
                    *state += 1;
                }
                (*s).ptr = r as u32;
                (*s).size = if r.is_null() { 0 } else { size as u32 };
                *slot_aligns.add(k) = align.trailing_zeros() as u8;
                if r.is_null() {
                    st |= RUN_FAILED;
                }
            }
            _ => {
                if old.is_null() {
                    st = RUN_NOT_LIVE;
                }
                if size <= u32::MAX as u64 {
                    r = if old.is_null() { take(ALIGN, size as usize) } else { resize(old, layout, size as usize) };
                }
                if !r.is_null() {
                    if !found {
                        (*s).key = key;
                        *state += 1;
                    }
                    if old.is_null() {
                        *slot_aligns.add(k) = ALIGN.trailing_zeros() as u8;
                    }
                    (*s).ptr = r as u32;
                    (*s).size = size as u32;
                } else if !old.is_null() && size == 0 {
                    *leaked += (*s).size; // realloc(p, 0) failing has let it go, still allocated
                    (*s).ptr = 0;
                    (*s).size = 0;
                } else {
                    st |= RUN_FAILED; // the block, if any, stays as it was
                }
            }
        }
        *result.add(i) = r as u32;
        *lives.add(i) = (get_live_data_size() - *leaked as usize) as i64;
        *pages.add(i) = core::arch::wasm32::memory_size(0) as u32;
        *status.add(i) = st;
    }
    to
}

#[no_mangle]
pub extern "C" fn live_bytes() -> usize {
    get_live_data_size()
}

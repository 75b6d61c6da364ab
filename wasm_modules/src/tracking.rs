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

unsafe fn alloc_with(align: usize, size: usize) -> *mut u8 {
    // GlobalAlloc forbids zero-sized requests: ask for one byte, count zero.
    let layout = match Layout::from_size_align(size.max(1), align) {
        Ok(l) => l,
        Err(_) => return std::ptr::null_mut(),
    };
    let p = A.alloc(layout);
    if !p.is_null() {
        if size == 0 {
            ALLOCATED.fetch_sub(1, Ordering::SeqCst);
        }
        remember(p, Layout::from_size_align_unchecked(size, align));
    }
    p
}

unsafe fn real_layout(l: Layout) -> Layout {
    Layout::from_size_align_unchecked(l.size().max(1), l.align())
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
        if l.size() == 0 {
            ALLOCATED.fetch_add(1, Ordering::SeqCst);
        }
        A.dealloc(p, real_layout(l));
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
    if l.size() == 0 {
        ALLOCATED.fetch_add(1, Ordering::SeqCst);
    }
    let q = A.realloc(p, real_layout(l), size.max(1));
    if q.is_null() {
        if l.size() == 0 {
            ALLOCATED.fetch_sub(1, Ordering::SeqCst);
        }
        remember(p, l); // the old block stays live, as C's realloc promises
        return q;
    }
    if size == 0 {
        ALLOCATED.fetch_sub(1, Ordering::SeqCst);
    }
    remember(q, Layout::from_size_align_unchecked(size, l.align()));
    q
}

#[no_mangle]
pub extern "C" fn live_bytes() -> usize {
    get_live_data_size()
}

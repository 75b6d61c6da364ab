//! pyfrag's ABI for Rust allocators: the article's TrackingAllocator around the
//! crate's `INNER` allocator, the exports a trace drives
//! (malloc/free/realloc/aligned_alloc/live_bytes) and the replay inside the
//! module (pyfrag_run). Main entry points: the exports below.
//!
//! Included as a module (`#[path = "abi.rs"] mod abi;`) by every Rust module,
//! which provides `INNER` (the allocator measured), `MIN_ALIGN`
//! (aligned_alloc's smallest alignment) and `RUN_BYTES` (the static
//! memory the run's arrays take), and installs
//! `#[global_allocator] static A: abi::TrackingAllocator`. `core` only, so a
//! no_std module includes it as a std one does.
//!
//! GlobalAlloc needs the Layout back on dealloc: free and realloc take the
//! block's size and alignment (0: malloc's), which the host always knows, as
//! `dealloc(ptr, layout)` does. So the wrapper keeps no table of blocks and
//! nothing here can fill, however many blocks are live; the allocator sees
//! exactly the trace's sizes and its addresses are its own.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{addr_of_mut, null_mut};
use core::sync::atomic::{AtomicUsize, Ordering};

// ---- the article's tracking wrapper (plus realloc, so Vec growth is counted) ----

pub struct TrackingAllocator;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for TrackingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = super::INNER.alloc(layout);
        if !ptr.is_null() {
            ALLOCATED.fetch_add(layout.size(), Ordering::SeqCst);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        super::INNER.dealloc(ptr, layout);
        ALLOCATED.fetch_sub(layout.size(), Ordering::SeqCst);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = super::INNER.realloc(ptr, layout, new_size);
        if !new.is_null() {
            ALLOCATED.fetch_sub(layout.size(), Ordering::SeqCst);
            ALLOCATED.fetch_add(new_size, Ordering::SeqCst);
        }
        new
    }
}

#[no_mangle]
pub extern "C" fn get_live_data_size() -> usize {
    ALLOCATED.load(Ordering::SeqCst)
}

#[no_mangle]
pub extern "C" fn live_bytes() -> usize {
    get_live_data_size()
}

// ---- the calls a trace makes: blocks given back by address, size and alignment ----

// What malloc promises on wasm32 (Rust's dlmalloc rounds every request to it anyway).
const ALIGN: usize = 8;

/// The Layout of a block asked for with `align` (0: malloc's).
fn align_of(align: usize) -> usize {
    if align == 0 {
        ALIGN
    } else {
        align.max(super::MIN_ALIGN)
    }
}

unsafe fn take(align: usize, size: usize) -> *mut u8 {
    // GlobalAlloc forbids zero-sized requests: ask for one byte, count zero.
    let layout = match Layout::from_size_align(size.max(1), align_of(align)) {
        Ok(l) => l,
        Err(_) => return null_mut(),
    };
    let p = super::A.alloc(layout);
    if !p.is_null() && size == 0 {
        ALLOCATED.fetch_sub(1, Ordering::SeqCst);
    }
    p
}

/// The Layout the allocator was given for a block of `size` bytes (at least one).
unsafe fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align_unchecked(size.max(1), align_of(align))
}

#[no_mangle]
pub unsafe extern "C" fn malloc(size: usize) -> *mut u8 {
    take(0, size)
}

#[no_mangle]
pub unsafe extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut u8 {
    if align == 0 {
        return null_mut();
    }
    take(align, size)
}

#[no_mangle]
pub unsafe extern "C" fn free(p: *mut u8, size: usize, align: usize) {
    if p.is_null() {
        return;
    }
    if size == 0 {
        ALLOCATED.fetch_add(1, Ordering::SeqCst);
    }
    super::A.dealloc(p, layout(size, align));
}

/// realloc of a block of `size` bytes asked for with `align`: null when it fails, the block
/// then unchanged; the new block keeps the alignment.
#[no_mangle]
pub unsafe extern "C" fn realloc(p: *mut u8, new_size: usize, size: usize, align: usize) -> *mut u8 {
    if p.is_null() {
        return take(0, new_size);
    }
    if size == 0 {
        ALLOCATED.fetch_add(1, Ordering::SeqCst);
    }
    let q = super::A.realloc(p, layout(size, align), new_size.max(1));
    if q.is_null() {
        if size == 0 {
            ALLOCATED.fetch_sub(1, Ordering::SeqCst);
        }
    } else if new_size == 0 {
        ALLOCATED.fetch_sub(1, Ordering::SeqCst);
    }
    q
}

// ---- the replay inside the module: src/abi.c has the arrays, the rules and the flags ----

const RUN_EVENT_BYTES: usize = 36;
const RUN_EVENTS: usize = (super::RUN_BYTES - 8) / RUN_EVENT_BYTES;
const RUN_FAILED: u8 = 1;
const RUN_BAD_FREE: u8 = 2;
const RUN_LEAKED: u8 = 4;
const RUN_NOT_LIVE: u8 = 8;
const RUN_OUTSIDE: u8 = 16;
const RUN_STOP: u32 = 1;
const RUN_START: u32 = 2;
const UNCALLED: u8 = 255;
const HELD: u8 = 1;

/// The run's arrays, then the loop's live count (not leaked blocks), in static memory.
#[repr(C, align(8))]
struct Run {
    events: [u8; super::RUN_BYTES - 8],
    live: i64,
}

static mut RUN: Run = Run { events: [0; super::RUN_BYTES - 8], live: 0 };

#[no_mangle]
pub unsafe extern "C" fn pyfrag_run_events() -> *mut u8 {
    addr_of_mut!(RUN.events) as *mut u8
}

#[no_mangle]
pub extern "C" fn pyfrag_run_capacity() -> u32 {
    RUN_EVENTS as u32
}

/// An alignment code's alignment: 0 malloc's, k 1 << (k - 1).
fn code_align(code: u8) -> usize {
    if code == 0 {
        0
    } else {
        1 << (code - 1)
    }
}

#[no_mangle]
pub unsafe extern "C" fn pyfrag_run(count: u32, flags: u32) -> u32 {
    let n = count as usize;
    let base = pyfrag_run_events();
    let sizes = base as *const u32;
    let refs = base.add(4 * n) as *const i32;
    let block = base.add(8 * n) as *mut u32;
    let bsize = base.add(12 * n) as *mut u32;
    let result = base.add(16 * n) as *mut u32;
    let pages = base.add(20 * n) as *mut u32;
    let lives = base.add(24 * n) as *mut i64;
    let ops = base.add(32 * n);
    let codes = base.add(33 * n);
    let meta = base.add(34 * n);
    let status = base.add(35 * n);
    let live = addr_of_mut!(RUN.live);
    if flags & RUN_START != 0 {
        *live = 0;
    }
    for i in 0..n {
        let r_ = *refs.add(i);
        let from = if r_ >= 0 { r_ as usize } else { i };
        let (size, code) = (*sizes.add(i), *codes.add(i));
        let (mut p, mut held, mut m) = (*block.add(from), *bsize.add(from), *meta.add(from));
        let old = if m & HELD != 0 { p as usize as *mut u8 } else { null_mut() };
        let align = code_align(m >> 1);
        let mut st = 0u8;
        let mut r: *mut u8 = null_mut();
        match *ops.add(i) {
            1 => {
                st = if m & HELD != 0 { 0 } else { RUN_BAD_FREE };
                *status.add(i) = st;
                *lives.add(i) = *live;
                if !old.is_null() {
                    free(old, held as usize, align);
                    *live -= held as i64;
                }
                p = 0;
                held = 0;
                m = 0;
            }
            0 => {
                if !old.is_null() {
                    st = RUN_LEAKED; // still in live_bytes()
                    *live -= held as i64;
                }
                *status.add(i) = st;
                *lives.add(i) = *live;
                if code != UNCALLED {
                    r = take(code_align(code), size as usize);
                }
                p = r as u32;
                held = if r.is_null() { 0 } else { size };
                m = HELD | if r.is_null() { 0 } else { code << 1 };
                if r.is_null() {
                    st |= RUN_FAILED;
                } else {
                    *live += size as i64;
                }
            }
            _ => {
                if old.is_null() {
                    st = RUN_NOT_LIVE;
                }
                *status.add(i) = st;
                *lives.add(i) = *live;
                if code != UNCALLED {
                    r = if old.is_null() {
                        take(0, size as usize)
                    } else {
                        realloc(old, size as usize, held as usize, align)
                    };
                }
                if !r.is_null() {
                    *live += size as i64 - if old.is_null() { 0 } else { held as i64 };
                    p = r as u32;
                    m = HELD | if old.is_null() { 0 } else { m & !HELD };
                    held = size;
                } else if !old.is_null() && size == 0 {
                    // realloc(p, 0) returning NULL has let it go (still allocated here)
                    *live -= held as i64;
                    p = 0;
                    held = 0;
                    m = HELD;
                } else {
                    st |= RUN_FAILED; // the block, if any, stays as it was
                }
            }
        }
        let now = core::arch::wasm32::memory_size(0) as u32;
        if !r.is_null() && r as u64 + size as u64 > (now as u64) << 16 {
            st |= RUN_OUTSIDE;
        }
        *result.add(i) = r as u32;
        *block.add(i) = p;
        *bsize.add(i) = held;
        *meta.add(i) = m;
        *lives.add(i) = *live;
        *status.add(i) = st;
        *pages.add(i) = now;
        if flags & RUN_STOP != 0 && st & RUN_FAILED != 0 {
            return i as u32 + 1;
        }
    }
    count
}

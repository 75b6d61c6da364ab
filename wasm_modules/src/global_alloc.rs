//! The Rust allocator crates a wasm developer picks instead of std's dlmalloc (talc,
//! lol_alloc, rlsf), each alone in a `no_std` cdylib behind pyfrag's per-call ABI.
//! Main entry points: the exports `malloc`, `aligned_alloc`, `free`, `realloc`,
//! `live_bytes`.
//!
//! `--cfg 'pyfrag_alloc="NAME"'` picks the allocator, configured as its own
//! documentation recommends for wasm32 (see wasm_modules/README.md). The wrapper
//! calls the allocator's `GlobalAlloc` methods directly, as `#[global_allocator]`
//! would: the caller passes each block's size and alignment back on `free` and
//! `realloc`, as Rust's `dealloc(ptr, layout)` takes them, so the wrapper keeps no
//! table of blocks and the only static memory it adds is the live-byte count.
//!
//! - `malloc(size)`: `Layout(size, 8)`. `aligned_alloc(align, size)`:
//!   `Layout(size, align)`, any power of two (else 0).
//! - `free(ptr, size, align)`, `realloc(ptr, new_size, size, align)`: the block's
//!   requested size and alignment (0: it came from malloc, 8). `realloc(0, n, ..)`
//!   is `malloc(n)`; a failed realloc returns 0 and leaves the block, and a size
//!   whose Layout is invalid fails before the allocator is asked.
//! - A zero-byte request asks the allocator for one byte and counts zero (GlobalAlloc
//!   forbids zero-sized layouts; Rust's containers never make them).
//! - `live_bytes()`: the requested sizes of the live blocks, from the sizes passed in.

#![no_std]

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::null_mut;

#[cfg(pyfrag_alloc = "talc")]
// talc's README_WASM.md: the global allocator for single-threaded wasm
static A: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };

#[cfg(pyfrag_alloc = "lol_alloc")]
static A: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

#[cfg(pyfrag_alloc = "lol_alloc_leaking")]
static A: lol_alloc::AssumeSingleThreaded<lol_alloc::LeakingAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::LeakingAllocator::new()) };

#[cfg(pyfrag_alloc = "rlsf")]
// rlsf's README: the global allocator for wasm32
static A: rlsf::SmallGlobalTlsf = rlsf::SmallGlobalTlsf::new();

#[cfg(pyfrag_alloc = "rlsf_global")]
static A: rlsf::GlobalTlsf = rlsf::GlobalTlsf::new();

// the module is single-threaded: a plain counter
static mut LIVE: usize = 0;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

const MALLOC_ALIGN: usize = 8;

fn align_of(align: usize) -> usize {
    if align == 0 { MALLOC_ALIGN } else { align }
}

/// The layout the allocator is asked for: a valid one, never zero-sized.
fn layout(size: usize, align: usize) -> Option<Layout> {
    Layout::from_size_align(size.max(1), align).ok()
}

unsafe fn take(size: usize, align: usize) -> *mut u8 {
    let p = match layout(size, align) {
        Some(l) => A.alloc(l),
        None => null_mut(),
    };
    if !p.is_null() {
        LIVE += size;
    }
    p
}

#[no_mangle]
pub unsafe extern "C" fn malloc(size: usize) -> *mut u8 {
    take(size, MALLOC_ALIGN)
}

#[no_mangle]
pub unsafe extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut u8 {
    take(size, align)
}

#[no_mangle]
pub unsafe extern "C" fn free(p: *mut u8, size: usize, align: usize) {
    if p.is_null() {
        return;
    }
    A.dealloc(p, Layout::from_size_align_unchecked(size.max(1), align_of(align)));
    LIVE -= size;
}

#[no_mangle]
pub unsafe extern "C" fn realloc(p: *mut u8, new_size: usize, size: usize, align: usize) -> *mut u8 {
    if p.is_null() {
        return malloc(new_size);
    }
    let align = align_of(align);
    // GlobalAlloc::realloc wants the new size valid with the block's alignment
    if layout(new_size, align).is_none() {
        return null_mut();
    }
    let old = Layout::from_size_align_unchecked(size.max(1), align);
    let q = A.realloc(p, old, new_size.max(1));
    if !q.is_null() {
        LIVE = LIVE - size + new_size;
    }
    q
}

#[no_mangle]
pub unsafe extern "C" fn live_bytes() -> usize {
    LIVE
}

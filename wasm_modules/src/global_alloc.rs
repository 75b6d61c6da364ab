//! The Rust allocator crates a wasm developer picks instead of std's dlmalloc (talc,
//! lol_alloc, rlsf), each alone in a `no_std` cdylib behind pyfrag's ABI (src/abi.rs:
//! malloc/free/realloc/aligned_alloc/live_bytes, taking each block's size and
//! alignment back, and the replay inside the module). Main entry point: `INNER`.
//!
//! `--cfg 'pyfrag_alloc="NAME"'` picks the allocator, configured as its own
//! documentation recommends for wasm32 (see wasm_modules/README.md). Alignments
//! below 8 pass through to it: a Rust byte buffer's alignment 1 is a real request
//! these crates serve their own way.

#![no_std]

#[path = "abi.rs"]
mod abi;

#[cfg(pyfrag_alloc = "talc")]
// talc's README_WASM.md: the global allocator for single-threaded wasm
static INNER: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };

#[cfg(pyfrag_alloc = "lol_alloc")]
static INNER: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

#[cfg(pyfrag_alloc = "lol_alloc_leaking")]
static INNER: lol_alloc::AssumeSingleThreaded<lol_alloc::LeakingAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::LeakingAllocator::new()) };

#[cfg(pyfrag_alloc = "rlsf")]
// rlsf's README: the global allocator for wasm32
static INNER: rlsf::SmallGlobalTlsf = rlsf::SmallGlobalTlsf::new();

#[cfg(pyfrag_alloc = "rlsf_global")]
static INNER: rlsf::GlobalTlsf = rlsf::GlobalTlsf::new();

const MIN_ALIGN: usize = 1;

// The replay's arrays in static memory: kept small (about 1,800 events a call), as these
// modules had no block table to replace.
const RUN_BYTES: usize = 64 * 1024;

#[global_allocator]
static A: abi::TrackingAllocator = abi::TrackingAllocator;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

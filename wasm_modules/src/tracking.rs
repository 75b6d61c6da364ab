//! The Rust module: Rust std's default wasm allocator (System = the dlmalloc
//! port) behind the article's TrackingAllocator, the article's
//! `produce_fragmentation()` and `get_live_data_size()`, and pyfrag's ABI
//! (src/abi.rs: malloc/free/realloc/aligned_alloc/live_bytes and the replay
//! inside the module) so traces can drive it. Built with `--cfg wee_alloc`
//! (and the wee_alloc crate), the same module runs wee_alloc instead of
//! System: the wee-alloc module.

#[cfg(wee_alloc)]
extern crate wee_alloc;

#[path = "abi.rs"]
mod abi;

// INNER: the allocator under the tracking wrapper.
#[cfg(not(wee_alloc))]
use std::alloc::System as INNER;
#[cfg(wee_alloc)]
static INNER: wee_alloc::WeeAlloc<'static> = wee_alloc::WeeAlloc::INIT;

// aligned_alloc's smallest alignment. wee_alloc serves alignments up to 4 from
// its size classes (malloc's 8 never reaches them), so those pass through.
#[cfg(not(wee_alloc))]
const MIN_ALIGN: usize = 8;
#[cfg(wee_alloc)]
const MIN_ALIGN: usize = 1;

// The replay's arrays in static memory: the 768 KiB the old block table took, so the heap
// starts where it did.
const RUN_BYTES: usize = 768 * 1024;

#[global_allocator]
static A: abi::TrackingAllocator = abi::TrackingAllocator;

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

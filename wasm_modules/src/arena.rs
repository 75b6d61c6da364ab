//! The rust-arena module: everything rust-dlmalloc has (same allocator, the
//! article's TrackingAllocator, the same ABI -- tracking.rs is compiled in as
//! is) plus the article's arena strategy run on its own swiss-cheese loop,
//! built with real arena crates: typed-arena holds the long-lived anchors
//! together, one bumpalo arena holds each round's temporary and is reset,
//! never freed, so the loop stops punching holes between anchors.

#[path = "tracking.rs"]
mod tracking;

use bumpalo::Bump;
use typed_arena::Arena;

static mut ANCHORS: Option<Arena<[u8; 1024]>> = None;
static mut SCRATCH: Option<Bump> = None;

#[no_mangle]
pub extern "C" fn produce_fragmentation_arena() {
    let anchors = unsafe { ANCHORS.get_or_insert_with(Arena::new) };
    let scratch = unsafe { SCRATCH.get_or_insert_with(Bump::new) };
    for _ in 0..1000 {
        // 1. the long-lived anchor goes to the anchors' arena (chunks of many anchors)
        anchors.alloc([0u8; 1024]);
        // 2. the short-lived temporary comes from the scratch arena ...
        {
            let temp = scratch.alloc_slice_fill_copy(1024 * 100, 0u8);
            // (a volatile read keeps the optimiser from dropping the allocation)
            unsafe { std::ptr::read_volatile(&temp[0]) };
        }
        // 3. ... which is reset, not freed: its chunk is reused by the next round
        scratch.reset();
    }
}

/// Drops both arenas: everything they held goes back to dlmalloc at once.
#[no_mangle]
pub extern "C" fn release_arenas() {
    unsafe {
        ANCHORS = None;
        SCRATCH = None;
    }
}

//! The Zig module: std.heap.wasm_allocator behind pyfrag's ABI
//! (malloc/free/realloc/aligned_alloc/live_bytes) and the replay inside the
//! module (pyfrag_run). Main entry points: the exports below.
//!
//! Zig's allocator interface needs the length and alignment back on free. The
//! host always knows them, so free and realloc take the block's size and
//! alignment (0: malloc's), as Rust's dealloc(ptr, layout) does: the wrapper
//! keeps no table of blocks, nothing here can fill, and the allocator sees
//! exactly the requested lengths, so the addresses are its own.
const std = @import("std");

const gpa = std.heap.wasm_allocator;
const Alignment = std.mem.Alignment;

// 8, like C's malloc on wasm32 and Rust's dlmalloc: what a general-purpose malloc promises.
const default_align: Alignment = .fromByteUnits(8);

var live: usize = 0;

/// The alignment of a block asked for with `align` (0: malloc's).
fn alignmentOf(a: usize) Alignment {
    return if (a == 0) default_align else Alignment.fromByteUnits(@max(a, 8));
}

// realloc of a block of `size` bytes: in place (or moved by the allocator itself) when it can, else
// the allocator's own alloc + copy + free, as std.mem.Allocator.realloc does; null (the block then
// unchanged) when it cannot.
fn resize(ptr: [*]u8, size: usize, a: Alignment, n: usize) ?[*]u8 {
    const old = ptr[0..size];
    if (gpa.rawRemap(old, a, n, @returnAddress())) |q| return q;
    const q = gpa.rawAlloc(n, a, @returnAddress()) orelse return null;
    @memcpy(q[0..@min(n, size)], old[0..@min(n, size)]);
    gpa.rawFree(old, a, @returnAddress());
    return q;
}

fn allocWith(a: Alignment, n: usize) ?[*]u8 {
    const p = gpa.rawAlloc(n, a, @returnAddress()) orelse return null;
    live += n;
    return p;
}

export fn malloc(n: usize) ?[*]u8 {
    return allocWith(default_align, n);
}

export fn aligned_alloc(alignment: usize, n: usize) ?[*]u8 {
    if (alignment == 0 or !std.math.isPowerOfTwo(alignment)) return null;
    return allocWith(alignmentOf(alignment), n);
}

export fn free(p: ?[*]u8, size: usize, alignment: usize) void {
    const ptr = p orelse return;
    gpa.rawFree(ptr[0..size], alignmentOf(alignment), @returnAddress());
    live -= size;
}

export fn realloc(p: ?[*]u8, n: usize, size: usize, alignment: usize) ?[*]u8 {
    const ptr = p orelse return malloc(n);
    const q = resize(ptr, size, alignmentOf(alignment), n) orelse return null;
    live = live + n - size;
    return q;
}

export fn live_bytes() usize {
    return live;
}

// ---- the replay inside the module: src/abi.c has the arrays, the rules and the flags ----

const run_event_bytes = 36;
// The run's arrays, then the loop's live count, in static memory: the 768 KiB the old block table
// took, so the heap starts where it did.
const run_bytes = 768 * 1024 - 8;
const run_events = run_bytes / run_event_bytes;
const run_failed: u8 = 1;
const run_bad_free: u8 = 2;
const run_leaked: u8 = 4;
const run_not_live: u8 = 8;
const run_outside: u8 = 16;
const run_stop: u32 = 1;
const run_start: u32 = 2;
const uncalled: u8 = 255;
const held_bit: u8 = 1;

var run: extern struct { events: [run_bytes]u8 align(8), live: i64 } = .{ .events = @splat(0), .live = 0 };

export fn pyfrag_run_events() [*]u8 {
    return &run.events;
}

export fn pyfrag_run_capacity() u32 {
    return run_events;
}

/// An alignment code's alignment: 0 malloc's, k 1 << (k - 1).
fn codeAlign(code: u8) usize {
    return if (code == 0) 0 else @as(usize, 1) << @as(u5, @intCast(code - 1));
}

export fn pyfrag_run(count: u32, flags: u32) u32 {
    const base: [*]u8 = &run.events;
    const sizes: [*]const u32 = @ptrCast(@alignCast(base));
    const refs: [*]const i32 = @ptrCast(@alignCast(base + 4 * count));
    const block: [*]u32 = @ptrCast(@alignCast(base + 8 * count));
    const bsize: [*]u32 = @ptrCast(@alignCast(base + 12 * count));
    const result: [*]u32 = @ptrCast(@alignCast(base + 16 * count));
    const pages: [*]u32 = @ptrCast(@alignCast(base + 20 * count));
    const lives: [*]i64 = @ptrCast(@alignCast(base + 24 * count));
    const ops = base + 32 * count;
    const codes = base + 33 * count;
    const meta = base + 34 * count;
    const status = base + 35 * count;
    if (flags & run_start != 0) run.live = 0;
    var i: u32 = 0;
    while (i < count) : (i += 1) {
        const from: u32 = if (refs[i] >= 0) @intCast(refs[i]) else i;
        const size = sizes[i];
        const code = codes[i];
        var p = block[from];
        var held = bsize[from];
        var m = meta[from];
        const old: ?[*]u8 = if (m & held_bit != 0 and p != 0) @ptrFromInt(p) else null;
        const block_align = codeAlign(m >> 1);
        var st: u8 = 0;
        var r: ?[*]u8 = null;
        switch (ops[i]) {
            1 => {
                st = if (m & held_bit != 0) 0 else run_bad_free;
                status[i] = st;
                lives[i] = run.live;
                if (old) |ptr| {
                    free(ptr, held, block_align);
                    run.live -= held;
                }
                p = 0;
                held = 0;
                m = 0;
            },
            0 => {
                if (old != null) {
                    st = run_leaked; // still in live_bytes()
                    run.live -= held;
                }
                status[i] = st;
                lives[i] = run.live;
                if (code != uncalled) {
                    r = if (code == 0) malloc(size) else allocWith(alignmentOf(codeAlign(code)), size);
                }
                p = @intCast(@intFromPtr(r));
                held = if (r != null) size else 0;
                m = held_bit | (if (r != null) code << 1 else 0);
                if (r != null) run.live += size else st |= run_failed;
            },
            else => {
                if (old == null) st = run_not_live;
                status[i] = st;
                lives[i] = run.live;
                if (code != uncalled) {
                    r = if (old) |ptr| realloc(ptr, size, held, block_align) else malloc(size);
                }
                if (r != null) {
                    run.live += @as(i64, size) - (if (old != null) @as(i64, held) else 0);
                    p = @intCast(@intFromPtr(r));
                    m = held_bit | (if (old != null) m & ~held_bit else 0);
                    held = size;
                } else if (old != null and size == 0) {
                    // realloc(p, 0) returning NULL has freed p
                    run.live -= held;
                    p = 0;
                    held = 0;
                    m = held_bit;
                } else {
                    st |= run_failed; // the block, if any, stays as it was
                }
            },
        }
        const now: u32 = @intCast(@wasmMemorySize(0));
        if (r != null and @as(u64, @intFromPtr(r)) + size > @as(u64, now) << 16) st |= run_outside;
        result[i] = @intCast(@intFromPtr(r));
        block[i] = p;
        bsize[i] = held;
        meta[i] = m;
        lives[i] = run.live;
        status[i] = st;
        pages[i] = now;
        if (flags & run_stop != 0 and st & run_failed != 0) return i + 1;
    }
    return count;
}

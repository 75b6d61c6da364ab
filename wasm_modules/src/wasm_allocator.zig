//! The Zig module: std.heap.wasm_allocator behind pyfrag's ABI
//! (malloc/free/realloc/aligned_alloc/live_bytes).
//!
//! Zig's allocator interface needs the length (and alignment) back on free,
//! which a C-style free(ptr) does not carry. They are kept in a fixed table in
//! static memory, never in the measured heap, so the allocator sees exactly
//! the requested lengths and the addresses are its own.
const std = @import("std");

const gpa = std.heap.wasm_allocator;
const Alignment = std.mem.Alignment;

// 8, like C's malloc on wasm32 and Rust's dlmalloc: what a general-purpose malloc promises.
const default_align: Alignment = .fromByteUnits(8);

// 2^16 slots, at most 3/4 full so probes stay short; past that we trap.
const bits = 16;
const slots = 1 << bits;
const max_live = slots / 4 * 3;

const Slot = struct { ptr: u32 = 0, size: u32 = 0, align_log2: u8 = 0 };
var table: [slots]Slot = @splat(.{});
var count: u32 = 0;
var live: usize = 0;

fn home(p: u32) u32 {
    return (p *% 2654435761) >> (32 - bits);
}

fn remember(p: [*]u8, n: usize, a: Alignment) void {
    if (count >= max_live) @trap();
    const k: u32 = @intCast(@intFromPtr(p));
    var i = home(k);
    while (table[i].ptr != 0) i = (i + 1) & (slots - 1);
    table[i] = .{ .ptr = k, .size = @intCast(n), .align_log2 = @intFromEnum(a) };
    count += 1;
    live += n;
}

fn forget(p: [*]u8) ?Slot {
    const k: u32 = @intCast(@intFromPtr(p));
    var i = home(k);
    while (table[i].ptr != k) {
        if (table[i].ptr == 0) return null;
        i = (i + 1) & (slots - 1);
    }
    const s = table[i];
    count -= 1;
    live -= s.size;
    // Backward-shift deletion (Knuth's algorithm R): no tombstones.
    var j = i;
    while (true) {
        j = (j + 1) & (slots - 1);
        if (table[j].ptr == 0) break;
        const h = home(table[j].ptr);
        const movable = if (i <= j) (h <= i or h > j) else (h <= i and h > j);
        if (movable) {
            table[i] = table[j];
            i = j;
        }
    }
    table[i].ptr = 0;
    return s;
}

fn allocWith(a: Alignment, n: usize) ?[*]u8 {
    const p = gpa.rawAlloc(n, a, @returnAddress()) orelse return null;
    remember(p, n, a);
    return p;
}

export fn malloc(n: usize) ?[*]u8 {
    return allocWith(default_align, n);
}

export fn aligned_alloc(alignment: usize, n: usize) ?[*]u8 {
    if (alignment == 0 or !std.math.isPowerOfTwo(alignment)) return null;
    return allocWith(Alignment.fromByteUnits(@max(alignment, 8)), n);
}

export fn free(p: ?[*]u8) void {
    const ptr = p orelse return;
    const s = forget(ptr) orelse return;
    gpa.rawFree(ptr[0..s.size], @enumFromInt(s.align_log2), @returnAddress());
}

export fn realloc(p: ?[*]u8, n: usize) ?[*]u8 {
    const ptr = p orelse return malloc(n);
    const s = forget(ptr) orelse return null;
    const a: Alignment = @enumFromInt(s.align_log2);
    const old = ptr[0..s.size];
    // In place (or moved by the allocator itself) when it can; else the
    // allocator's own alloc + copy + free, as std.mem.Allocator.realloc does.
    if (gpa.rawRemap(old, a, n, @returnAddress())) |q| {
        remember(q, n, a);
        return q;
    }
    const q = gpa.rawAlloc(n, a, @returnAddress()) orelse {
        remember(ptr, s.size, a); // the old block stays live, as C's realloc promises
        return null;
    };
    @memcpy(q[0..@min(n, s.size)], old[0..@min(n, s.size)]);
    gpa.rawFree(old, a, @returnAddress());
    remember(q, n, a);
    return q;
}

export fn live_bytes() usize {
    return live;
}

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
// Batched replays (pyfrag_replay, below) reuse the same memory for their events.
const bits = 16;
const slots = 1 << bits;
const max_live = slots / 4 * 3;

const Slot = struct { ptr: u32 = 0, size: u32 = 0, align_log2: u8 = 0 };
var table: [slots]Slot = @splat(.{});
var count: u32 = 0;
var live: usize = 0;
const batched: u32 = std.math.maxInt(u32); // count once batches have run: the table holds events then
const running: u32 = batched - 1; // count once pyfrag_run has run

// The table serves one way of driving the module: the first batch or run claims it (call-by-call
// use has left it empty, or it traps), and any other way traps from then on.
fn driveBy(mode: u32) void {
    if (count == mode) return;
    if (count != 0) @trap();
    count = mode;
}

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
    if (count >= running) @trap();
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

// ---- call by call: lengths and alignments kept in the table ----

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
    const q = resize(ptr, s.size, a, n) orelse {
        remember(ptr, s.size, a); // the old block stays live, as C's realloc promises
        return null;
    };
    remember(q, n, a);
    return q;
}

export fn live_bytes() usize {
    return live;
}

// ---- by batches: the host keeps ids, sizes and alignments (see src/abi.c for the layout) ----

const words = 8;
const events = @sizeOf(@TypeOf(table)) / (4 * words); // the table's memory, reused
const ref: u32 = 0x100;

export fn pyfrag_events() [*]u32 {
    return @ptrCast(&table);
}

export fn pyfrag_capacity() u32 {
    return events;
}

export fn pyfrag_replay(from: u32, to: u32) u32 {
    driveBy(batched);
    const all = pyfrag_events();
    var i = from;
    while (i < to) : (i += 1) {
        const e = all[i * words ..][0..words];
        var op = e[0];
        if (op & ref != 0) {
            const made = all[e[1] * words ..][0..words];
            e[3] = made[7];
            e[1] = made[5];
            op = (op & 0xff) | (made[0] & 0xff0000);
        }
        const p: ?[*]u8 = @ptrFromInt(e[1]);
        var size: usize = e[2];
        var a: Alignment = @enumFromInt(@as(u5, @intCast(op >> 16 & 0x1f)));
        var r: ?[*]u8 = null;
        var block: ?[*]u8 = null;
        switch (op & 0xff) {
            0, 3 => {
                a = if (op & 0xff == 0) default_align else Alignment.fromByteUnits(@max(a.toByteUnits(), 8));
                r = gpa.rawAlloc(size, a, @returnAddress());
                block = r;
                if (r != null) live += size;
            },
            1 => {
                if (p) |ptr| {
                    gpa.rawFree(ptr[0..e[3]], a, @returnAddress());
                    live -= e[3];
                }
                size = 0;
            },
            2 => {
                if (p) |ptr| {
                    r = resize(ptr, e[3], a, size);
                    if (r != null) {
                        live = live + size - e[3];
                        block = r;
                    } else if (size != 0) { // a failed realloc leaves the block as it was
                        block = ptr;
                        size = e[3];
                    }
                } else {
                    a = default_align;
                    r = gpa.rawAlloc(size, a, @returnAddress());
                    block = r;
                    if (r != null) live += size;
                }
            },
            else => {},
        }
        e[0] = (op & 0xff) | (@as(u32, @intFromEnum(a)) << 16);
        e[1] = @intCast(@intFromPtr(p));
        e[4] = @intCast(@intFromPtr(r));
        e[5] = @intCast(@intFromPtr(block));
        e[6] = @intCast(@wasmMemorySize(0));
        e[7] = if (block != null) @intCast(size) else 0;
    }
    return to;
}

// ---- the whole replay inside the module: ids kept here (src/abi.c has the layout and the rules) ----

const run_events = 3072;
const run_bits = 15;
const run_slots = 1 << run_bits;
const run_max_ids = run_slots / 4 * 3;
const run_event_bytes = 35; // i64 id, size, live; u32 result, pages; u8 op, align, status
const run_failed: u8 = 1;
const run_bad_free: u8 = 2;
const run_leaked: u8 = 4;
const run_not_live: u8 = 8;
const uncalled: u8 = 255;
// slack to 8-align the events, the events, the (id + 1, address, size) slots, each slot's log2
// alignment, then the ids in the table and the bytes of leaked blocks
comptime {
    if (8 + run_events * run_event_bytes + run_slots * 13 + 8 > @sizeOf(@TypeOf(table)))
        @compileError("pyfrag_run's arrays must fit the table's memory");
}

const RunSlot = extern struct { key: u32, ptr: u32, size: u32 }; // key: id + 1; ptr 0: failed

fn runEvents() [*]u8 {
    return @ptrFromInt(std.mem.alignForward(usize, @intFromPtr(&table), 8));
}

fn runSlots() [*]RunSlot {
    return @ptrCast(@alignCast(runEvents() + run_events * run_event_bytes));
}

fn runAligns() [*]u8 {
    return @ptrCast(runSlots() + run_slots);
}

fn runState() *[2]u32 {
    return @ptrCast(@alignCast(runAligns() + run_slots));
}

fn runHome(k: u32) u32 {
    return (k *% 2654435761) >> (32 - run_bits);
}

// The slot of `key`, or the empty one it would take.
fn runFind(key: u32) u32 {
    const s = runSlots();
    var i = runHome(key);
    while (s[i].key != 0 and s[i].key != key) i = (i + 1) & (run_slots - 1);
    return i;
}

// Backward-shift deletion, as forget().
fn runForget(slot: u32) void {
    const s = runSlots();
    const al = runAligns();
    var i = slot;
    var j = slot;
    while (true) {
        j = (j + 1) & (run_slots - 1);
        if (s[j].key == 0) break;
        const h = runHome(s[j].key);
        const movable = if (i <= j) (h <= i or h > j) else (h <= i and h > j);
        if (movable) {
            s[i] = s[j];
            al[i] = al[j];
            i = j;
        }
    }
    s[i].key = 0;
    runState()[0] -= 1;
}

export fn pyfrag_run_events() [*]u8 {
    return runEvents();
}

export fn pyfrag_run_capacity() u32 {
    return run_events;
}

export fn pyfrag_run(from: u32, to: u32) u32 {
    driveBy(running);
    const ev = runEvents();
    const ids: [*]const i64 = @ptrCast(@alignCast(ev));
    const sizes = ids + run_events;
    const lives: [*]i64 = @ptrCast(@alignCast(ev + 16 * run_events));
    const result: [*]u32 = @ptrCast(@alignCast(ev + 24 * run_events));
    const pages = result + run_events;
    const ops = ev + 32 * run_events;
    const aligns = ev + 33 * run_events;
    const status = ev + 34 * run_events;
    const s = runSlots();
    const sa = runAligns();
    const state = runState();
    var i = from;
    while (i < to) : (i += 1) {
        const key: u32 = @as(u32, @truncate(@as(u64, @bitCast(ids[i])))) +% 1;
        const size: u64 = @bitCast(sizes[i]);
        const op = ops[i];
        const k = runFind(key);
        const found = s[k].key != 0;
        const old: ?[*]u8 = if (found) @ptrFromInt(s[k].ptr) else null;
        if (!found and op != 1 and state[0] >= run_max_ids) return i;
        const a_old: Alignment = @enumFromInt(@as(u5, @intCast(sa[k] & 0x1f)));
        var st: u8 = 0;
        var r: ?[*]u8 = null;
        switch (op) {
            1 => {
                if (!found) {
                    st = run_bad_free;
                } else {
                    if (old) |ptr| {
                        gpa.rawFree(ptr[0..s[k].size], a_old, @returnAddress());
                        live -= s[k].size;
                    }
                    runForget(k);
                }
            },
            0 => {
                if (old != null) {
                    st = run_leaked; // the old block stays allocated, and in live_bytes()
                    state[1] += s[k].size;
                }
                const ac = aligns[i];
                const a: Alignment = if (ac == 0 or ac == uncalled) default_align else
                    Alignment.fromByteUnits(@max(@as(usize, 1) << @as(u5, @intCast(ac - 1)), 8));
                if (size <= std.math.maxInt(u32) and ac != uncalled) {
                    r = gpa.rawAlloc(@intCast(size), a, @returnAddress());
                }
                if (!found) {
                    s[k].key = key;
                    state[0] += 1;
                }
                s[k].ptr = @intCast(@intFromPtr(r));
                s[k].size = if (r != null) @intCast(size) else 0;
                sa[k] = @intFromEnum(a);
                if (r != null) live += @intCast(size) else st |= run_failed;
            },
            else => {
                if (old == null) st = run_not_live;
                if (size <= std.math.maxInt(u32)) {
                    r = if (old) |ptr| resize(ptr, s[k].size, a_old, @intCast(size)) else
                        gpa.rawAlloc(@intCast(size), default_align, @returnAddress());
                }
                if (r != null) {
                    if (!found) {
                        s[k].key = key;
                        state[0] += 1;
                    }
                    if (old == null) sa[k] = @intFromEnum(default_align);
                    live = live + @as(usize, @intCast(size)) - (if (old != null) s[k].size else 0);
                    s[k].ptr = @intCast(@intFromPtr(r));
                    s[k].size = @intCast(size);
                } else if (old != null and size == 0) {
                    state[1] += s[k].size; // realloc(p, 0) failing has let it go, still counted
                    s[k].ptr = 0;
                    s[k].size = 0;
                } else {
                    st |= run_failed; // the block, if any, stays as it was
                }
            },
        }
        result[i] = @intCast(@intFromPtr(r));
        lives[i] = @intCast(live - state[1]);
        pages[i] = @intCast(@wasmMemorySize(0));
        status[i] = st;
    }
    return to;
}

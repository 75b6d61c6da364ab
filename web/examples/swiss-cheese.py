# Swiss cheese: the article's produce_fragmentation(), as a trace.
# 1000 times: keep a 1 KiB anchor, allocate a 100 KiB temporary, drop it.
# Then ask for one contiguous 500 KiB block.
#
# What it really shows: each temporary is freed while it is the top of the
# heap, so the next round's temporary reuses that space. dlmalloc, emmalloc
# and TLSF pack the anchors: about 1.5 MiB of heap for about 1.5 MiB live at
# the end, no Swiss cheese, no OOM. The waste left is wee_alloc's free list
# (its holes stay apart) and power-of-two size classes (zig-wasm, buddy).
# For an allocator that does fragment until malloc fails, see the 512 MiB
# image task.
from pyfrag import scenarios

trace = scenarios.swiss_cheese(rounds=1000, anchor=1024, temp=100 * 1024, probe=500 * 1024)
print(trace.description, "\n")

# Every allocator from one start state (heap base 1024 in one page, as
# `pyfrag compare` does), so the table compares allocators, not start states.
print("same start for all: heap base 1024, one page")
for name in ("dlmalloc", "emmalloc", "as-tlsf", "zig-wasm", "wee-alloc", "buddy"):
    m = trace.replay(name, heap_base=1024, initial_pages=1).metrics
    print(f"  {name:10} peak heap {m.peak_heap_bytes / 2**20:5.2f} MiB   utilization {m.utilization:6.2%}")

# show() replays the trace on the simulator in the start state of the real
# module picked in the page (its static data sits below its heap base and
# counts in memory.buffer.byteLength), and the page replays the same events on
# that real module: these are the numbers in the charts and the audit.
run = show(trace)
m = run.metrics
print(f"\nshown: {run.allocator} started like the page's module (heap base {run.heap_base}): "
      f"peak heap {m.peak_heap_bytes / 2**20:.2f} MiB, utilization {m.utilization:.2%}")
print(run.audit())

# Swiss cheese: the article's produce_fragmentation(), as a trace.
# 1000 times: keep a 1 KiB anchor, allocate a 100 KiB temporary, drop it.
# Then ask for one contiguous 500 KiB block. About 1 MiB stays live: how much
# heap does each allocator need for it?
from pyfrag import allocators, scenarios

trace = scenarios.swiss_cheese(rounds=1000, anchor=1024, temp=100 * 1024, probe=500 * 1024)
print(trace.description, "\n")

for name in ("dlmalloc", "emmalloc", "as-tlsf", "zig-wasm", "wee-alloc", "buddy"):
    m = trace.replay(name).metrics
    print(f"{name:10} peak heap {m.peak_heap_bytes / 2**20:5.2f} MiB   utilization {m.utilization:6.2%}")

# show() replays the trace on the simulator, in the start state of the real
# module picked in the page, and the page replays the same events on that
# real module: compare the two charts.
run = show(trace)
print("\n" + run.audit())

# wee_alloc's slow-motion OOM, on the real module. The same churn on two
# Rust modules: each round allocates a 1-200 KiB temporary and frees it at
# once, keeps a small block, and holds about 20 of those (~45 KB live).
# Rust's dlmalloc reuses the holes and stays at 38 pages (2.4 MiB).
# wee_alloc 0.4.5's first-fit walk unlinks every free cell it steps over:
# those cells are lost for good, so it keeps calling memory.grow until the
# memory is 4 GiB (65,536 pages) and a malloc fails. Its lost cells are
# allocator overhead, not free space: when that malloc fails, 4 GiB are
# overhead and its lists reach about 250 KB. Both sides of each chart are
# real: the simulator, started like the module, and the module itself,
# replayed in the page.
from pyfrag import scenarios

trace = scenarios.varying_churn()
print(trace.description)
for module in ("wee-alloc", "rust-dlmalloc"):
    run = show(trace, module=module, label=f"varying churn on {module}")
    m, oom = run.metrics, run.oom
    live = run.live_bytes[oom.index] if oom else m.live_bytes
    print(f"{module:14} peak heap {m.peak_heap_bytes:>13,} bytes, overhead "
          f"{m.overhead_bytes:>13,}, live {live:,} bytes "
          + ("when the first malloc failed" if oom else "at the end"))
    print("  " + (oom.describe() if oom else "no OOM"))

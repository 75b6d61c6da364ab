# Allocator shoot-out: the same editor/game churn on every simulated allocator.
# Which ones keep the heap small, and which ones let it swell?
from pyfrag import allocators, scenarios

trace = scenarios.churn(frames=1000, seed=1)
print(f"{'allocator':22} {'peak heap':>12} {'utilization':>12} {'grows':>6}")
results = {}
for name in allocators.names():
    try:
        run = trace.replay(name)
    except Exception as e:          # a model may reject a pattern it cannot serve
        print(f"{name:22} {type(e).__name__}: {e}")
        continue
    m = run.metrics
    results[name] = run
    print(f"{name:22} {m.peak_heap_bytes:>12,} {m.utilization:>12.2%} {m.grow_events:>6}")

# Chart the worst one next to the selected real module
worst = max(results, key=lambda n: results[n].metrics.peak_heap_bytes)
show(trace, allocator=worst, label=f"churn on {worst} (worst peak heap)")

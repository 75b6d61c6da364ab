# Allocator shoot-out: the same editor/game churn on every simulated allocator
# (and strategy model). Which keep the heap small, which let it swell?
from pyfrag import allocators, scenarios

trace = scenarios.churn(frames=1000, seed=1)
print(f"{'allocator':22} {'peak heap':>12} {'utilization':>12} {'grows':>6}")
peaks = {}
for name in allocators.names():
    m = trace.replay(name).metrics
    peaks[name] = m.peak_heap_bytes
    print(f"{name:22} {m.peak_heap_bytes:>12,} {m.utilization:>12.2%} {m.grow_events:>6}")

# chart the worst one next to the real module picked in the page
worst = max(peaks, key=peaks.get)
show(trace, allocator=worst, label=f"churn on {worst} (largest peak heap)")

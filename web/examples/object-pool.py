# Object pool: particles of three sizes created and destroyed all the time.
# Without a pool each create is a malloc and each destroy a free. With one, the
# app keeps a free list per size and reuses slots: after warm-up the allocator
# sees no traffic at all. A good malloc's size-class bins already act like a
# pool for small objects, so the pool's win shows on the simple allocators.
import random
from pyfrag import Trace

def particles(pooled, steps=20000, seed=3):
    rng = random.Random(seed)
    t = Trace("object pool" if pooled else "malloc per particle")
    live, spare, next_id = [], {48: [], 96: [], 200: []}, 0
    for step in range(steps):
        if live and rng.random() < 0.5:
            id, size = live.pop(rng.randrange(len(live)))
            if pooled:
                spare[size].append(id)          # back to the pool, not to free()
            else:
                t.free(id)
        else:
            size = rng.choice((48, 96, 200))
            if pooled and spare[size]:
                id = spare[size].pop()          # reused: no malloc
            else:
                id, next_id = next_id, next_id + 1
                t.alloc(id, size, tag="particle")
            live.append((id, size))
        if step % 500 == 499:                   # now and then a level buffer that stays
            t.alloc(next_id, 16 * 1024 + step, tag="level")
            next_id += 1
    return t

for pooled in (False, True):
    trace = particles(pooled)
    peaks = "  ".join(f"{name} {trace.replay(name).metrics.peak_heap_bytes >> 10} KiB"
                      for name in ("bump", "wee-alloc", "dlmalloc"))
    print(f"{trace.name:20} {len(trace):6} allocator calls   peak heap: {peaks}")
    show(trace, label=trace.name)

# Object pool: particles of three sizes are created and destroyed all the time.
# Without a pool, each create is a malloc and each destroy a free: mixed sizes
# leave mismatched holes. With a pool, the app keeps its own free list per size,
# so after warm-up the allocator sees no traffic at all.
import random
from pyfrag import Trace

def particles(pooled, steps=20000, seed=3):
    rng = random.Random(seed)
    t = Trace("pooled" if pooled else "malloc per particle")
    live, spare, next_id = [], {48: [], 96: [], 200: []}, 0
    for _ in range(steps):
        if live and rng.random() < 0.5:
            id, size = live.pop(rng.randrange(len(live)))
            if pooled:
                spare[size].append(id)            # back to the pool, not to malloc
            else:
                t.free(id)
        else:
            size = rng.choice((48, 96, 200))
            if pooled and spare[size]:
                id = spare[size].pop()            # reuse: no malloc
            else:
                id, next_id = next_id, next_id + 1
                t.alloc(id, size, tag=f"p{size}")
            live.append((id, size))
        if rng.random() < 0.001:                  # now and then a long-lived big buffer
            t.alloc(next_id, 64 * 1024, tag="level"); next_id += 1
    return t

for pooled in (False, True):
    trace = particles(pooled)
    print(f"{trace.name:22} {len(trace):>6} allocator calls  {trace.replay('first-fit').audit()!r}")
show(particles(pooled=False), label="malloc per particle")
show(particles(pooled=True), label="object pool")

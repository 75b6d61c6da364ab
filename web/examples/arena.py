# Arena vs global heap: 200 frames, each building 50 small objects that all die
# together, while one 4 KiB "document" object per frame lives on.
# Global heap: every object is its own malloc, so the survivors pin holes.
# Arena: one 64 KiB block per frame holds the frame's objects and is dropped
# whole, so the only holes the heap sees are arena-sized and get reused.
from pyfrag import Trace

def frames(use_arena, count=200, objects=50):
    t = Trace("arena" if use_arena else "global-heap")
    next_id = 0
    for frame in range(count):
        temp = []
        if use_arena:
            t.alloc(next_id, 64 * 1024, tag="arena"); temp.append(next_id); next_id += 1
        else:
            for k in range(objects):
                t.alloc(next_id, 256 + 64 * (k % 16), tag="object"); temp.append(next_id); next_id += 1
        t.alloc(next_id, 4096, tag="document"); next_id += 1   # survives the frame
        for id in temp:
            t.free(id)
    return t

for use_arena in (False, True):
    run = frames(use_arena).replay("first-fit")
    print(f"{run.trace.name:12} {run.audit()!r}")

show(frames(use_arena=False), label="global heap")
show(frames(use_arena=True), label="arena per frame")

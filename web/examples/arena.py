# Arena vs global heap. A job in a 512 MiB memory: 60 rounds, each building a
# scratch buffer a little larger than the last and keeping a 4 MiB result;
# then one 128 MiB request.
# Global heap: each scratch buffer is its own malloc and dies under the result
# allocated after it, leaving a hole the next, larger scratch cannot use.
# Arena: the scratch comes from one block the app keeps and reuses, swapped for
# one twice as big when a round outgrows it; the results pack together.
from pyfrag import Trace

MiB = 2**20

def job(arena, rounds=60):
    t = Trace("scratch arena" if arena else "global heap", maximum="512mib")
    block, capacity, next_id = None, 0, 0
    for i in range(rounds):
        need = 2 * MiB + i * 32 * 1024
        if not arena:
            scratch = next_id
            t.alloc(scratch, need, tag="scratch")
            next_id += 1
        elif need > capacity:                  # outgrown: a block twice as big
            if block is not None:
                t.free(block)
            block, capacity = next_id, max(need, 2 * capacity)
            t.alloc(block, capacity, tag="arena")
            next_id += 1
        t.alloc(next_id, 4 * MiB, tag="result")
        next_id += 1
        if not arena:
            t.free(scratch)
    t.alloc(next_id, 128 * MiB, tag="request")
    return t

for arena in (False, True):
    run = show(job(arena), label=("with" if arena else "without") + " an arena")
    print(f"{run.trace.name:14} {run.audit().splitlines()[0]:21} "
          f"{run.oom.label if run.oom else 'the request fits'}")

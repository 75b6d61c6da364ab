# Arena vs global heap, on the image job (see the 512 MiB example).
# Global heap: every scratch buffer is its own malloc and dies under a result
# that outlives it, leaving a hole the next, larger scratch cannot use.
# Arena: the scratch comes from one block the app keeps and reuses, swapped for
# one twice as big when a round outgrows it. The results pack together and the
# final 128 MiB request fits.
from pyfrag import Trace, scenarios

MiB = 2**20
params = dict(memory="512mib", results=60, result_size=4 * MiB, scratch=2 * MiB,
              scratch_step=32 * 1024, request=128 * MiB)

def with_arena(results, result_size, scratch, scratch_step, request, memory):
    t = Trace("image task, scratch arena", maximum=memory)
    arena, capacity, next_id = None, 0, 0
    for i in range(results):
        need = scratch + i * scratch_step
        if need > capacity:                    # outgrown: a block twice as big
            if arena is not None:
                t.free(arena)
            arena, capacity = next_id, max(need, 2 * capacity)
            t.alloc(arena, capacity, tag="arena")
            next_id += 1
        t.alloc(next_id, result_size, tag="result")
        next_id += 1
    t.alloc(next_id, request, tag="request")
    return t

for trace in (scenarios.image_task(**params), with_arena(**params)):
    run = show(trace, label=trace.name)
    print(f"{trace.name:28} {run.audit().splitlines()[0]:20} "
          f"{run.oom.kind + ' OOM' if run.oom else 'no OOM'}")

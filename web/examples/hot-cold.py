# Hot/cold split, on the image job (see the 512 MiB example). Keep long-lived
# data at the bottom of the heap and the churn at the top: here the app reserves
# one region for all its results up front (cold), so each scratch buffer (hot)
# is allocated at the top and, when freed, merges back into the free top of the
# heap instead of leaving a hole under a result.
from pyfrag import Trace, scenarios

MiB = 2**20
params = dict(memory="512mib", results=60, result_size=4 * MiB, scratch=2 * MiB,
              scratch_step=32 * 1024, request=128 * MiB)

def split(results, result_size, scratch, scratch_step, request, memory):
    t = Trace("image task, hot/cold split", maximum=memory)
    t.alloc(0, results * result_size, tag="results")      # cold: the app sub-allocates results here
    for i in range(results):
        t.alloc(1 + i, scratch + i * scratch_step, tag="scratch")   # hot
        t.free(1 + i)
    t.alloc(results + 1, request, tag="request")
    return t

for trace in (scenarios.image_task(**params), split(**params)):
    run = show(trace, label=trace.name)
    print(f"{trace.name:28} {run.audit().splitlines()[0]:20} "
          f"{run.oom.kind + ' OOM' if run.oom else 'no OOM'}")

# Periodic reset, the "nuclear option": serialize the live state, throw the
# instance away, start a fresh one and allocate the state again, packed: a
# manual compaction. pyfrag.strategies.periodic_reset replays a trace that way.
# Here the image job (see the 512 MiB example) resets every 60 events: the
# simulated heap drops back at each reset and the final request fits, while the
# real module, which never resets, runs out.
from pyfrag import scenarios
from pyfrag.strategies import periodic_reset

MiB = 2**20
trace = scenarios.image_task(memory="512mib", results=60, result_size=4 * MiB,
                             scratch=2 * MiB, scratch_step=32 * 1024, request=128 * MiB)
run = periodic_reset(trace, "dlmalloc", every=60, maximum="512mib")
print(run)
print(run.audit())
show(run, label="dlmalloc, reset every 60 events (real module: no reset)")

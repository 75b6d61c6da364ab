# Periodic reset, the "nuclear option": serialize the live state, throw the
# instance away, start a fresh one and allocate the state again, packed: a
# manual compaction. pyfrag.strategies.periodic_reset replays a trace that way.
# Here the 512 MiB image job resets every 128 events: the simulated heap is
# rebuilt packed, and the final 64 MiB request fits; the real module, which
# never resets, runs out. (The heap maps draw blocks where the trace allocated
# them: the packed copies a reset makes are not trace events.)
from pyfrag import scenarios
from pyfrag.strategies import periodic_reset

trace = scenarios.image_task()
run = periodic_reset(trace, "dlmalloc", every=128, maximum="512mib")
print(run)
print(run.audit())
show(run, label="dlmalloc, reset every 128 events (the real module never resets)")

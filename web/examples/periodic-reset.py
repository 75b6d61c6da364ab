# Periodic reset, the "nuclear option": serialize the live state, throw the
# instance away, start a fresh one and allocate the state again, packed: a
# manual compaction. pyfrag.strategies.periodic_reset replays a trace that way.
# Here the 512 MiB image job resets every 128 events: the heap is rebuilt
# packed, and the final 64 MiB request fits. The real module resets too: the
# page restarts it at the same events and allocates the live blocks again, in
# the same order, so both sides agree event for event. (`module` is the module
# picked in the page; the heap maps draw blocks where the trace allocated them:
# the packed copies a reset makes are not trace events.)
from pyfrag import scenarios
from pyfrag.strategies import periodic_reset

trace = scenarios.image_task()
run = periodic_reset(trace, None, every=128, like=module)
print(run)
print(run.audit())
print(f"{run.resets} resets copied {run.restored:,} bytes of live blocks")
show(run, label=f"{module}, reset every 128 events")

# Swiss cheese: the article's produce_fragmentation(), as a trace.
# 1000 times: keep a 1 KiB anchor, allocate a 100 KiB temporary and drop it.
# Then ask for one contiguous 500 KiB block. ~1 MiB is live, but the anchors
# are spread over ~100 MiB: does the allocator find a hole, or grow?
from pyfrag import scenarios

trace = scenarios.swiss_cheese(rounds=1000, anchor=1024, temp=100 * 1024, probe=500 * 1024)
print(trace.description)

# show() replays the trace on the simulator (in the selected real module's
# start state) and the page replays the same events on the real module.
run = show(trace)
print(run)
print(run.audit())

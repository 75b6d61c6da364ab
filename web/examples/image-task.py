# The article's image job, in a 512 MiB memory: decode 100 images (4-5 MiB
# each), keep a 64 KiB thumbnail of every one, keep 44 full images and drop
# the rest. About 200 MiB stay live, yet the final 64 MiB request fails: the
# free space lies in 4-5 MiB holes pinned apart by thumbnails and kept images,
# and the memory is at its maximum. A fragmentation OOM, not a leak.
# show() replays the trace on the simulator, started like the real module
# picked in the page, and the page replays it on that module: the heap maps
# show the holes, the audit the same utilization on both.
from pyfrag import scenarios

trace = scenarios.image_task()
print(trace.description)
run = show(trace)
print(run.audit())
print(run.oom.describe() if run.oom else "no OOM with this allocator")

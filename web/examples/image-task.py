# The article's image job, in a 512 MiB memory. Each round allocates a scratch
# buffer a little larger than the last (so no earlier hole fits it), keeps a
# 4 MiB result, then drops the scratch: 60 results = 240 MiB live.
# The final 128 MiB request fails although ~180 MiB of the heap are free, in
# holes no bigger than 4 MiB: a fragmentation OOM, not a leak.
from pyfrag import scenarios

MiB = 2**20
trace = scenarios.image_task(memory="512mib", results=60, result_size=4 * MiB,
                             scratch=2 * MiB, scratch_step=32 * 1024, request=128 * MiB)
run = show(trace)
print(run.audit())
print(run.oom.describe() if run.oom else "no OOM with this allocator")

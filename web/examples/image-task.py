# The article's image job: a 512 MiB memory, about 200 MiB of results alive.
# Each round allocates a scratch buffer a little larger than the last (so no
# earlier hole fits it), keeps a 2 MiB result and drops the scratch.
# The final 32 MiB request fails although ~300 MiB are free: a
# fragmentation OOM, not a leak.
from pyfrag import scenarios

trace = scenarios.image_task(memory="512mib", results=100, request=32 * 1024 * 1024)
run = show(trace)
print(run.audit())
if run.oom:
    print(run.oom.describe())

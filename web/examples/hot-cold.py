# Hot/cold split: keep long-lived data at the bottom of the heap and the churn
# at the top. An editor in a 240 MiB memory loads 40 documents (3 MiB each,
# long-lived); between loads it renders, with temporary buffers that grow as
# the documents pile up; at the end it exports one 64 MiB file.
# Mixed: each document lands above the previous render's buffers, which are
# freed into holes too small for the next, larger render.
# Split: the app reserves one region for its documents up front (cold), so the
# render buffers (hot) always come from the top and merge back when freed.
from pyfrag import Trace

MiB = 2**20

def editor(split, documents=40):
    t = Trace("hot/cold split" if split else "mixed lifetimes", maximum="240mib")
    if split:
        t.alloc(0, documents * 3 * MiB, tag="documents")   # cold: documents live in here
    for d in range(documents):
        render = 1000 + d
        t.alloc(render, 1 * MiB + d * 64 * 1024, tag="render")   # hot
        if not split:
            t.alloc(1 + d, 3 * MiB, tag="document")              # cold, mixed in
        t.free(render)
    t.alloc(2000, 64 * MiB, tag="export")
    return t

for split in (False, True):
    run = show(editor(split), label=editor(split).name)
    print(f"{run.trace.name:16} {run.audit().splitlines()[0]:21} "
          f"{run.oom.label if run.oom else 'the export fits'}")

# Hot/cold split: keep big long-lived buffers at the bottom of the heap and the
# churn above them. Mixed: the app loads 20 state buffers one at a time while
# its temporaries churn, so each state buffer lands above the churn and pins it.
# Split: state buffers first, churn after: the churn reuses one region on top.
from pyfrag import Trace

def app(split, states=20, churn=300):
    t = Trace("hot/cold split" if split else "mixed lifetimes")
    next_id = 0
    def temporaries(n):
        nonlocal next_id
        ids = []
        for k in range(n):
            t.alloc(next_id, 1024 * (1 + k % 32), tag="temp"); ids.append(next_id); next_id += 1
        for id in ids:
            t.free(id)
    for s in range(states):
        if not split:
            temporaries(churn // states * 4)
        t.alloc(next_id, 512 * 1024, tag="state"); next_id += 1      # cold: lives forever
    for _ in range(states):
        temporaries(churn // states * 4)
    return t

for split in (False, True):
    print(app(split).replay("first-fit-nocoalesce").audit().replace("\n", "  "))
show(app(split=False), label="mixed lifetimes")
show(app(split=True), label="hot/cold split")

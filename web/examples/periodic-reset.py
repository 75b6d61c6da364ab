# Periodic reset: the "nuclear option". Serialize the state, throw the instance
# away, start a fresh one and load the state back: a manual compaction.
# Within one trace that means: free every block, then allocate the surviving
# state again, packed. (A real reset also gives the memory back; here the heap
# keeps its size but loses its holes, so later requests fit again.)
import random
from pyfrag import Trace

def editor(reset_every=None, rounds=3000, seed=7):
    rng = random.Random(seed)
    t = Trace("reset" if reset_every else "no reset")
    state, next_id = {}, 0               # id -> size of the long-lived document objects
    for r in range(1, rounds + 1):
        tmp = next_id; next_id += 1
        t.alloc(tmp, rng.randint(8, 64) * 1024, tag="temp")
        if rng.random() < 0.3:
            state[next_id] = rng.randint(1, 8) * 1024
            t.alloc(next_id, state[next_id], tag="state"); next_id += 1
        if state and rng.random() < 0.2:
            gone = rng.choice(list(state))   # some document objects are deleted
            del state[gone]
            t.free(gone)
        t.free(tmp)
        if reset_every and r % reset_every == 0:
            for id in list(state):           # "serialize" and drop everything ...
                t.free(id)
            packed = {}
            for size in state.values():      # ... then load the state back, packed
                t.alloc(next_id, size, tag="state"); packed[next_id] = size; next_id += 1
            state = packed
    return t

for every in (None, 500):
    print(f"{editor(every).name:9} {editor(every).replay('first-fit-nocoalesce').audit()!r}")
show(editor(), label="no reset")
show(editor(reset_every=500), label="reset every 500 rounds")

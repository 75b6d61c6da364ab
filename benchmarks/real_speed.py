"""Real-module replay speed, side by side in one run.

    python benchmarks/real_speed.py [--module c-dlmalloc] [--runs 3] [--scale 1.0]

1. End to end: `pyfrag real T --module M` against `pyfrag run T --like M` on the same trace
   file (wall time of the whole command: start-up, loading the file, the replay, the summary),
   run alternately, best of --runs, on two traces:
   - 1,000,000 random events holding about 100,000 blocks at once (sizes 16 B - 4 KiB);
   - 4,000,000 random events holding at most about 5,000 blocks (sizes 16 B - 64 KiB).
2. The replay inside the module (pyfrag.real.runner) with 1,000,000 blocks live: a million
   allocations, then a million events of churn (a random live block freed, a new one made),
   CPU time of `replay_real` alone (the trace already in memory), events per second; and the
   model on the same trace for comparison. Its addresses and memory sizes are checked equal to
   the model's.
3. Call by call (one wasmtime call per event, what an upload without pyfrag_run gets) on the
   first 50,000 events of the first trace, for scale.

--scale shrinks every trace (0.1 for a quick look). The machine may be busy: the ratios of
two things measured alternately in one run are the figures to quote.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from pyfrag import Trace, replay, scenarios  # noqa: E402
from pyfrag.real import replay_real  # noqa: E402
from pyfrag.trace import dump  # noqa: E402


def wall(*args):
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pyfrag", *args], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def cpu(f):
    t = time.process_time()
    result = f()
    return result, time.process_time() - t


def peak_live(trace):
    live, peak = set(), 0
    for op, id in zip(trace.ops, trace.ids):
        if op == 1:
            live.discard(id)
        else:
            live.add(id)
            peak = max(peak, len(live))
    return peak


def million_live(n):
    """n allocations of 16-64 bytes, then n events freeing a random live block and making a new one."""
    import random
    rng = random.Random(1)
    t = Trace("million live", f"{n} blocks allocated, then {n} events of churn")
    for i in range(n):
        t.alloc(i, rng.randrange(16, 65))
    live, next_id = list(range(n)), n
    for _ in range(n // 2):
        k = rng.randrange(n)
        t.free(live[k])
        t.alloc(next_id, rng.randrange(16, 65))
        live[k], next_id = next_id, next_id + 1
    return t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--module", default="c-dlmalloc")
    ap.add_argument("--runs", type=int, default=3, help="end-to-end runs of each command")
    ap.add_argument("--scale", type=float, default=1.0, help="shrink every trace by this")
    args = ap.parse_args(argv)
    name, scale = args.module, args.scale
    tmp = tempfile.TemporaryDirectory()
    traces = {
        "1M events, ~100k live": scenarios.random_trace(int(1_000_000 * scale), seed=1,
                                                        live=int(100_000 * scale), max_size=4096),
        "4M events, <=5k live": scenarios.random_trace(int(4_000_000 * scale), seed=1, live=4000),
    }
    print(f"end to end on {name} (wall, best of {args.runs}, run alternately):")
    for label, trace in traces.items():
        path = os.path.join(tmp.name, "t.trace")
        dump(trace, path)
        real_s, run_s = [], []
        for _ in range(args.runs):
            real_s.append(wall("real", path, "--module", name))
            run_s.append(wall("run", path, "--like", name))
        print(f"  {label} (peak {peak_live(trace):,} live): pyfrag real {min(real_s):.2f} s, "
              f"pyfrag run --like {min(run_s):.2f} s: {min(run_s) / min(real_s):.2f}x")

    n = int(1_000_000 * scale)
    big = million_live(n)
    run, inside = cpu(lambda: replay_real(big, name, model=False))
    model, alone = cpu(lambda: replay(big, like=name))
    assert list(run.addresses) == list(model.addresses) and \
        list(run.heap_bytes) == list(model.heap_bytes), "the module and its model differ"
    print(f"inside the module with {n:,} blocks live ({len(big):,} events, CPU): "
          f"{len(big) / inside:,.0f} events/s; the model {len(big) / alone:,.0f} events/s "
          f"({alone / inside:.1f}x)")

    first = traces["1M events, ~100k live"]
    head = Trace(first.name).extend(first, 0, min(50_000, len(first)))
    _, per_call = cpu(lambda: replay_real(head, name, batched=False, model=False))
    _, whole = cpu(lambda: replay_real(first, name, model=False))
    print(f"call by call: {len(head) / per_call:,.0f} events/s; inside the module on the same "
          f"trace {len(first) / whole:,.0f} events/s ({per_call / len(head) * len(first) / whole:.0f}x)")


if __name__ == "__main__":
    main()

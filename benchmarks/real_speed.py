"""Real-module replay speed, side by side in one run: call by call, host batches (pyfrag_replay),
the replay inside the module (pyfrag_run, what `pyfrag real` does by default), the same with the
model beside it over the whole run (`pyfrag real --model`), and the model alone.

    python benchmarks/real_speed.py [--events 1000000] [--module c-dlmalloc] [--per-call 50000]
                                    [--base 256a5ee] [--cli]

The call-by-call path is timed on the first --per-call events (it runs at wasmtime's per-call
speed, ~20 µs an event); the others on the whole trace. CPU time, so a busy machine slows all of
them alike; the ratios are the figures to quote. Every path's addresses, memory sizes and live
bytes are checked equal to the model's on the events they share. --base also times the
call-by-call path of an earlier commit (its pyfrag and modules, extracted with `git archive`):
the path as it was before the replay moved into the module and the loop got leaner. --cli also
times the commands end to end (wall time, loading the trace file included): `pyfrag real` and
`pyfrag run --like`.
"""

import argparse
import importlib
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

from model_speed import load_base  # noqa: E402

from pyfrag import Trace, replay, scenarios  # noqa: E402
from pyfrag.real import load, replay_real  # noqa: E402
from pyfrag.trace import dump  # noqa: E402


def timed(f):
    t = time.process_time()
    result = f()
    return result, time.process_time() - t


def wall(*args):
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pyfrag", *args], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--module", default="c-dlmalloc")
    ap.add_argument("--per-call", type=int, default=50_000, help="events timed call by call")
    ap.add_argument("--base", help="also time this commit's call-by-call path")
    ap.add_argument("--cli", action="store_true", help="also time the commands end to end")
    args = ap.parse_args(argv)
    tmp = tempfile.TemporaryDirectory()
    name, n = args.module, args.events
    trace = scenarios.random_trace(n, seed=1)
    head = Trace(trace.name).extend(trace, 0, min(args.per_call, n))

    paths = {
        "model": lambda: replay(trace, like=name),
        "call by call": lambda: replay_real(head, name, batched=False, model=False),
        "host batches": lambda: replay_real(trace, load(name), model=False),
        "inside the module (pyfrag real)": lambda: replay_real(trace, name, model="failures"),
        "inside + model (pyfrag real --model)": lambda: replay_real(trace, name, model=True),
    }
    if args.base:
        load_base(args.base, tmp.name, ("wasm_modules",))
        base_real = importlib.import_module("pyfrag_base.real").replay_real
        # the same events in its own Trace type
        base_head = importlib.import_module("pyfrag_base.trace").Trace(trace.name).extend(head)
        paths[f"call by call at {args.base}"] = \
            lambda: base_real(base_head, name, batched=False, model=False)
    runs, rates = {}, {}
    for label, path in paths.items():
        runs[label], t = timed(path)
        rates[label] = runs[label].events / t
    model = runs["model"]
    for label, run in runs.items():
        k = run.events
        for field in ("addresses", "heap_bytes", "live_bytes"):
            assert getattr(run, field)[:k] == getattr(model, field)[:k], (label, field)
    print(f"{n} random events (seed 1) on {name}; CPU time")
    for label, rate in rates.items():
        print(f"  {label:38} {rate:>12,.0f} events/s")
    inside = rates["inside the module (pyfrag real)"]
    print(f"inside / call by call: {inside / rates['call by call']:.1f}x; "
          f"inside / model: {inside / rates['model']:.2f}x; "
          f"host batches / call by call: {rates['host batches'] / rates['call by call']:.1f}x")
    if args.base:
        print(f"inside / call by call at {args.base}: "
              f"{inside / rates[f'call by call at {args.base}']:.1f}x")
    if args.cli:
        path = os.path.join(tmp.name, "t.trace")
        dump(trace, path)
        real_s = wall("real", path, "--module", name)
        run_s = wall("run", path, "--like", name)
        print(f"end to end, trace file included (wall): pyfrag real {real_s:.2f} s, "
              f"pyfrag run --like {run_s:.2f} s ({run_s / real_s:.2f}x)")


if __name__ == "__main__":
    main()

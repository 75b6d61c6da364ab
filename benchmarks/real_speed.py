"""Real-module replay speed, side by side in one run: call by call, batched (pyfrag_replay), batched
with the model in lockstep (what `pyfrag real` does by default), and the model alone.

    python benchmarks/real_speed.py [--events 1000000] [--module c-dlmalloc] [--per-call 50000]

The call-by-call path is timed on the first --per-call events (it runs at wasmtime's per-call
speed, ~20 µs an event); the others on the whole trace. CPU time, so a busy machine
slows all of them alike; the ratios are the figures to quote. Every path's addresses are checked
equal to the model's on the events they share.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pyfrag import Trace, replay, scenarios  # noqa: E402
from pyfrag.real import replay_real  # noqa: E402


def timed(f):
    t = time.process_time()
    result = f()
    return result, time.process_time() - t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--module", default="c-dlmalloc")
    ap.add_argument("--per-call", type=int, default=50_000, help="events timed call by call")
    args = ap.parse_args(argv)
    trace = scenarios.random_trace(args.events, seed=1)
    head = Trace(trace.name).extend(trace, 0, min(args.per_call, len(trace)))

    model, t_model = timed(lambda: replay(trace, like=args.module))
    per_call, t_call = timed(lambda: replay_real(head, args.module, batched=False, model=False))
    batched, t_batch = timed(lambda: replay_real(trace, args.module, model=False))
    stepped, t_step = timed(lambda: replay_real(trace, args.module))
    for run in (per_call, batched, stepped):
        n = run.events
        assert list(run.addresses[:n]) == list(model.addresses[:n]), "addresses differ"

    rates = {"model": args.events / t_model, "call by call": len(head) / t_call,
             "batched": args.events / t_batch, "batched + model (pyfrag real)": args.events / t_step}
    print(f"{args.events} random events (seed 1) on {args.module}; CPU time")
    for name, rate in rates.items():
        print(f"  {name:32} {rate:>12,.0f} events/s")
    print(f"batched / call by call: {rates['batched'] / rates['call by call']:.1f}x;"
          f" batched / model: {rates['batched'] / rates['model']:.2f}x;"
          f" pyfrag real / call by call: {rates['batched + model (pyfrag real)'] / rates['call by call']:.1f}x")


if __name__ == "__main__":
    main()

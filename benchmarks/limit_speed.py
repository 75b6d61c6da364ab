"""What failing at a memory limit costs: every model replays the same trace unlimited and at
a limit of half the peak heap it reached unlimited, side by side in one run.

    python benchmarks/limit_speed.py [--events 200000] [--traces random,varying-churn]
                                     [--models dlmalloc,mimalloc] [--repeat 3] [--base 256a5ee]

At half its peak a model fails a good share of its requests (the failures column), and each
failed request costs what the model does on one (mimalloc's forced collect, wee_alloc's walk)
plus its verdict (pyfrag.replay.classify: free blocks read from the model's spans within
SPAN_BUDGET, else estimated). CPU time, best of --repeat; a busy machine slows both runs
alike, so the ratio (at the limit / unlimited, in seconds) is the figure to quote.

--base COMMIT also times this repository's pyfrag at COMMIT (extracted with `git archive`, as
benchmarks/model_speed.py does) on the same traces and limits, and checks that both trees
return the same addresses, memory sizes and memory.grow calls: the before and after of
making failures cheap.
"""

import argparse
import gc
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

from model_speed import load_base  # noqa: E402

from pyfrag import allocators, scenarios  # noqa: E402
from pyfrag.memory import PAGE  # noqa: E402
from pyfrag.replay import replay  # noqa: E402
from pyfrag.report import human  # noqa: E402


def best(f, repeat):
    """(result, least CPU seconds) of `repeat` calls."""
    seconds, result = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        result = f()
        seconds = min(seconds, time.process_time() - start)
    return result, seconds


def limit_for(run):
    """Half the run's peak heap, in pages, and never below what it started with + 1."""
    return max(run.initial_bytes // PAGE + 1, run.metrics.peak_heap_bytes // PAGE // 2)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--traces", default="random,varying-churn",
                    help="scenarios, each generated with --events events")
    ap.add_argument("--models", help="comma-separated (default: every model)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--base", metavar="COMMIT", help="also time pyfrag at this commit")
    args = ap.parse_args(argv)
    models = args.models.split(",") if args.models else allocators.names()
    base = None
    if args.base:
        folder = tempfile.mkdtemp(prefix="pyfrag-limit-")
        base = load_base(args.base, folder)
    worst = 0.0
    for name in args.traces.split(","):
        trace = make(name, args.events)
        print(f"\n{name}: {len(trace):,} events; limit: half of each model's unlimited "
              f"peak heap; CPU seconds, best of {args.repeat}")
        head = f"{'model':22} {'limit':>9} {'failures':>9} {'unlimited':>10} {'at limit':>9} " \
               f"{'ratio':>6}"
        print(head + (f" {'at ' + args.base:>12} {'ratio':>6}" if base else ""))
        for model in models:
            free, unlimited = best(lambda: replay(trace, model), args.repeat)
            pages = limit_for(free)
            run, limited = best(lambda: replay(trace, model, maximum=pages), args.repeat)
            ratio = limited / unlimited
            worst = max(worst, ratio)
            line = (f"{model:22} {human(pages * PAGE):>9} {len(run.failures):>9,} "
                    f"{unlimited:>9.2f}s {limited:>8.2f}s {ratio:>5.1f}x")
            if base:
                old, before = best(lambda: base(trace, model, maximum=pages), 1)
                if list(old.addresses) != list(run.addresses) or \
                        list(old.heap_bytes) != list(run.heap_bytes) or \
                        old.grow_calls != run.grow_calls:
                    raise SystemExit(f"{model} on {name}: addresses, memory sizes or "
                                     f"memory.grow calls differ from {args.base}'s")
                line += f" {before:>11.2f}s {before / unlimited:>5.1f}x"
            print(line, flush=True)
    print(f"\nworst ratio: {worst:.1f}x")


def make(name, events):
    """The scenario `name` with about `events` events."""
    if name == "random":
        return scenarios.random_trace(events, seed=1)
    if name == "varying-churn":
        return scenarios.varying_churn(rounds=events // 4)
    if name == "churn":
        return scenarios.churn(frames=events // 29)
    raise SystemExit(f"unknown trace {name!r}: random, varying-churn or churn")


if __name__ == "__main__":
    main()

"""Simulator vs real module, address by address, over many traces.

    python benchmarks/fidelity.py                       # every module with a model
    python benchmarks/fidelity.py --modules c-dlmalloc --traces 20

For each module in wasm_modules/manifest.json that names a model, replays the
article's scenarios and `--traces` generated traces of `--events` events
(sizes 1 B - 1 MiB log-uniform, random lifetimes, 5% reallocs, aligned requests
where the module exports aligned_alloc) on the model (started with
`Heap.like(module)`) and on the real module (wasmtime), and compares the
`--addresses` lines: event index, returned address, memory bytes. Prints, per
module, how many traces matched exactly, the share of matching lines, and the
first divergence seen. This is the check behind the CLI's promise that
`pyfrag run T --like M --addresses` and `pyfrag real T --module M --addresses`
print the same lines.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # a checkout

from pyfrag import allocators, scenarios
from pyfrag.modules import manifest
from pyfrag.real import replay_real
from pyfrag.replay import replay

SCENARIOS = ("swiss-cheese", "image-task", "churn")


def traces(count, events, aligned):
    for name in SCENARIOS:
        yield scenarios.get(name)
    for seed in range(count):
        yield scenarios.random_trace(events, seed=seed, min_size=1, max_size=1 << 20,
                                     live=200, realloc_rate=0.05,
                                     align_rate=0.05 if aligned else 0.0)


def compare(trace, module):
    sim = replay(trace, like=module).address_lines()
    real = replay_real(trace, module).address_lines()
    same = sum(a == b for a, b in zip(sim, real))
    first = next((i for i, (a, b) in enumerate(zip(sim, real)) if a != b), None)
    if first is None and len(sim) != len(real):
        first = min(len(sim), len(real))
    detail = None if first is None else (
        f"{trace.name}: line {first}: model '{sim[first] if first < len(sim) else '-'}' "
        f"vs real '{real[first] if first < len(real) else '-'}'")
    return same, max(len(sim), len(real)), detail


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--traces", type=int, default=200)
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--modules", help="comma-separated module names (default: all with a model)")
    args = ap.parse_args(argv)
    known = set(allocators.names())
    entries = [e for e in manifest() if e.get("model") in known]
    if args.modules:
        wanted = args.modules.split(",")
        entries = [e for e in entries if e["name"] in wanted]
    print(f"{'module':22} {'model':20} {'exact traces':>14} {'lines matching':>15} {'time':>7}")
    worst = 0
    for entry in entries:
        start = time.perf_counter()
        aligned = "aligned_alloc" in entry.get("exports", [])
        exact = total = lines = same = 0
        first_detail = None
        for trace in traces(args.traces, args.events, aligned):
            s, n, detail = compare(trace, entry["name"])
            total += 1
            exact += detail is None
            same += s
            lines += n
            first_detail = first_detail or detail
        share = same / lines if lines else 1.0
        worst = max(worst, total - exact)
        print(f"{entry['name']:22} {entry['model']:20} {exact:>6}/{total:<7} {share:>14.4%} "
              f"{time.perf_counter() - start:6.0f}s", flush=True)
        if first_detail:
            print(f"    first divergence: {first_detail}")
    return 1 if worst else 0


if __name__ == "__main__":
    sys.exit(main())

"""Model replay speed against an earlier commit, in one run: events per second of
`replay(trace, model)` for this tree's pyfrag and for the one at --base.

    python benchmarks/model_speed.py [--events 1000000] [--base 256a5ee] [--repeat 3]
                                     [--model dlmalloc] [--like c-dlmalloc] [--rss 4000000]
                                     [--instructions 20000]

The base commit's `pyfrag/` is extracted with `git archive` to a temporary folder and
imported under another package name, so both run in this process on the same trace,
alternately, a few times each; CPU time, best of --repeat. A busy machine slows both
alike: the ratio is the figure to quote. The two runs' addresses and heap sizes are
checked equal, so a faster model that drifts from the old one fails here too.

--instructions N counts machine instructions per replayed event under valgrind
(callgrind) for both trees, N events each: a figure a busy machine does not move.

--rss N also writes a random trace of N events to the temporary folder and, for both
trees, prints the peak RSS of `python -m pyfrag run T --allocator dlmalloc` (/usr/bin/time)
and, in bytes per event, what replaying it and its metrics add to the process once the
trace is loaded (the peak is reset after loading: /proc/self/clear_refs), which is the
run's own share.
"""

import argparse
import gc
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from pyfrag import scenarios  # noqa: E402
from pyfrag.replay import replay  # noqa: E402
from pyfrag.trace import dump  # noqa: E402


def load_base(commit, folder, paths=("wasm_modules/manifest.json",)):
    """This repository's pyfrag at `commit` (and `paths` beside it), imported as the package
    `pyfrag_base`; returns its replay()."""
    archive = subprocess.run(["git", "-C", ROOT, "archive", commit, "pyfrag", *paths],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
    spec = importlib.util.spec_from_file_location(
        "pyfrag_base", os.path.join(folder, "pyfrag", "__init__.py"),
        submodule_search_locations=[os.path.join(folder, "pyfrag")])
    package = importlib.util.module_from_spec(spec)
    sys.modules["pyfrag_base"] = package
    spec.loader.exec_module(package)
    return importlib.import_module("pyfrag_base.replay").replay


# after loading the trace: the resident bytes, then the peak of replay + metrics above them
RUN_SHARE = """
import sys
from pyfrag.trace import load
from pyfrag.replay import replay
def status(key):
    return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith(key))
trace = load(sys.argv[1])
loaded = status("VmRSS")
open("/proc/self/clear_refs", "w").write("5")
replay(trace, "dlmalloc").metrics
print((status("VmHWM") - loaded) / len(trace))
"""


def memory(tree, path, folder):
    """(peak RSS bytes of `pyfrag run`, the run's bytes per event) with `tree` on the path."""
    env = dict(os.environ, PYTHONPATH=tree)
    timed = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-m", "pyfrag", "run",
                            path, "--allocator", "dlmalloc"], cwd=folder, env=env,
                           capture_output=True, text=True, check=True)
    share = subprocess.run([sys.executable, "-c", RUN_SHARE, path], cwd=folder, env=env,
                           capture_output=True, text=True, check=True)
    return int(timed.stderr.split()[-1]) * 1024, float(share.stdout)


# replays a trace of argv[1] events on argv[2] when argv[3] is "1"; everything else
# (imports, compiling, a warm-up replay, generating the trace) happens either way
REPLAY = """
import sys
from pyfrag import scenarios
from pyfrag.replay import replay
replay(scenarios.random_trace(200, seed=2), sys.argv[2]).metrics
trace = scenarios.random_trace(int(sys.argv[1]), seed=1)
if sys.argv[3] == "1":
    replay(trace, sys.argv[2]).metrics
"""


def instructions(tree, events, model, folder):
    """Machine instructions per replayed event (valgrind's count: the same on a busy machine)."""
    def count(flag):
        out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                              sys.executable, "-c", REPLAY, str(events), model, flag],
                             cwd=folder, env=dict(os.environ, PYTHONPATH=tree),
                             capture_output=True, text=True, check=True).stderr
        return int(re.search(r"Collected : (\d+)", out).group(1))
    return (count("1") - count("0")) / events


def cpu_seconds(run):
    gc.collect()
    start = time.process_time()
    result = run()
    return time.process_time() - start, result


def same(a, b):
    return (list(a.addresses) == list(b.addresses) and list(a.heap_bytes) == list(b.heap_bytes)
            and list(a.live_bytes) == list(b.live_bytes))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--base", default="256a5ee", help="commit to compare with")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--model", default="dlmalloc", help="model replayed by name")
    ap.add_argument("--like", default="c-dlmalloc", help="module whose start state and model "
                                                        "are replayed ('' to skip)")
    ap.add_argument("--rss", type=int, default=0, metavar="N",
                    help="also measure memory on a trace of N events")
    ap.add_argument("--instructions", type=int, default=0, metavar="N",
                    help="also count instructions per event under valgrind on N events")
    args = ap.parse_args(argv)
    trace = scenarios.random_trace(args.events, seed=args.seed)
    cases = [(f"replay(trace, {args.model!r})", {"allocator": args.model})]
    if args.like:
        cases.append((f"replay(trace, like={args.like!r})", {"like": args.like}))
    with tempfile.TemporaryDirectory() as folder:
        base_tree = os.path.join(folder, "base")       # not the cwd of the --rss runs
        os.mkdir(base_tree)
        base_replay = load_base(args.base, base_tree)
        print(f"{len(trace)} events of {trace.description}; CPU seconds, best of {args.repeat}")
        for label, options in cases:
            best = {"base": float("inf"), "now": float("inf")}
            runs = {}
            for _ in range(args.repeat):
                for key, fn in (("now", replay), ("base", base_replay)):
                    runs[key] = None            # both runs start with the same memory in use
                    seconds, runs[key] = cpu_seconds(lambda: fn(trace, **options))
                    best[key] = min(best[key], seconds)
            if not same(runs["base"], runs["now"]):
                sys.exit(f"{label}: the runs differ from {args.base}'s")
            rate = {k: len(trace) / s for k, s in best.items()}
            print(f"{label}: {args.base} {rate['base']:,.0f} events/s, "
                  f"now {rate['now']:,.0f} events/s, {rate['now'] / rate['base']:.2f}x")
        if args.instructions:
            counts = {label: instructions(tree, args.instructions, args.model, folder)
                      for label, tree in (("base", base_tree), ("now", ROOT))}
            print(f"replay(trace, {args.model!r}) under valgrind, {args.instructions} events: "
                  f"{args.base} {counts['base']:,.0f} instructions/event, now "
                  f"{counts['now']:,.0f}, {counts['base'] / counts['now']:.2f}x")
        if args.rss:
            path = os.path.join(folder, "rss.trace")
            dump(scenarios.random_trace(args.rss, seed=args.seed), path)
            for label, tree in ((args.base, base_tree), ("now", ROOT)):
                peak, share = memory(tree, path, folder)
                print(f"{args.rss} events, {label}: `pyfrag run` peak RSS {peak / 1e6:,.0f} MB "
                      f"({peak / args.rss:.0f} B/event); replay + metrics after loading "
                      f"{share:.1f} B/event")


if __name__ == "__main__":
    main()

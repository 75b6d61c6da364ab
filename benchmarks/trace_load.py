"""Trace loading, before and after streaming (issue 10): speed, memory, `pyfrag run`'s peak.

    python benchmarks/trace_load.py                       # 1M, 4M and 10M events
    python benchmarks/trace_load.py --events 1000000 --runs 3 --old 256a5ee --dir /tmp/x

For each size, a text trace of `scenarios.random_trace(n, seed=1)` is written to
--dir (kept for the next run). Then, each in a fresh subprocess, in the same run:

- load time (CPU seconds, best of --runs) and the peak RSS added by the first
  load, per event, with today's loader and with the loader of commit --old (its `pyfrag/`
  taken with `git archive` into a temporary folder); today's loader also without numpy
  (where it is installed, a big trace's plain lines are parsed by its C parser);
- peak RSS of `python -m pyfrag run TRACE --allocator dlmalloc` per event, both
  trees (the run's own per-event arrays included: replay.py is not this
  benchmark's), unless --no-run.

Free memory is checked before each size: a 10M-event run of the old tree peaks
near 1.1 GB. Prints one table; CPU time, so the ratios are the figures to quote.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Run in a subprocess with the tree under test first on sys.path: CPU seconds of
# the fastest load, the peak RSS (KiB) before and after the first load, and the events.
LOAD = """
import resource, sys, time
sys.path.insert(0, sys.argv[1])
from pyfrag.trace import load
if sys.argv[4] == "no-numpy":
    from pyfrag.trace import stream
    stream.VECTORISED = float("inf")
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
before, times = peak(), []
for _ in range(int(sys.argv[3])):
    t = time.process_time()
    trace = load(sys.argv[2])
    times.append(time.process_time() - t)
    after = after if len(times) > 1 else peak()
    n = len(trace)
    del trace
print(min(times), before, after, n)
"""

# The peak RSS (KiB) of a command, run as this process's only child.
PEAK = """
import resource, subprocess, sys
subprocess.run(sys.argv[2:], cwd=sys.argv[1], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def make_trace(path, events):
    if not os.path.exists(path):
        subprocess.run([sys.executable, "-c",
                        "import sys; sys.path.insert(0, sys.argv[1]);"
                        "from pyfrag import scenarios; from pyfrag.trace import dump;"
                        "dump(scenarios.random_trace(int(sys.argv[2]), seed=1), sys.argv[3])",
                        ROOT, str(events), path], check=True)
    return path


def old_tree(commit, folder):
    archive = subprocess.run(["git", "-C", ROOT, "archive", commit, "pyfrag"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
    return folder


def load_figures(tree, path, runs, numpy="numpy"):
    out = subprocess.run([sys.executable, "-c", LOAD, tree, path, str(runs), numpy],
                         check=True, capture_output=True, text=True).stdout.split()
    seconds, before, after, events = float(out[0]), int(out[1]), int(out[2]), int(out[3])
    return seconds, (after - before) * 1024 / events


def run_peak(tree, path, events):
    out = subprocess.run([sys.executable, "-c", PEAK, tree, sys.executable, "-m", "pyfrag",
                          "run", path, "--allocator", "dlmalloc"],
                         check=True, capture_output=True, text=True).stdout
    return int(out) * 1024 / events


def free_bytes():
    with open("/proc/meminfo") as f:
        info = dict(line.split(":", 1) for line in f)
    return int(info["MemAvailable"].split()[0]) * 1024


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, nargs="+", default=[1_000_000, 4_000_000, 10_000_000])
    ap.add_argument("--runs", type=int, default=3, help="loads timed per tree (best kept)")
    ap.add_argument("--old", default="256a5ee", help="commit of the loader to compare with")
    ap.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "pyfrag-trace-load"))
    ap.add_argument("--no-run", action="store_true", help="skip the `pyfrag run` peaks")
    args = ap.parse_args(argv)
    os.makedirs(args.dir, exist_ok=True)
    old = old_tree(args.old, tempfile.mkdtemp(prefix="pyfrag-old-"))
    try:
        print(f"{'events':>11} {'load old s':>10} {'load new s':>10} {'no numpy s':>10} "
              f"{'speed-up':>8} "
              f"{'load old B/ev':>13} {'load new B/ev':>13} {'run old B/ev':>12} "
              f"{'run new B/ev':>12}")
        for n in args.events:
            if free_bytes() < 160 * n:
                print(f"{n:>11,} skipped: under {160 * n >> 20} MiB of memory free")
                continue
            path = make_trace(os.path.join(args.dir, f"random-{n}.trace"), n)
            t_old, m_old = load_figures(old, path, args.runs)
            t_new, m_new = load_figures(ROOT, path, args.runs)
            t_plain, _ = load_figures(ROOT, path, args.runs, "no-numpy")
            runs = ("", "") if args.no_run else \
                (f"{run_peak(old, path, n):.1f}", f"{run_peak(ROOT, path, n):.1f}")
            print(f"{n:>11,} {t_old:>10.2f} {t_new:>10.2f} {t_plain:>10.2f} {t_old / t_new:>7.2f}x "
                  f"{m_old:>13.1f} {m_new:>13.1f} {runs[0]:>12} {runs[1]:>12}", flush=True)
    finally:
        shutil.rmtree(old)


if __name__ == "__main__":
    main()

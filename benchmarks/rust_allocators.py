"""Choosing a Rust wasm allocator: the ones Rust developers pick, on the same traces, for real.

    python benchmarks/rust_allocators.py            # the README's table
    python benchmarks/rust_allocators.py --no-record  # the scenarios only

Replays the article's scenarios and one recorded program (a Python script under valgrind with
PYTHONMALLOC=malloc, as benchmarks/record_corpus.py records it; left out where valgrind is missing)
on the real modules of Rust's allocators (`pyfrag real`, each on a fresh instance), and prints, per
trace and module: the peak heap, the peak heap over the ideal (heap base + peak live, in whole
pages) and the first failed request; then each module's size. Markdown, as the README shows it.
"""

import argparse
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

from pyfrag import modules, scenarios  # noqa: E402
from pyfrag.real import replay_real  # noqa: E402
from pyfrag.report import human  # noqa: E402

MODULES = ["rust-dlmalloc", "wee-alloc", "talc", "lol-alloc", "rlsf", "rlsf-global"]
SCENARIOS = ["swiss-cheese", "image-task", "churn", "varying-churn", "random"]


def recorded():
    """A Python script's allocations, recorded under valgrind; None where it cannot run."""
    from record_corpus import PY_SCRIPT
    from pyfrag.record import RecordError, record_native
    with tempfile.TemporaryDirectory() as work:
        script = os.path.join(work, "script.py")
        with open(script, "w") as f:
            f.write(PY_SCRIPT)
        os.environ["PYTHONMALLOC"] = "malloc"
        try:
            trace = record_native([sys.executable, script], stdout=subprocess.DEVNULL).trace
        except RecordError as e:
            print(f"(no recorded program: {e})", file=sys.stderr)
            return None
        finally:
            del os.environ["PYTHONMALLOC"]
    trace.name = "a Python script (recorded)"
    return trace


def cell(run):
    m = run.metrics
    failed = "none" if not run.failures else f"{run.oom.label} @ {run.oom.index:,}"
    if run.trap is not None:
        failed = f"trap @ {run.trap.index:,}"
    return f"{human(m.peak_heap_bytes)}, {m.times_ideal:.2f}x, {failed}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-record", action="store_true", help="the scenarios only")
    args = ap.parse_args(argv)
    traces = [scenarios.get(name) for name in SCENARIOS]
    if not args.no_record and (trace := recorded()) is not None:
        traces.append(trace)
    print("| trace | " + " | ".join(MODULES) + " |")
    print("|---|" + "---|" * len(MODULES))
    for trace in traces:
        row = [cell(replay_real(trace, name, model="failures")) for name in MODULES]
        print(f"| {trace.name} ({len(trace):,} events) | " + " | ".join(row) + " |", flush=True)
    sizes = [f"{modules.find(name)['bytes']:,} bytes" for name in MODULES]
    print("| module size | " + " | ".join(sizes) + " |")


if __name__ == "__main__":
    main()

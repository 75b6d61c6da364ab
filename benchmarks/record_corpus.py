"""A corpus of real workloads recorded on this machine, replayed on every model.

    python benchmarks/record_corpus.py                    # everything that can run here
    python benchmarks/record_corpus.py --only sort,lists  # some workloads
    python benchmarks/record_corpus.py --keep DIR         # keep the recorded traces

Records, with `pyfrag.record`: native programs under valgrind (`sort` on a
generated file, GCC's compiler proper `cc1` compiling a C file, a Python
script with PYTHONMALLOC=malloc so every object goes through malloc), and the
recording tests' own WebAssembly apps (tests/apps: the C app on wasi-libc's
dlmalloc, the Rust app on Rust std's dlmalloc) instrumented and run under
wasmtime. Prints per workload the events, the peak live bytes and the
recording time, whether a wasm recording verifies against its model, and then
the peak heap of every model on every workload (every model starts as
`pyfrag compare` starts them), with OOMs marked. Nothing is committed: the
traces live in a temporary directory unless --keep names one.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)                                  # a checkout
sys.path.insert(0, os.path.join(ROOT, "tests", "apps"))

from build import ToolchainMissing, build_c, build_rust  # noqa: E402

from pyfrag import allocators  # noqa: E402
from pyfrag.sources import COMPARE_START  # noqa: E402
from pyfrag.record import RecordError, record_native, record_wasm  # noqa: E402
from pyfrag.report import human  # noqa: E402
from pyfrag.trace import dump  # noqa: E402
from pyfrag.record.verify import verify  # noqa: E402

C_SOURCE = os.path.join(ROOT, "tests", "apps", "lists.c")
PY_SCRIPT = ("import json, collections\n"
             "words = [f'w{i % 997}-{i}' for i in range(20000)]\n"
             "index = collections.Counter(w.split('-')[0] for w in words)\n"
             "blob = json.dumps({w: len(w) for w in words})\n"
             "print(len(blob), len(index), sum(json.loads(blob).values()))\n")


def native(work):
    """name -> (command, environment) of the native workloads that can run here."""
    out = {}
    data = os.path.join(work, "lines.txt")
    with open(data, "w") as f:
        f.writelines(f"{(i * 7919) % 10007:05d} line {i}\n" for i in range(20000))
    if shutil.which("sort"):
        out["sort"] = (["sort", data], None)
    if shutil.which("gcc"):
        cc1 = subprocess.run(["gcc", "-print-prog-name=cc1"], capture_output=True,
                             text=True).stdout.strip()
        source = os.path.join(work, "lists.i")
        # cc1 alone does not know the system's include paths: preprocess with gcc first
        if os.path.isfile(cc1) and not subprocess.run(["gcc", "-E", C_SOURCE, "-o", source]
                                                      ).returncode:
            out["gcc (cc1)"] = ([cc1, "-fpreprocessed", "-quiet", "-O2", source, "-o",
                                 os.path.join(work, "lists.s")], None)
    script = os.path.join(work, "script.py")
    with open(script, "w") as f:
        f.write(PY_SCRIPT)
    out["python"] = ([sys.executable, "-S", script], {"PYTHONMALLOC": "malloc"})
    return out


def record_all(work, only):
    recorded = {}
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: native workloads skipped", file=sys.stderr)
    else:
        for name, (command, env) in native(work).items():
            if only and name.split()[0] not in only:
                continue
            old = {k: os.environ.get(k) for k in env or {}}
            os.environ.update(env or {})
            try:
                recorded[name] = record_native(command, stdout=subprocess.DEVNULL)
            except RecordError as e:
                print(f"{name}: {e}", file=sys.stderr)
            finally:
                for k, v in old.items():
                    os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    apps = (("lists", build_c, ["2000"], None), ("collections", build_rust, ["3000"], "run"))
    for name, build, args, invoke in apps:
        if only and name not in only:
            continue
        try:
            path = build(work)
            recorded[name] = record_wasm(path, args, invoke,
                                         stdout=os.path.join(work, f"{name}.out"))
        except (ToolchainMissing, RecordError, ValueError) as e:
            print(f"{name}: skipped: {e}", file=sys.stderr)
    return recorded


def table(rows):
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                       for i, (c, w) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="comma-separated workload names (sort, gcc, python, "
                                   "lists, collections)")
    ap.add_argument("--keep", help="directory to write the recorded traces to")
    args = ap.parse_args()
    only = set(args.only.split(",")) if args.only else None
    with tempfile.TemporaryDirectory(prefix="pyfrag-corpus-") as work:
        recorded = record_all(work, only)
    if not recorded:
        print("nothing could be recorded here", file=sys.stderr)
        return 1
    rows = [("workload", "events", "peak live", "recorded in", "verify")]
    for name, r in recorded.items():
        check = "-"
        if r.trace.recorded is not None:
            v = verify(r.trace)
            check = (f"identical on {v.allocator}" if v.identical
                     else f"differs at event {v.index} on {v.allocator}")
        rows.append((name, len(r.trace), human(r.peak_live()), f"{r.seconds:.1f} s", check))
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
            dump(r.trace, os.path.join(args.keep, name.split()[0] + ".trace"), "pyfrag")
    print(table(rows))
    print(f"\npeak heap per model (every model starts with heap base "
          f"{COMPARE_START['heap_base']} in {COMPARE_START['initial_pages']} page)")
    rows = [("model",) + tuple(recorded)]
    for model in allocators.names():
        cells = []
        for r in recorded.values():
            run = r.trace.replay(model, **COMPARE_START)
            cells.append(human(run.metrics.peak_heap_bytes)
                         + (f" OOM@{run.oom.index}" if run.oom else ""))
        rows.append((model,) + tuple(cells))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

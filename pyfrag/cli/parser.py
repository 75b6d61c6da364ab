"""The command line's arguments: `build_parser() -> argparse.ArgumentParser`, each
command wired to its `cmd_<name>` in pyfrag.cli.commands, with the examples and exit codes
that --help prints.
"""

import argparse

from .. import scenarios
from ..metrics import AT_END, DISCARD_MODES
from .bench import FULL_EVENTS as FULL_BENCH_EVENTS, QUICK_EVENTS as QUICK_BENCH_EVENTS
from .commands import (BROKEN, MISMATCH, TRAPPED, cmd_bench, cmd_compare, cmd_convert, cmd_explain,
                       cmd_instrument, cmd_list, cmd_real, cmd_record, cmd_report, cmd_run,
                       cmd_sweep, scenario_params)

EXIT_CODES = f"""\
exit codes:
  0    ok
  {MISMATCH}    run --verify: the replay differs from the recording (the first event is printed)
  2    bad input (the message names the file, line and field), or a real module's call
       stopped past its time budget (real --call-budget)
  {TRAPPED}    real: the module trapped (the summary up to the trap, then the trap on stderr;
       a trap is never counted as an OOM)
  {BROKEN}    run --check: a model broke one of its invariants (a bug in pyfrag's model, not
       in the input: the event, the model and the invariant on stderr)
  130  interrupted (Ctrl-C)"""


def check_every(text):
    """An argparse type for --check's EVERY; the message says where a SOURCE it took went."""
    try:
        return positive(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"EVERY wants a whole number of events above 0, got {text!r} (put --check after "
            "SOURCE, or give it a number)") from None


def positive(text):
    """An argparse type: a whole number above 0."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"wants a whole number above 0, got {text!r}")
    return value


EXAMPLES = """\
examples:
  pyfrag list --scenarios                          models, scenarios and their parameters
  pyfrag run image-task --allocator dlmalloc       summary and the article's audit lines
  pyfrag run swiss-cheese -p rounds=500 -a wee-alloc
  pyfrag compare image-task                        every allocator, one table
  pyfrag explain image-task                        why it died, and what would have saved it
  pyfrag real swiss-cheese --module c-dlmalloc     the same on a real module (pyfrag[real])
  pyfrag real image-task -m mimalloc --maximum 256mib   in a smaller memory
  pyfrag convert trace.rep trace.jsonl             between trace formats
  pyfrag record -o t.trace -- sort /etc/services   a native program's allocations (valgrind)
  pyfrag record --wasm app.wasm -o app.trace       a WebAssembly app's, under wasmtime
  pyfrag instrument app.wasm -o app.recording.wasm a recording build, for web/recorder.js
  pyfrag run app.trace --verify                    a recording against its allocator's model
  pyfrag sweep churn image-task --allocators dlmalloc,buddy --limits 64mib,512mib \\
      --out results.csv --report results.html      a grid on Dask (pyfrag[sweep])
  pyfrag report results.csv                        a sweep's table as an HTML page
  pyfrag bench                                     simulated events per second

SOURCE is a scenario name, a trace file (.trace, .jsonl, .rep, valgrind log) or - (stdin).
A memory limit takes a unit: 512mib, 64kib, 2gib, 8192pages (a bare number is refused).

""" + EXIT_CODES


def build_parser():
    p = argparse.ArgumentParser(
        prog="pyfrag", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="pyfrag: a fragmentation lab for WebAssembly linear memory. A Wasm heap "
                    "cannot be compacted, so a module can fail malloc while most of its heap "
                    "is free; pyfrag replays allocation traces on simulated and real "
                    "allocators and shows when and why.",
        epilog=EXAMPLES)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    scenario_help = "scenarios and their parameters (-p KEY=VALUE):\n" + \
        "\n".join(f"  {name:14} -p {scenario_params(generator)}"
                  for name, generator in scenarios.SCENARIOS.items())

    def command(name, summary, **kw):
        return sub.add_parser(name, help=summary, description=summary,
                              formatter_class=argparse.RawDescriptionHelpFormatter, **kw)

    def add_source(sp, name="source"):
        sp.add_argument(name, metavar=name.upper(),
                        help="scenario name, trace file, or - (standard input)")
        sp.add_argument("--format", help="trace format: pyfrag, jsonl, rep or valgrind "
                                         "(default: detected from the content)")
        sp.add_argument("-p", "--param", action="append", metavar="KEY=VALUE",
                        help="scenario parameter, e.g. -p rounds=500 (see pyfrag list "
                             "--scenarios)")
        add_pid(sp)

    def add_pid(sp):
        sp.add_argument("--pid", type=int,
                        help="the process to read from a valgrind log of several")

    def add_replay_output(sp):
        sp.add_argument("--addresses", action="store_true",
                        help="print 'event address memory_bytes' per alloc/realloc instead")
        sp.add_argument("--stop-at-oom", action="store_true",
                        help="stop at the first failed request instead of replaying on")
        add_discard(sp)

    def add_discard(sp):
        sp.add_argument("--discard", choices=DISCARD_MODES, default=AT_END,
                        help="when memory.discard would give whole free pages back: at the "
                             "end (default) or as soon as they are free (samples the heap "
                             "over the run)")

    def add_maximum(sp):
        sp.add_argument("--maximum", metavar="LIMIT",
                        help="memory limit in place of the trace's own: 512mib, 64kib, 2gib, "
                             "8192pages, wasm32 (a bare number is refused: pages or bytes?)")

    def add_reset(sp):
        sp.add_argument("--reset-every", type=positive, metavar="N",
                        help="the reset pattern: every N events restart the instance and "
                             "allocate the live blocks again, packed")

    def add_start(sp):
        add_maximum(sp)
        sp.add_argument("--heap-base", type=int, metavar="BYTES",
                        help="address where the heap starts (default: the model's own)")
        sp.add_argument("--initial-pages", type=int, metavar="N",
                        help="64 KiB pages the memory starts with (default: the model's own)")

    r = command("run", "replay a scenario or trace on one allocator: summary and audit",
                epilog=scenario_help)
    add_source(r)
    add_start(r)
    r.add_argument("--like", metavar="MODULE",
                   help="start in a real module's state, with its model unless "
                        "--allocator names another")
    r.add_argument("-a", "--allocator",
                   help="allocator model (default: dlmalloc, or the --like module's model)")
    add_replay_output(r)
    add_reset(r)
    r.add_argument("--verify", action="store_true",
                   help="a recorded trace: replay it on the model started like the app and "
                        "report the first event whose address or memory size differs (exit 1)")
    r.add_argument("--check", nargs="?", const=1, type=check_every, metavar="EVERY",
                   help="check the invariants as the replay goes, as mimalloc's debug builds "
                        "do: the model's own check() (strategies check their parents too) "
                        "and that no live blocks overlap, after every EVERY events (default "
                        "1: each one) and at the end; a broken one stops the run naming the "
                        "event, the model and the invariant (exit %d). Each check walks the "
                        "whole heap: slow on long traces. Not under python -O, which strips "
                        "the checks" % BROKEN)
    r.set_defaults(func=cmd_run)

    rec = command("record", "record a program's or a WebAssembly app's allocations",
                  usage="pyfrag record [-o OUT] -- CMD ARGS...\n"
                        "       pyfrag record --wasm APP.wasm [--invoke EXPORT] "
                        "[-o OUT] [-- ARGS...]")
    rec.add_argument("-o", "--output", help="trace file to write (default: NAME.trace)")
    rec.add_argument("--wasm", metavar="APP.wasm",
                     help="instrument this app and run it with WASI under wasmtime")
    rec.add_argument("--invoke", metavar="EXPORT",
                     help="call this export (integer ARGS) instead of the command's _start")
    rec.add_argument("--heap-base", type=int,
                     help="the app's __heap_base, when the module does not tell")
    rec.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD ARGS",
                     help="the native command, or the app's arguments")
    rec.set_defaults(func=cmd_record)

    ins = command("instrument", "make a recording build of a WebAssembly app")
    ins.add_argument("wasm", metavar="APP.wasm", help="the app to instrument")
    ins.add_argument("-o", "--output", help="default: APP.recording.wasm")
    ins.set_defaults(func=cmd_instrument)

    rl = command("real", "replay on a real WebAssembly module (needs pyfrag[real])",
                 epilog="modules: pyfrag list")
    add_source(rl)
    rl.add_argument("-m", "--module", required=True,
                    help="module name from the manifest, or a .wasm file (it exports "
                         "memory, malloc, free, realloc and live_bytes; aligned_alloc and "
                         "__heap_base if it has them)")
    add_maximum(rl)
    add_replay_output(rl)
    add_reset(rl)
    beside = rl.add_mutually_exclusive_group()
    beside.add_argument("--model", action="store_const", const=True, default="failures",
                        help="replay the module's model beside it over the whole run, for "
                             "its free blocks, overhead and discard figures (by default the "
                             "model only judges failed requests, when there are any)")
    beside.add_argument("--no-model", dest="model", action="store_const", const=False,
                        help="leave the model out: failed requests are judged by "
                             "heap - live")
    rl.add_argument("--call-budget", type=float, metavar="SECONDS",
                    help="how long one call into the module may run before it is "
                         "stopped (default 5)")
    rl.set_defaults(func=cmd_real)

    x = command("explain", "why the heap died, and what would have saved it",
                epilog="the verdict and the ideal; why each memory.grow happened (forced or the "
                       "allocator's policy); which blocks pin the holes, by tag and size class; "
                       "fixes derived from their lifetimes, each replayed on the model and on "
                       "the real module, best first")
    add_source(x)
    x.add_argument("-m", "--module",
                   help="real module to explain on (default: the one a recording was made "
                        "with, else c-dlmalloc); the model starts like it")
    x.add_argument("-a", "--allocator", help="a model alone, without a real module")
    add_maximum(x)
    x.add_argument("--no-real", action="store_true",
                   help="replay the fixes on the model only")
    x.set_defaults(func=cmd_explain)

    c = command("compare", "one trace on many allocators: one table")
    add_source(c)
    add_start(c)
    # not offered: compare compares many models; kept only to say so (use run --like)
    c.add_argument("--like", help=argparse.SUPPRESS)
    c.add_argument("--allocators", help="comma-separated models (default: all)")
    add_discard(c)
    c.set_defaults(func=cmd_compare)

    v = command("convert", "convert a trace between formats")
    v.add_argument("input", help="trace file, scenario name, or - (standard input)")
    v.add_argument("output", help="file to write; its extension picks the format unless "
                                  "--to names one (.trace/.txt, .jsonl/.json, .rep); "
                                  "- writes standard output (pyfrag format unless --to)")
    v.add_argument("--from", dest="from_format", metavar="FORMAT",
                   help="input format: pyfrag, jsonl, rep or valgrind (default: detected)")
    v.add_argument("--to", dest="to_format", metavar="FORMAT",
                   help="output format: pyfrag, jsonl or rep (default: by extension)")
    v.add_argument("-p", "--param", action="append", metavar="KEY=VALUE",
                   help="scenario parameter when INPUT is a scenario")
    add_pid(v)
    v.set_defaults(func=cmd_convert)

    ls = command("list", "allocators, scenarios and real modules")
    ls.add_argument("--scenarios", action="store_true",
                    help="only the scenarios, with every parameter and its default")
    ls.set_defaults(func=cmd_list)

    sw = command("sweep", "traces x allocators x limits on Dask: one table (pyfrag[sweep])",
                 epilog=scenario_help)
    sw.add_argument("sources", nargs="+", metavar="TRACE_OR_SCENARIO",
                    help="scenario names and trace files")
    sw.add_argument("--allocators", help="comma-separated models, strategy:parent names "
                                         "too, e.g. dlmalloc,arena:dlmalloc (default: all)")
    sw.add_argument("--limits", required=True,
                    help="comma-separated memory limits, e.g. 256mib,512mib,2gib")
    sw.add_argument("--out", required=True,
                    help="results table, .csv or .parquet; rows already there are kept "
                         "and their cells skipped")
    sw.add_argument("-p", "--param", action="append", metavar="KEY=VALUE[,VALUE...]",
                    help="scenario parameter values to sweep, e.g. -p seed=1,2,3")
    sw.add_argument("--scheduler", metavar="ADDRESS",
                    help="an existing Dask scheduler (default: a local cluster)")
    sw.add_argument("--workers", type=int,
                    help="worker processes of the local cluster (default: one per core)")
    sw.add_argument("--report", metavar="HTML",
                    help="also write the whole table as an HTML page with charts")
    sw.set_defaults(func=cmd_sweep)

    rp = command("report", "a sweep's table as an HTML page with charts")
    rp.add_argument("table", help="results of pyfrag sweep: .csv or .parquet")
    rp.add_argument("-o", "--out", metavar="HTML",
                    help="where to write the page (default: TABLE with .html)")
    rp.set_defaults(func=cmd_report)

    b = command("bench", "simulated events per second and memory per allocator")
    b.add_argument("--full", action="store_true",
                   help=f"the full run: {FULL_BENCH_EVENTS:,} events, as README reports "
                        f"({FULL_BENCH_EVENTS // QUICK_BENCH_EVENTS}x the default run; bench "
                        "first says how long it will take on this machine)")
    b.add_argument("--events", type=int,
                   help=f"events in the random trace (default: {QUICK_BENCH_EVENTS:,}; "
                        f"with --full {FULL_BENCH_EVENTS:,})")
    b.add_argument("--seed", type=int, default=1, help="seed of the random trace")
    b.add_argument("--allocators", help="comma-separated models (default: all)")
    b.set_defaults(func=cmd_bench)
    return p



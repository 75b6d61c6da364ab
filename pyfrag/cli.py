"""`python -m pyfrag`: the command line.

Main entry point: `main(argv)`. Commands:

    run SOURCE      replay a scenario or a trace file on one allocator: summary + audit
    compare SOURCE  the same trace on many allocators: one table
    explain SOURCE  why the heap died (or grew), and what would have saved it
    real SOURCE     replay on a real WebAssembly module (needs the wasmtime extra)
    convert IN OUT  between trace formats
    record          record a native program (valgrind) or a WebAssembly app (wasmtime)
    instrument      wrap a WebAssembly app's allocator so every call reports to a hook
    list            allocators, scenarios (--scenarios: with parameters), real modules
    sweep SOURCE... traces x allocators x limits on Dask (pyfrag.sweep*): one table
    report TABLE    a sweep's table as an HTML page
    bench           simulated events per second per allocator (--full: the long run)

SOURCE is a scenario name (`pyfrag list`), a trace file in any format pyfrag
reads, or - for standard input. Exit codes: EXIT_CODES below (--help prints them).
"""

import argparse
import importlib.util
import inspect
import os
import sys

from . import allocators, scenarios
from .bench import FULL_EVENTS as FULL_BENCH_EVENTS, QUICK_EVENTS as QUICK_BENCH_EVENTS
from .memory import describe_limit, user_limit
from .metrics import AT_END, DISCARD_MODES, ON_FREE
from .modules import UnknownModule, manifest
from .report import TABLE_NOTE, plural, summary, table
from .trace import TraceError, detect, dump, load
from .trace.formats import _EXTENSIONS


class UsageError(ValueError):
    pass


MISMATCH = 1        # exit code of `run --verify` when the replay differs from the recording
TRAPPED = 3         # exit code of `real` when the module trapped
EXIT_CODES = f"""\
exit codes:
  0    ok
  {MISMATCH}    run --verify: the replay differs from the recording (the first event is printed)
  2    bad input (the message names the file, line and field), or a real module's call
       stopped past its time budget (real --call-budget)
  {TRAPPED}    real: the module trapped (the summary up to the trap, then the trap on stderr;
       a trap is never counted as an OOM)
  130  interrupted (Ctrl-C)"""


# -- inputs ----------------------------------------------------------------

def param_item(item, form="key=value"):
    """(key, text) of one -p option."""
    key, sep, text = item.partition("=")
    if not sep or not key:
        raise UsageError(f"-p wants {form}, got {item!r}")
    return key.replace("-", "_"), text


def param_value(text):
    """A -p value: an int where it looks like one, else a float, else the text."""
    for kind in (lambda t: int(t, 0), float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def positive(text):
    """An argparse type: a whole number above 0."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"wants a whole number above 0, got {text!r}")
    return value


def parse_params(items):
    """`-p key=value` options for scenario generators."""
    params = {}
    for item in items or ():
        key, text = param_item(item)
        params[key] = param_value(text)
    return params


def source_trace(source, fmt=None, params=None, pid=None):
    if source == "-":                       # standard input, read once as it comes
        source = "/dev/stdin"
    if os.path.exists(source):
        if params:
            raise UsageError("-p options apply to scenarios, not to trace files")
        return load(source, fmt, pid)
    if pid is not None:
        raise UsageError("--pid picks a process of a valgrind log, not of a scenario")
    if source.replace("_", "-").lower() in scenarios.names():
        generator = scenarios.SCENARIOS[source.replace("_", "-").lower()]
        return generator(**checked_params(source, generator, params or {}))
    if os.sep in source or os.path.splitext(source)[1]:
        raise TraceError("no such file", source)
    raise UsageError(f"{source!r} is neither a trace file nor a scenario "
                     f"(scenarios: {', '.join(scenarios.names())})")


def checked_params(scenario, generator, params):
    """`params` checked against the generator's signature: known names, the type of
    each default (an int parameter takes an int), no negative counts or sizes."""
    signature = inspect.signature(generator).parameters
    for key, value in params.items():
        if key not in signature:
            raise UsageError(f"scenario {scenario} has no parameter {key!r} "
                             f"(it takes: {', '.join(signature)})")
        default = signature[key].default
        if not settable(default):
            raise UsageError(f"-p {key}={value}: {key} is {default!r} and cannot be set "
                             "with -p")
        if isinstance(default, (int, float)) and not isinstance(value, (int, float)):
            raise UsageError(f"-p {key}={value}: {key} takes a number")
        if isinstance(default, int) and not isinstance(value, int):
            raise UsageError(f"-p {key}={value}: {key} takes an integer")
        if isinstance(value, (int, float)) and value < 0:
            raise UsageError(f"-p {key}={value}: {key} must be >= 0")
        if key in scenarios.LIMIT_PARAMS:
            user_limit(str(value), f"-p {key}={value}")
    return params


def progress_printer(label):
    """A progress callback drawing on a terminal; None when stderr is not one."""
    if not sys.stderr.isatty():
        return None

    def show(done, total):
        if total >= 200_000:
            end = "\n" if done == total else ""
            print(f"\r{label}: {done * 100 // total:3d}% of {total} events", end=end,
                  file=sys.stderr, flush=True)
    return show


def heap_options(args):
    options = {}
    for key in ("heap_base", "initial_pages"):
        if getattr(args, key, None) is not None:
            options[key] = getattr(args, key)
    if getattr(args, "maximum", None):
        options["maximum"] = user_limit(args.maximum, f"--maximum {args.maximum}")
    if getattr(args, "like", None):
        options["like"] = args.like
    return options


# -- commands --------------------------------------------------------------

def cmd_run(args):
    trace = source_trace(args.source, args.format, parse_params(args.param), args.pid)
    if args.verify:
        from .verify import verify
        if args.like or args.maximum:
            raise UsageError("--verify starts the model like the recorded app; "
                             "--like and --maximum do not apply")
        verdict = verify(trace, args.allocator, heap_base=args.heap_base,
                         initial_pages=args.initial_pages)
        print(verdict.describe())
        return 0 if verdict.identical else MISMATCH
    if args.reset_every is not None:
        from .strategies import periodic_reset
        run = periodic_reset(trace, args.allocator, every=args.reset_every,
                             discard=args.discard, **heap_options(args))
    else:
        run = trace.replay(args.allocator, stop_at_oom=args.stop_at_oom,
                           progress=progress_printer(f"replaying on {args.allocator or args.like}"),
                           discard=args.discard, **heap_options(args))
    print("\n".join(run.address_lines()) if args.addresses else summary(run))


def cmd_real(args):
    from .real import RealModuleError, replay_real
    trace = source_trace(args.source, args.format, parse_params(args.param), args.pid)
    if args.call_budget is not None and not args.call_budget > 0:
        raise UsageError(f"--call-budget must be a number of seconds > 0, got {args.call_budget}")
    maximum = user_limit(args.maximum, f"--maximum {args.maximum}") if args.maximum else None
    try:
        run = replay_real(trace, args.module, stop_at_oom=args.stop_at_oom,
                          reset_every=args.reset_every,
                          progress=progress_printer(f"replaying on {args.module}"),
                          discard=args.discard, call_budget=args.call_budget,
                          model=args.model, maximum=maximum)
    except RealModuleError as e:
        raise UsageError(str(e)) from None
    if run.trap and run.trap.timeout:
        raise UsageError(f"module {run.allocator}: {run.trap.describe()}; the replay "
                         "stopped there")
    print("\n".join(run.address_lines()) if args.addresses else summary(run))
    if run.trap:
        # a trap is no OOM and no bad input: the module itself failed
        print(f"pyfrag real: module {run.allocator}: {run.trap.describe()}; the replay "
              "ended there", file=sys.stderr)
        return TRAPPED


# extensions `convert` picks an output format by (the valgrind log is read-only)
WRITABLE = [ext for ext, fmt in _EXTENSIONS.items() if fmt != "valgrind"]

# Every allocator of a comparison starts from the same state, so differences in
# the table come from the allocators, not from the modules they were built into.
COMPARE_START = {"heap_base": 1024, "initial_pages": 1}


def cmd_explain(args):
    from .explain import explain
    trace = source_trace(args.source, args.format, parse_params(args.param), args.pid)
    maximum = user_limit(args.maximum, f"--maximum {args.maximum}") if args.maximum else None
    if args.allocator and args.module:
        raise UsageError("explain looks at one allocator: --module (its model, and the module "
                         "itself for the fixes) or --allocator (a model alone), not both")
    module = None if args.allocator else args.module or recorded_module(trace) or "c-dlmalloc"
    options = {} if maximum is None else {"maximum": maximum}
    try:
        e = explain(trace, module, args.allocator, real=not args.no_real, **options)
    except ImportError:
        raise UsageError("replaying the fixes on the real module needs pyfrag[real] "
                         "(or --no-real)") from None
    print(e.describe())


def recorded_module(trace):
    """The real module whose model a recording was made with, if one is in the manifest."""
    allocator = trace.recorded and trace.recorded.allocator
    return next((m["name"] for m in manifest() if m.get("model") == allocator), None) \
        if allocator else None


def cmd_compare(args):
    if args.like:
        raise UsageError("compare replays many allocators; --like picks one (use run --like)")
    trace = source_trace(args.source, args.format, parse_params(args.param), args.pid)
    names = args.allocators.split(",") if args.allocators else allocators.names()
    options = {**COMPARE_START, **heap_options(args)}
    runs = [trace.replay(name.strip(), progress=progress_printer(f"replaying on {name}"),
                         discard=args.discard, **options) for name in names]
    print(f"{trace.name}: {len(trace)} events" +
          (f" ({trace.description})" if trace.description else ""))
    print(f"every allocator starts with heap base {options['heap_base']} in "
          f"{plural(options['initial_pages'], 'page')}, limit "
          f"{describe_limit(runs[0].maximum_bytes)}" if runs else "no allocator to compare")
    print(table(runs))
    print(f"figures: {TABLE_NOTE}; overhead: heap - heap base - live - free (headers, "
          "padding, lost cells); resident: the heap left if whole free pages were given "
          "back with memory.discard, "
          + ("its peak with every free page discarded as it appears" if args.discard == ON_FREE
             else "once, at the end")
          + " (the address space does not shrink)")
    from .recommend import describe, recommend
    print()
    print(describe(recommend(trace, runs, **options),
                   recorded=trace.recorded and trace.recorded.allocator))
    print(saved_by(trace, args.source))


def saved_by(trace, source):
    """explain's answer for the trace on its module (pyfrag.explain), in one line: a fix of the
    app itself, where the recommendation changes the allocator or restarts it."""
    from .explain import explain
    module = recorded_module(trace) or "c-dlmalloc"
    try:
        e = explain(trace, module)
    except ImportError:                       # no wasmtime: the fixes are the model's
        e = explain(trace, module, real=False)
    base = next(f for f in e.fixes if f.kind == "none")
    head = f"what the app itself could change, on {module} (pyfrag explain {source} -m {module})"
    if e.best.kind == "none":
        return f"{head}: nothing does better than the trace as it is"
    return f"{head}: {e.best.sentence(base)}"


def cmd_record(args):
    from .record import record_native, record_wasm
    command = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if args.wasm:
        recorded = record_wasm(args.wasm, command, args.invoke, heap_base=args.heap_base)
        default = os.path.splitext(os.path.basename(args.wasm))[0] + ".trace"
    else:
        if args.invoke or args.heap_base is not None:
            raise UsageError("--invoke and --heap-base apply to --wasm recordings")
        recorded = record_native(command)
        default = os.path.basename(command[0]) + ".trace"
    out = args.output or default
    dump(recorded.trace, out, "pyfrag")
    print(recorded.summary(out), file=sys.stderr)


def cmd_instrument(args):
    from .instrument import instrument
    with open(args.wasm, "rb") as f:
        result = instrument(f.read(), args.wasm)
    out = args.output or os.path.splitext(args.wasm)[0] + ".recording.wasm"
    with open(out, "wb") as f:
        f.write(result.data)
    print(result.describe(), file=sys.stderr)
    print(f"wrote {out} ({len(result.data)} bytes); it imports pyfrag.record(op, a, b, c, "
          "result, pages)", file=sys.stderr)


def cmd_convert(args):
    stdout = args.output == "-"
    if not args.to_format and not stdout:
        ext = os.path.splitext(args.output)[1].lower()
        if ext not in WRITABLE:
            what = (f"{_EXTENSIONS[ext]} files ({ext}) can be read but not written"
                    if ext in _EXTENSIONS else f"unknown trace file extension {ext or '(none)'!r}")
            raise UsageError(f"{args.output}: {what}; use {', '.join(WRITABLE)}, or name a "
                             "format with --to")
    trace = source_trace(args.input, args.from_format, parse_params(args.param), args.pid)
    dump(trace, args.output, args.to_format or (stdout and "pyfrag") or None)
    print(f"wrote {len(trace)} events to {'standard output' if stdout else args.output}",
          file=sys.stderr)
    if (trace.aligns or trace.tags) and (args.to_format or args.output).endswith("rep"):
        print(f"note: the rep format has no alignments or tags; {len(trace.aligns)} "
              f"alignments and {len(trace.tags)} tags were left out", file=sys.stderr)
    if trace.recorded is not None and (args.to_format or detect("", args.output)) != "pyfrag":
        print("note: only the pyfrag format keeps a recording's addresses, memory sizes and "
              "start state (run --verify needs them)", file=sys.stderr)


def cmd_list(args):
    if args.scenarios:
        for name, generator in scenarios.SCENARIOS.items():
            print(f"{name}\n  {scenario_doc(generator)}\n  -p {scenario_params(generator)}")
        return
    print("allocators:")
    for name in allocators.names():
        cls = allocators.get(name)
        exact = f"  [address-exact: {cls.exact}]" if cls.exact else ""
        print(f"  {name:22} {cls.summary}{exact}")
    print("scenarios (their parameters: pyfrag list --scenarios):")
    for name, generator in scenarios.SCENARIOS.items():
        print(f"  {name:22} {scenario_doc(generator)}")
    print("real modules:")
    try:
        entries = manifest()
    except FileNotFoundError as e:
        print(f"  none listed: {e}")
        return
    if importlib.util.find_spec("wasmtime") is None:
        print("  (replaying them needs wasmtime, which is not installed: "
              "pip install 'pyfrag[real]')")
    for e in entries:
        print(f"  {e['name']:22} {e['allocator']} ({e['language']}, {e['bytes']} bytes)"
              + (f"  model: {e['model']}" if e.get("model") else ""))


def cmd_sweep(args):
    from .sweep import expand_params, grid
    from .sweep_run import run
    from .sweep_table import read, table_format
    table_format(args.out)
    if args.report:
        html_path(args.report)
    names = [n.strip() for n in args.allocators.split(",") if n.strip()] \
        if args.allocators else allocators.names()
    limits = [n.strip() for n in args.limits.split(",") if n.strip()]
    cells = grid(args.sources, names, limits, expand_params(args.param))
    ran, skipped = run(cells, args.out, scheduler=args.scheduler, workers=args.workers)
    rows = read(args.out)
    print(f"{args.out}: {len(rows)} rows; this sweep ran {ran} of its "
          f"{len(cells)} cells ({skipped} were there already)")
    if args.report:
        write_report(rows, args.report, args.out)


def html_path(path):
    if not path.lower().endswith((".html", ".htm")):
        raise UsageError(f"{path}: a report is an HTML page; give it a .html name")
    return path


def write_report(rows, path, source):
    from .sweep_report import write
    write(rows, path, source)
    print(f"{path}: report on {len(rows)} rows", file=sys.stderr)


def cmd_report(args):
    from .sweep_table import read, table_format
    table_format(args.table)
    if not os.path.exists(args.table):
        raise UsageError(f"{args.table}: no such file")
    rows = read(args.table)
    if not rows:
        raise UsageError(f"{args.table}: no rows in it")
    write_report(rows, html_path(args.out or os.path.splitext(args.table)[0] + ".html"),
                 args.table)


def cmd_bench(args):
    from .bench import main as bench_main
    bench_main(args.events, args.allocators.split(",") if args.allocators else None,
               args.seed, full=args.full)


# -- wiring ----------------------------------------------------------------

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


def scenario_doc(generator):
    return " ".join((generator.__doc__ or "").split("\n\n")[0].split())


def scenario_params(generator):
    """`key=default ...` for every parameter of a scenario generator that -p can set."""
    return " ".join(f"{key}={param.default}"
                    for key, param in inspect.signature(generator).parameters.items()
                    if settable(param.default))


def settable(default):
    """-p gives numbers and text, so only parameters with such defaults take it."""
    return isinstance(default, (int, float, str))


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


def main(argv=None):
    args = build_parser().parse_args(argv)
    from .instrument import InstrumentError
    from .record import RecordError
    from .verify import NotRecorded
    try:
        status = args.func(args)
    except (TraceError, UsageError, UnknownModule, allocators.UnknownAllocator,
            InstrumentError, RecordError, NotRecorded,
            FileNotFoundError, ImportError, ValueError) as e:
        if isinstance(e, FileNotFoundError) and e.filename:
            e = f"{e.filename}: no such file or directory"      # not "[Errno 2] ..."
        print(f"pyfrag {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pyfrag {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        sys.stderr.close()       # `pyfrag run ... | head` is fine
    else:
        return status or 0
    return 0

"""What each command of `python -m pyfrag` does: `cmd_<name>(args)` takes the parsed
arguments (pyfrag.cli.parser) and prints; it returns an exit code, or None for 0, and raises
`UsageError` for bad input.
"""

import importlib.util
import inspect
import os
import sys

from .. import allocators, scenarios
from ..memory import describe_limit, user_limit
from ..metrics import ON_FREE
from ..modules import manifest
from ..report import TABLE_NOTE, plural, summary, table
from ..sources import COMPARE_START, UsageError, parse_params, settable, source_trace
from ..trace import detect, dump
from ..trace.formats import EXTENSIONS

MISMATCH = 1        # exit code of `run --verify` when the replay differs from the recording
TRAPPED = 3         # exit code of `real` when the module trapped
BROKEN = 4          # exit code of `run --check` when a model broke one of its invariants


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
    from ..replay import InvariantBroken
    trace = source_trace(args.source, args.format, parse_params(args.param), args.pid)
    try:
        return replay_run(trace, args)
    except InvariantBroken as e:
        # a bug in the model, not in the input: the event, the model and the invariant
        print(f"pyfrag run: {e}", file=sys.stderr)
        return BROKEN


def replay_run(trace, args):
    if args.verify:
        from ..record.verify import verify
        if args.like or args.maximum:
            raise UsageError("--verify starts the model like the recorded app; "
                             "--like and --maximum do not apply")
        verdict = verify(trace, args.allocator, check=args.check, heap_base=args.heap_base,
                         initial_pages=args.initial_pages)
        print(verdict.describe())
        held(verdict.allocator, verdict.checks, args.check)
        return 0 if verdict.identical else MISMATCH
    if args.reset_every is not None:
        from ..strategies import periodic_reset
        run = periodic_reset(trace, args.allocator, every=args.reset_every,
                             discard=args.discard, check=args.check, **heap_options(args))
    else:
        run = trace.replay(args.allocator, stop_at_oom=args.stop_at_oom,
                           progress=progress_printer(f"replaying on {args.allocator or args.like}"),
                           discard=args.discard, check=args.check, **heap_options(args))
    print("\n".join(run.address_lines()) if args.addresses else summary(run))
    held(run.allocator, run.checks, args.check)


def held(allocator, checks, every):
    """run --check's word on stderr that the checks ran, and passed (stdout stays the run's)."""
    if checks is not None:
        every = "every event" if every == 1 else f"every {every} events"
        print(f"pyfrag run: {allocator} held its invariants at all {checks} checks "
              f"({every} and at the end)", file=sys.stderr)


def cmd_real(args):
    from ..real import RealModuleError, replay_real
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
WRITABLE = [ext for ext, fmt in EXTENSIONS.items() if fmt != "valgrind"]

def cmd_explain(args):
    from ..explain import explain
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
    from ..explain.recommend import describe, recommend
    print()
    print(describe(recommend(trace, runs, **options),
                   recorded=trace.recorded and trace.recorded.allocator))
    print(saved_by(trace, args.source))


def saved_by(trace, source):
    """explain's answer for the trace on its module (pyfrag.explain), in one line: a fix of the
    app itself, where the recommendation changes the allocator or restarts it."""
    from ..explain import explain
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
    from ..record import record_native, record_wasm
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
    from ..record.instrument import instrument
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
            what = (f"{EXTENSIONS[ext]} files ({ext}) can be read but not written"
                    if ext in EXTENSIONS else f"unknown trace file extension {ext or '(none)'!r}")
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
    from ..sweep.grid import expand_params, grid
    from ..sweep.cluster import run
    from ..sweep.table import read, table_format
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
    from ..sweep.report import write
    write(rows, path, source)
    print(f"{path}: report on {len(rows)} rows", file=sys.stderr)


def cmd_report(args):
    from ..sweep.table import read, table_format
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


def scenario_doc(generator):
    return " ".join((generator.__doc__ or "").split("\n\n")[0].split())


def scenario_params(generator):
    """`key=default ...` for every parameter of a scenario generator that -p can set."""
    return " ".join(f"{key}={param.default}"
                    for key, param in inspect.signature(generator).parameters.items()
                    if settable(param.default))

"""`python -m pyfrag`: the command line.

Main entry point: `main(argv)`. Commands:

    run SOURCE      replay a scenario or a trace file on one allocator: summary + audit
    compare SOURCE  the same trace on many allocators: one table
    real SOURCE     replay on a real WebAssembly module (needs the wasmtime extra)
    convert IN OUT  between trace formats
    record          record a native program (valgrind) or a WebAssembly app (wasmtime)
    instrument      wrap a WebAssembly app's allocator so every call reports to a hook
    list            allocators, scenarios, real modules
    bench           simulated events per second per allocator

SOURCE is a scenario name (`pyfrag list`) or a trace file in any format pyfrag
reads. Exit codes: 0 ok, 2 bad input (the message goes to stderr).
"""

import argparse
import inspect
import os
import sys

from . import allocators, scenarios
from .modules import UnknownModule
from .report import summary, table
from .trace import TraceError, detect, dump, load


class UsageError(ValueError):
    pass


# -- inputs ----------------------------------------------------------------

def parse_params(items):
    """`-p key=value` options for scenario generators (ints where they look like ints)."""
    params = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"-p wants key=value, got {item!r}")
        try:
            params[key.replace("-", "_")] = int(value, 0)
        except ValueError:
            try:
                params[key.replace("-", "_")] = float(value)
            except ValueError:
                params[key.replace("-", "_")] = value
    return params


def source_trace(source, fmt=None, params=None):
    if os.path.exists(source):
        if params:
            raise UsageError("-p options apply to scenarios, not to trace files")
        return load(source, fmt)
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
        if isinstance(default, (int, float)) and not isinstance(value, (int, float)):
            raise UsageError(f"-p {key}={value}: {key} takes a number")
        if isinstance(default, int) and not isinstance(value, int):
            raise UsageError(f"-p {key}={value}: {key} takes an integer")
        if isinstance(value, (int, float)) and value < 0:
            raise UsageError(f"-p {key}={value}: {key} must be >= 0")
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
        options["maximum"] = args.maximum
    if getattr(args, "like", None):
        options["like"] = args.like
    return options


# -- commands --------------------------------------------------------------

def cmd_run(args):
    trace = source_trace(args.source, args.format, parse_params(args.param))
    if args.verify:
        from .verify import verify
        if args.like or args.maximum:
            raise UsageError("--verify starts the model like the recorded app; "
                             "--like and --maximum do not apply")
        verdict = verify(trace, args.allocator, heap_base=args.heap_base,
                         initial_pages=args.initial_pages)
        print(verdict.describe())
        return 0 if verdict.identical else 1
    run = trace.replay(args.allocator, stop_at_oom=args.stop_at_oom,
                       progress=progress_printer(f"replaying on {args.allocator or args.like}"),
                       **heap_options(args))
    print("\n".join(run.address_lines()) if args.addresses else summary(run))


def cmd_real(args):
    from .real import RealModuleError, replay_real
    trace = source_trace(args.source, args.format, parse_params(args.param))
    try:
        run = replay_real(trace, args.module, stop_at_oom=args.stop_at_oom,
                          progress=progress_printer(f"replaying on {args.module}"))
    except RealModuleError as e:
        raise UsageError(str(e)) from None
    print("\n".join(run.address_lines()) if args.addresses else summary(run))


# Every allocator of a comparison starts from the same state, so differences in
# the table come from the allocators, not from the modules they were built into.
COMPARE_START = {"heap_base": 1024, "initial_pages": 1}


def cmd_compare(args):
    if args.like:
        raise UsageError("compare replays many allocators; --like picks one (use run --like)")
    trace = source_trace(args.source, args.format, parse_params(args.param))
    names = args.allocators.split(",") if args.allocators else allocators.names()
    options = {**COMPARE_START, **heap_options(args)}
    runs = [trace.replay(name.strip(), progress=progress_printer(f"replaying on {name}"),
                         **options) for name in names]
    print(f"{trace.name}: {len(trace)} events" +
          (f" ({trace.description})" if trace.description else ""))
    print(f"every allocator starts with heap base {options['heap_base']} in "
          f"{options['initial_pages']} page(s)")
    print(table(runs))
    from .recommend import describe, recommend
    print()
    print(describe(recommend(trace, runs, **options),
                   recorded=trace.recorded and trace.recorded.allocator))


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
    trace = source_trace(args.input, args.from_format, parse_params(args.param))
    dump(trace, args.output, args.to_format)
    print(f"wrote {len(trace)} events to {args.output}", file=sys.stderr)
    if (trace.aligns or trace.tags) and (args.to_format or args.output).endswith("rep"):
        print(f"note: the rep format has no alignments or tags; {len(trace.aligns)} "
              f"alignments and {len(trace.tags)} tags were left out", file=sys.stderr)
    if trace.recorded is not None and (args.to_format or detect("", args.output)) != "pyfrag":
        print("note: only the pyfrag format keeps a recording's addresses, memory sizes and "
              "start state (run --verify needs them)", file=sys.stderr)


def cmd_list(args):
    print("allocators:")
    for name in allocators.names():
        cls = allocators.get(name)
        exact = f"  [address-exact: {cls.exact}]" if cls.exact else ""
        print(f"  {name:22} {cls.summary}{exact}")
    print("scenarios:")
    for name in scenarios.names():
        doc = " ".join((scenarios.SCENARIOS[name].__doc__ or "").split("\n\n")[0].split())
        print(f"  {name:22} {doc}")
    try:
        from .modules import manifest
        entries = manifest()
    except FileNotFoundError:
        entries = []
    if entries:
        print("real modules:")
        for e in entries:
            print(f"  {e['name']:22} {e['allocator']} ({e['language']}, {e['bytes']} bytes)"
                  + (f"  model: {e['model']}" if e.get("model") else ""))


def cmd_bench(args):
    from .bench import main as bench_main
    bench_main(args.events, args.allocators.split(",") if args.allocators else None,
               args.seed)


# -- wiring ----------------------------------------------------------------

def build_parser():
    p = argparse.ArgumentParser(prog="pyfrag", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    def add_source(sp, name="source"):
        sp.add_argument(name, help="scenario name or trace file")
        sp.add_argument("--format", help="trace format (default: detected)")
        sp.add_argument("-p", "--param", action="append", metavar="KEY=VALUE",
                        help="scenario parameter, e.g. -p rounds=500")

    def add_heap(sp):
        sp.add_argument("--maximum", help="memory limit: pages, 2gib, 4gib, 512mib ...")
        sp.add_argument("--heap-base", type=int)
        sp.add_argument("--initial-pages", type=int)
        sp.add_argument("--like", metavar="MODULE",
                        help="start in a real module's state, with its model unless "
                             "--allocator names another")

    r = sub.add_parser("run", help="replay on one allocator")
    add_source(r)
    add_heap(r)
    r.add_argument("-a", "--allocator",
                   help="allocator model (default: dlmalloc, or the --like module's model)")
    r.add_argument("--addresses", action="store_true",
                   help="print 'event address memory_bytes' per alloc/realloc instead")
    r.add_argument("--stop-at-oom", action="store_true")
    r.add_argument("--verify", action="store_true",
                   help="a recorded trace: replay it on the model started like the app and "
                        "report the first event whose address or memory size differs (exit 1)")
    r.set_defaults(func=cmd_run)

    rec = sub.add_parser("record", help="record a program's or a WebAssembly app's allocations",
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

    ins = sub.add_parser("instrument", help="make a recording build of a WebAssembly app")
    ins.add_argument("wasm", metavar="APP.wasm")
    ins.add_argument("-o", "--output", help="default: APP.recording.wasm")
    ins.set_defaults(func=cmd_instrument)

    rl = sub.add_parser("real", help="replay on a real WebAssembly module")
    add_source(rl)
    rl.add_argument("-m", "--module", required=True, help="module name from the manifest")
    rl.add_argument("--addresses", action="store_true")
    rl.add_argument("--stop-at-oom", action="store_true")
    rl.set_defaults(func=cmd_real)

    c = sub.add_parser("compare", help="one trace on many allocators")
    add_source(c)
    add_heap(c)
    c.add_argument("--allocators", help="comma-separated (default: all)")
    c.set_defaults(func=cmd_compare)

    v = sub.add_parser("convert", help="convert a trace between formats")
    v.add_argument("input", help="trace file or scenario name")
    v.add_argument("output")
    v.add_argument("--from", dest="from_format")
    v.add_argument("--to", dest="to_format", help="pyfrag, jsonl or rep (default: by extension)")
    v.add_argument("-p", "--param", action="append", metavar="KEY=VALUE")
    v.set_defaults(func=cmd_convert)

    ls = sub.add_parser("list", help="allocators, scenarios and real modules")
    ls.set_defaults(func=cmd_list)

    b = sub.add_parser("bench", help="events per second per allocator")
    b.add_argument("--events", type=int, default=1_000_000)
    b.add_argument("--seed", type=int, default=1)
    b.add_argument("--allocators", help="comma-separated (default: all)")
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
        print(f"pyfrag {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pyfrag {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        sys.stderr.close()       # `pyfrag run ... | head` is fine
    return status or 0

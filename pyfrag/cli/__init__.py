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

import sys

from .. import allocators
from ..modules import UnknownModule
from ..sources import UsageError
from ..trace import TraceError
from .parser import EXIT_CODES, build_parser

__all__ = ["EXIT_CODES", "build_parser", "main"]


def main(argv=None):
    args = build_parser().parse_args(argv)
    from ..record.instrument import InstrumentError
    from ..record import RecordError
    from ..record.verify import NotRecorded
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

"""Record the allocations of a real workload into a pyfrag trace.

Main entry points: `record_wasm(path, args, invoke)` (an app instrumented on
the fly, see pyfrag.record.instrument, run with WASI under wasmtime) and
`record_native(command)` (a native program under valgrind --trace-malloc=yes).
Both return a `Recorded`: the trace and the figures the CLI summarises.

The wasm route keeps what the app saw (`trace.recorded`: addresses returned,
memory size after each call, the module's start state and the allocator
guessed from its names), so `pyfrag run TRACE --verify` can replay it on the
model and compare. `TraceBuilder` turns hook calls into trace events; the
browser's web/recorder.js does the same in JavaScript and writes the same text.
"""

import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass

from ..memory import PAGE
from ..trace import ALLOC, FREE, REALLOC, Trace
from ..trace.recording import Recording

# Alignments up to this are what every wasm32 malloc gives anyway; only larger
# ones are kept in the trace (Rust passes its Layout's alignment on every call).
PLAIN_ALIGN = 8


class RecordError(ValueError):
    """A workload cannot be recorded; the message says why and what to do."""


@dataclass
class Recorded:
    trace: Trace
    seconds: float                 # wall time of the run (valgrind's overhead included)
    exit_code: int | None = None   # the program's, or None for an --invoke
    returned: object = None        # what an --invoke returned
    found: str = ""                # what instrumentation found (wasm only)
    native: bool = False
    threads: dict | None = None    # native: thread id -> allocator calls

    def peak_live(self):
        """Most bytes requested and not yet freed at any point of the trace."""
        live, sizes, peak = 0, {}, 0
        for op, id, size in zip(self.trace.ops, self.trace.ids, self.trace.sizes):
            if op == FREE:
                live -= sizes.pop(id, 0)
            else:
                live += size - sizes.get(id, 0)
                sizes[id] = size
            peak = max(peak, live)
        return peak

    def summary(self, out):
        c = self.trace.counts()
        lines = [f"recorded {len(self.trace)} events ({c['alloc']} allocs, {c['free']} frees, "
                 f"{c['realloc']} reallocs) in {self.seconds:.2f} s; "
                 f"peak live {self.peak_live()} bytes",
                 f"wrote {out}"]
        if self.found:
            lines.insert(0, self.found)
        if self.native:
            lines.append("child processes were not followed (valgrind --trace-children=no)")
        if self.threads and len(self.threads) > 1:
            lines.append(
                f"{len(self.threads)} threads made allocator calls ("
                + ", ".join(f"thread {t}: {n}" for t, n in sorted(self.threads.items(),
                                                                   key=lambda x: int(x[0])))
                + "); they share the process's heap, so the trace keeps their calls in one "
                "sequence, in the order valgrind ran them (one thread at a time)")
        if self.exit_code:
            lines.append(f"note: the program exited with status {self.exit_code}")
        if self.returned is not None:
            lines.append(f"returned: {self.returned}")
        return "\n".join(lines)


class TraceBuilder:
    """Hook calls (op, a, b, c, result, pages) -> trace events with what the app saw.

    Addresses become block ids; a free of NULL is no event; a failed realloc
    keeps its block, and realloc(NULL, n) is an alloc."""

    def __init__(self, trace, recording):
        self.trace, self.recording = trace, recording
        self.live = {}           # address -> block id
        self.next_id = 0

    def _new_id(self):
        self.next_id += 1
        return self.next_id - 1

    def event(self, op, a, b, c, result, pages):
        a, b, c, result = a & 0xFFFFFFFF, b & 0xFFFFFFFF, c & 0xFFFFFFFF, result & 0xFFFFFFFF
        memory = (pages & 0xFFFFFFFF) * PAGE
        if op == REALLOC and a == 0:
            op, a, b = ALLOC, b, c
        if op == ALLOC:
            id = self._new_id()
            self.trace.alloc(id, a, b if b > PLAIN_ALIGN else 0)
        elif op == FREE:
            if a == 0:
                return
            self.trace.free(self.live.pop(a) if a in self.live else self._new_id())
            result = 0
        else:
            id = self.live.pop(a) if a in self.live else self._new_id()
            self.trace.realloc(id, b)
            if not result and b:
                self.live[a] = id            # a failed realloc leaves the block where it was
        if op != FREE and result:
            self.live[result] = id
        self.recording.add(result, memory)



def _wasmtime():
    from ..real import engine
    try:
        return engine()
    except Exception as e:               # RealModuleError names the extra to install
        raise RecordError(str(e)) from None


def run_wasm(data, args=(), invoke=None, *, name="app", hook=None, stdout=None):
    """Run a module with WASI under wasmtime: its `_start` (a command, with `args`),
    or `invoke` (after `_initialize` if it is a reactor) with integer `args`.

    `hook(op, a, b, c, result, pages)` answers the instrumentation's import;
    `stdout` is a file path for the program's output (default: this process's).
    Returns (exit code or None, what `invoke` returned or None)."""
    from ..real import trap_cause
    wasmtime = _wasmtime()
    engine = wasmtime.Engine()
    try:
        module = wasmtime.Module(engine, data)
    except wasmtime.WasmtimeError as e:
        raise RecordError(f"{name}: does not validate: {e}") from None
    store = wasmtime.Store(engine)
    wasi = wasmtime.WasiConfig()
    wasi.argv = [name] + ([str(a) for a in args] if invoke is None else [])
    if stdout:
        wasi.stdout_file = stdout
    else:
        wasi.inherit_stdout()
    wasi.inherit_stderr()
    store.set_wasi(wasi)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    for imp in module.imports:
        if imp.module == "pyfrag" and imp.name == "record":
            if hook is None:
                raise RecordError(f"{name} imports pyfrag.record: it is instrumented; "
                                  "run it with a recorder")
            linker.define_func("pyfrag", "record", imp.type, hook)
        elif imp.module != "wasi_snapshot_preview1":
            raise RecordError(f"{name} imports {imp.module}.{imp.name}, which pyfrag's "
                              "wasmtime runner does not provide (it provides WASI)")
    try:
        instance = linker.instantiate(store, module)
        exports = instance.exports(store)
        if invoke is None:
            if "_start" not in exports:
                raise RecordError(f"{name} has no _start (a WASI command); name the export "
                                  "to call with --invoke")
            exports["_start"](store)
            return 0, None
        if invoke not in exports:
            raise RecordError(f"{name} has no export {invoke!r} (it exports: "
                              f"{', '.join(e.name for e in module.exports)})")
        if "_initialize" in exports:
            exports["_initialize"](store)
        try:
            numbers = [int(a, 0) for a in args]
        except ValueError:
            raise RecordError(f"--invoke {invoke} takes integer arguments, got "
                              f"{' '.join(args)}") from None
        return None, exports[invoke](store, *numbers)
    except wasmtime.ExitTrap as e:
        return e.code, None
    except (wasmtime.Trap, wasmtime.WasmtimeError) as e:
        raise RecordError(f"{name} trapped: {trap_cause(e)}") from None


def record_wasm(path, args=(), invoke=None, *, heap_base=None, stdout=None):
    """Instrument the app at `path`, run it, and return what it allocated."""
    from .instrument import instrument
    if not os.path.isfile(path):
        raise RecordError(f"{path}: no such file" if not os.path.exists(path)
                          else f"{path}: not a file")
    with open(path, "rb") as f:
        data = f.read()
    name = os.path.splitext(os.path.basename(path))[0]
    inst = instrument(data, path)
    recording = Recording(heap_base=heap_base if heap_base is not None else inst.heap_base,
                          initial_pages=inst.initial_pages, module=name,
                          allocator=inst.allocator)
    trace = Trace(name, f"recorded from {os.path.basename(path)}"
                  + (f" --invoke {invoke}" if invoke else "")
                  + (f" {' '.join(args)}" if args else ""),
                  maximum=inst.maximum_pages)
    trace.recorded = recording
    builder = TraceBuilder(trace, recording)
    start = time.perf_counter()
    code, returned = run_wasm(inst.data, args, invoke, name=name, hook=builder.event,
                              stdout=stdout)
    return Recorded(trace, time.perf_counter() - start, code, returned, inst.describe())


_PID = re.compile(r"^(?:==|--)(\d+)(?:==|--)", re.M)
# --trace-sched=yes: "--PID--   SCHED[TID]:  acquired lock (...)" starts a thread's turn;
# valgrind runs one thread at a time, so each call line belongs to the last thread to acquire
_TURN = re.compile(r"^--\d+-- +SCHED\[(\d+)\]: +acquired lock")
_CALL_LINE = re.compile(r"^--\d+-- \w+\(")


def thread_calls(log_text):
    """{thread id: allocator calls it made} from a log written with --trace-sched=yes."""
    calls, tid = {}, "1"
    for line in log_text.splitlines():
        m = _TURN.match(line)
        if m:
            tid = m.group(1)
        elif _CALL_LINE.match(line):
            calls[tid] = calls.get(tid, 0) + 1
    return calls


def record_native(command, *, stdout=None):
    """Run `command` under valgrind --trace-malloc=yes (child processes are not
    followed: their calls would be another heap) and read its log. The program's
    output goes to `stdout` (a file object; default: this process's)."""
    from ..trace import load
    if not command:
        raise RecordError("no command to record: pyfrag record -o OUT -- CMD ARGS...")
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise RecordError("valgrind not found: recording a native program needs it "
                          "(Debian/Ubuntu: apt-get install valgrind)")
    if shutil.which(command[0]) is None:
        what = "not an executable file" if os.path.exists(command[0]) else \
            "no such program (neither a file nor a command on PATH)"
        raise RecordError(f"{command[0]}: {what}")
    with tempfile.TemporaryDirectory(prefix="pyfrag-record-") as tmp:
        log = os.path.join(tmp, "valgrind.log")
        start = time.perf_counter()
        try:
            code = subprocess.run([valgrind, "--trace-malloc=yes", "--trace-children=no",
                                   "--trace-sched=yes", f"--log-file={log}", *command],
                                  stdout=stdout).returncode
        except OSError as e:
            raise RecordError(f"cannot run valgrind: {e}") from None
        seconds = time.perf_counter() - start
        if not os.path.exists(log):
            raise RecordError(f"valgrind could not run {' '.join(command)} (exit status "
                              f"{code}; its message is above)")
        with open(log, encoding="utf-8", errors="replace") as f:
            text = f.read()
        pids = sorted(set(_PID.findall(text)), key=int)
        if len(pids) > 1:
            raise RecordError(f"the valgrind log of {command[0]} holds {len(pids)} processes "
                              f"({', '.join(pids)}): a process that forks keeps its "
                              "children under valgrind, their heaps are separate and pyfrag "
                              "does not merge them; record the program itself rather than a "
                              "shell or a launcher that forks")
        if "malloc(" not in text and "free(" not in text and code:
            raise RecordError(f"valgrind could not run {' '.join(command)} "
                              f"(exit status {code}): {text.strip()[-500:]}")
        trace = load(log, "valgrind")
        threads = thread_calls(text)
    trace.name = os.path.basename(command[0])
    trace.description = "recorded natively: " + " ".join(command)
    trace.source = f"valgrind log of {command[0]}"
    return Recorded(trace, seconds, code, native=True, threads=threads)

"""Drive real WebAssembly modules (wasm_modules/) from Python with wasmtime.

Main entry points: `load(name_or_path) -> RealModule` and
`replay_real(trace, module) -> Run`.

A `RealModule` follows the simulator's Allocator protocol (malloc, free,
realloc, aligned_alloc, heap_base, spans) and its `.memory` follows the
`Memory` shape the replay loop reads (`pages`, `maximum`, `byte_length`), so
`pyfrag.replay.drive` replays a trace on a real module with the very loop that
replays it on a model, and the two `Run`s compare event by event.

wasmtime is an optional dependency (`pip install pyfrag[real]`): it is
imported on first use, never at import time, so the simulator keeps running
where it is missing (Pyodide, a bare CPython).

Failure policy:

- Bad input raises `RealModuleError` naming the module and the cause: not
  wasm, an ABI export missing or of the wrong kind or signature (see
  `SIGNATURES`), an import pyfrag cannot provide, a trap or an endless loop
  while starting (`_initialize`, the start function).
- A malloc/realloc/aligned_alloc that returns 0 is a failed request (an OOM),
  recorded by `drive` in `run.failures`. A request the module cannot even be
  asked (a size or alignment past 2**32 - 1, which would wrap; an alignment
  above what a module without `aligned_alloc` guarantees) fails the same way
  without calling it, as the models fail it.
- A trap is never an OOM. A call that traps raises `ModuleTrap` (a
  `replay.Trapped`): the replay ends at that event and `run.trap` says where
  (`index`, `where` = file:line, `op` = the export, `cause` = the engine's
  message, `timeout` = False). The module's own count is then not asked for
  (`run.reported_live` stays None). `RealModule.traps` keeps every trap seen.
- Every call has a time budget (`call_budget` seconds, CALL_BUDGET unless
  given), enforced by wasmtime's epoch interruption: a call that runs past it
  is stopped and ends the replay the same way, with `run.trap.timeout` True.
  Ctrl-C (SIGINT) stops a running call too and raises KeyboardInterrupt.

The command line (`pyfrag real`) exits 2 when a call is stopped (an endless
loop) and 3 when the module trapped, after printing the summary up to there.
"""

import os
import signal
import socket
import threading
import weakref

from .memory import PAGE, WASM32_MAX_PAGES, resolve_limit
from .replay import Trapped

ABI = ("memory", "malloc", "free", "realloc", "live_bytes")
# the parameter and result types each function export must have
SIGNATURES = {"malloc": (("i32",), ("i32",)), "free": (("i32",), ()),
              "realloc": (("i32", "i32"), ("i32",)), "live_bytes": ((), ("i32",)),
              "aligned_alloc": (("i32", "i32"), ("i32",)), "_initialize": ((), ()),
              "pyfrag_run": (("i32", "i32"), ("i32",))}
# pyfrag's own modules take the block's size and alignment back, as Rust's dealloc(ptr,
# layout) does (wasm_modules/src/abi.c), so their wrappers keep no table of blocks
SIZED = {"free": (("i32", "i32", "i32"), ()), "realloc": (("i32", "i32", "i32", "i32"), ("i32",))}
WASM_MAGIC = b"\0asm"
U32_MAX = 0xFFFFFFFF
CALL_BUDGET = 5.0       # seconds one call into a module may run before it is stopped
TICK = 0.05             # seconds between epoch ticks


class RealModuleError(Exception):
    """A real module cannot be loaded or driven; the message names module and cause."""


class ModuleTrap(RealModuleError, Trapped):
    """A call into the module trapped, or was stopped past its time budget."""

    def __init__(self, message, op, cause, timeout=False):
        RealModuleError.__init__(self, message)
        self.op, self.cause, self.timeout = op, cause, timeout


class _Ticker:
    """One daemon thread for all modules: advances every live module's engine epoch each
    TICK (a call's deadline is counted in ticks), and turns Ctrl-C into an interrupt
    of the running call: the signal's byte arrives on a wakeup socket even while
    the main thread is inside wasm, where Python's own handler cannot run."""

    def __init__(self):
        self.modules = weakref.WeakSet()
        self.wakeup = None
        self.lock = threading.Lock()
        self.thread = None

    def add(self, module):
        with self.lock:
            self.modules.add(module)
            if self.thread is None:
                self._catch_sigint()
                self.thread = threading.Thread(target=self._run, name="pyfrag-epoch",
                                               daemon=True)
                self.thread.start()

    def _catch_sigint(self):
        if threading.current_thread() is not threading.main_thread():
            return                       # only the main thread may set a wakeup fd
        read, write = socket.socketpair()
        read.setblocking(False)
        write.setblocking(False)
        try:
            old = signal.set_wakeup_fd(write.fileno(), warn_on_full_buffer=False)
        except ValueError:
            return
        if old != -1:                    # someone else's (an event loop): leave it
            signal.set_wakeup_fd(old)
            return
        self.wakeup = (read, write)

    def _run(self):
        import select
        import time
        last = time.monotonic()
        while True:
            sigint = False
            if self.wakeup is None:
                time.sleep(TICK)
            elif select.select([self.wakeup[0]], [], [], TICK)[0]:
                try:
                    sigint = signal.SIGINT in self.wakeup[0].recv(64)
                except BlockingIOError:
                    pass
            # ticks follow the clock, however early a wait returns
            ticks = int((time.monotonic() - last) / TICK)
            last += ticks * TICK
            for module in list(self.modules):
                if sigint:
                    module._interrupted = True
                    ticks = module._budget_ticks + 1
                for _ in range(ticks):
                    module._engine.increment_epoch()


_ticker = _Ticker()


def _wasmtime():
    try:
        import wasmtime
    except ImportError:
        raise RealModuleError(
            "driving real modules needs the optional dependency wasmtime "
            "(pip install 'pyfrag[real]')") from None
    return wasmtime


def _resolve(name_or_path):
    """(display name, path, manifest entry or None) for a module name or a .wasm path."""
    text = os.fspath(name_or_path)
    if os.sep in text or text.endswith(".wasm") or os.path.isfile(text):
        if not os.path.isfile(text):
            what = "a directory, not a .wasm file" if os.path.isdir(text) else "no such file"
            raise RealModuleError(f"{text}: {what}")
        return os.path.splitext(os.path.basename(text))[0], text, None
    from .modules import UnknownModule, find
    try:
        entry = find(text)
    except (UnknownModule, FileNotFoundError) as e:
        raise RealModuleError(str(e)) from None
    if not os.path.isfile(entry["path"]):
        raise RealModuleError(
            f"module {text}: its file {entry['path']} is missing (run wasm_modules/build.py)")
    return entry["name"], entry["path"], entry


class RealMemory:
    """The replay loop's view of a module's memory: pages now, and the limit."""

    def __init__(self, module):
        self._module = module
        self.grow_calls = None        # memory.grow is not observable from outside

    @property
    def pages(self):
        m = self._module
        return m._memory.size(m._store)

    @property
    def byte_length(self):
        return self.pages * PAGE

    @property
    def maximum(self):
        return self._module.maximum_pages

    @property
    def max_bytes(self):
        return self.maximum * PAGE

    def __repr__(self):
        return f"RealMemory(pages={self.pages}, maximum={self.maximum})"


class RealModule:
    """One instance of a real module. Calls go straight to its exports."""

    alignment = 8       # what every module's malloc guarantees (the Allocator protocol's name)
    reuses_freed = True     # unless its model says otherwise (the Allocator protocol's name)

    def __init__(self, name, path, entry=None, *, limit=None, call_budget=None):
        wasmtime = _wasmtime()
        self.name, self.path, self.entry = name, path, entry
        self.call_budget = CALL_BUDGET if call_budget is None else call_budget
        self._budget_ticks = max(1, round(self.call_budget / TICK))
        self._interrupted = False
        with open(path, "rb") as f:
            data = f.read()
        if data[:4] != WASM_MAGIC:
            raise RealModuleError(
                f"{path}: not a WebAssembly module (magic bytes {data[:4]!r}, "
                f"expected {WASM_MAGIC!r})")
        config = wasmtime.Config()
        config.epoch_interruption = True          # the per-call time budget
        self._engine = wasmtime.Engine(config)
        try:
            module = wasmtime.Module(self._engine, data)
        except wasmtime.WasmtimeError as e:
            raise RealModuleError(f"module {name}: {path} does not validate: "
                                  f"{_msg(e)}") from None
        exports = self._check_exports(wasmtime, module)
        self._store = wasmtime.Store(self._engine)
        _ticker.add(self)
        self.traps = []               # (op, args, message) of every trap seen
        declared = module_limits(module)
        self.maximum_pages = declared if declared is not None else WASM32_MAX_PAGES
        if limit is not None:
            # A trace's memory limit (e.g. the image task's 512 MiB) is applied by
            # the engine: past it memory.grow returns -1, as in a browser.
            pages = resolve_limit(limit)
            self._store.set_limits(memory_size=pages * PAGE)
            self.maximum_pages = min(self.maximum_pages, pages)
        linker = self._linker(wasmtime, module)
        try:
            self._instance = self._timed("start", linker.instantiate, self._store, module)
        except ModuleTrap as e:
            raise RealModuleError(f"module {name}: {_starting(e)}") from None
        except wasmtime.WasmtimeError as e:
            raise RealModuleError(f"module {name}: cannot be instantiated: {_msg(e)}") from None
        ex = self._instance.exports(self._store)
        self._memory = ex["memory"]
        self._malloc, self._free = ex["malloc"], ex["free"]
        self._realloc, self._live = ex["realloc"], ex["live_bytes"]
        self._aligned = ex["aligned_alloc"] if "aligned_alloc" in exports else None
        self._exports = ex
        self._layouts = {}
        self.memory = RealMemory(self)
        if "_initialize" in exports:
            try:
                self._call("_initialize", ex["_initialize"])
            except ModuleTrap as e:
                raise RealModuleError(f"module {name}: {_starting(e)}") from None
        self.heap_base = self._heap_base(ex, exports)
        # what malloc guarantees, hence what a module without aligned_alloc can serve:
        # the model's alignment (AssemblyScript's 16) where the manifest names one
        model = (entry or {}).get("model")
        if model:
            from .allocators import get
            if self._aligned is None:
                self.alignment = get(model).alignment
            # a bump allocator's module runs out as its model does (pyfrag.replay.named)
            self.reuses_freed = get(model).reuses_freed

    # -- start-up ---------------------------------------------------------

    def _check_exports(self, wasmtime, module):
        """The export names, after checking the ABI's are there with the right kind and
        signature: a wrong one would crash or mislead later (a malloc(i64) "fails")."""
        kinds = {e.name: e.type for e in module.exports}
        missing = [want for want in ABI if want not in kinds]
        if missing:
            raise RealModuleError(
                f"module {self.name} lacks {'export' if len(missing) == 1 else 'exports'} "
                f"{', '.join(map(repr, missing))} (pyfrag real needs {', '.join(ABI)}; "
                "aligned_alloc and __heap_base are optional)")
        if not isinstance(kinds["memory"], wasmtime.MemoryType):
            raise RealModuleError(f"module {self.name}: export 'memory' is "
                                  f"{_kind(wasmtime, kinds['memory'])}, not a memory")
        if kinds["memory"].is_64:
            raise RealModuleError(f"module {self.name}: its memory is a memory64; "
                                  "the ABI is wasm32")
        sized = None
        for export, signature in SIGNATURES.items():
            if export not in kinds:
                continue
            ty = kinds[export]
            wants = [signature] + ([SIZED[export]] if export in SIZED else [])
            want = " or ".join(f"({', '.join(p)}) -> ({', '.join(r)})" for p, r in wants)
            if not isinstance(ty, wasmtime.FuncType):
                raise RealModuleError(f"module {self.name}: export {export!r} is "
                                      f"{_kind(wasmtime, ty)}, not a function {want}")
            got = (tuple(map(str, ty.params)), tuple(map(str, ty.results)))
            if got not in wants:
                raise RealModuleError(
                    f"module {self.name}: export {export!r} has signature "
                    f"({', '.join(got[0])}) -> ({', '.join(got[1])}), the ABI wants {want}")
            if export in SIZED:
                if sized is not None and sized != (got == SIZED[export]):
                    raise RealModuleError(
                        f"module {self.name}: free and realloc must both take the block's "
                        "size and alignment, or neither")
                sized = got == SIZED[export]
        self.sized = bool(sized)
        base = kinds.get("__heap_base")
        if base is not None and not (isinstance(base, wasmtime.GlobalType)
                                     and str(base.content) == "i32"):
            raise RealModuleError(f"module {self.name}: export '__heap_base' is "
                                  f"{_kind(wasmtime, base)}, not an i32 global")
        return set(kinds)

    def _linker(self, wasmtime, module):
        linker = wasmtime.Linker(self._engine)
        imports = [(i.module, i.name, i.type) for i in module.imports]
        if any(m == "wasi_snapshot_preview1" for m, _, _ in imports):
            linker.define_wasi()
            self._store.set_wasi(wasmtime.WasiConfig())
        for mod, field, ty in imports:
            if mod == "wasi_snapshot_preview1":
                continue                  # define_wasi covers it; an unknown name fails below
            host = self._host_function(mod, field)
            if host is None or not isinstance(ty, wasmtime.FuncType):
                raise RealModuleError(
                    f"module {self.name} imports {mod}.{field}, which pyfrag cannot provide")
            linker.define_func(mod, field, ty, host)
        return linker

    def _host_function(self, mod, field):
        if mod != "env":
            return None
        if field == "abort":
            def abort(*args):
                # AssemblyScript's abort(message, file, line, column); the trap that
                # follows carries this text back to whoever called into the module.
                cause = f"called env.abort{self._as_abort(args)}"
                raise ModuleTrap(f"module {self.name} {cause}", "abort", cause)
            return abort
        if field == "emscripten_notify_memory_growth":
            return lambda index: None     # Emscripten only refreshes its JS views here
        return None

    def _as_abort(self, args):
        try:
            msg, file, line, col = args
            text = self._as_string(msg) or "?"
            where = self._as_string(file) or "?"
            return f": {text} at {where}:{line}:{col}"
        except Exception:                 # best effort: the abort itself is the news
            return f"{tuple(args)}"

    def _as_string(self, ptr):
        # An AssemblyScript string: UTF-16LE, byte length stored just before it.
        if not ptr:
            return ""
        n = int.from_bytes(self.read(ptr - 4, 4), "little")
        return self.read(ptr, min(n, 512)).decode("utf-16-le", "replace")

    def _heap_base(self, ex, exports):
        if "__heap_base" in exports:
            return ex["__heap_base"].value(self._store)
        if self.entry and self.entry.get("heap_base") is not None:
            return self.entry["heap_base"]
        return 0                          # unknown: the module does not say

    # -- calls ------------------------------------------------------------

    def _timed(self, op, func, *args):
        """func(*args) under the call budget; a trap or a stop raises ModuleTrap."""
        wasmtime = _wasmtime()
        self._interrupted = False        # a Ctrl-C that Python already raised is spent
        self._store.set_epoch_deadline(self._budget_ticks)
        try:
            return func(*args)
        except wasmtime.Trap as e:
            if e.trap_code == wasmtime.TrapCode.INTERRUPT:
                if self._interrupted:
                    self._interrupted = False
                    raise KeyboardInterrupt from None
                cause = (f"it did not return within {self.call_budget:g} s "
                         "(an endless loop?)")
                error = ModuleTrap(f"module {self.name}: {op}{_args(args)} was stopped: "
                                   f"{cause}", op, cause, timeout=True)
            else:
                error = ModuleTrap(f"module {self.name} trapped in {op}{_args(args)}: "
                                   f"{_msg(e)}", op, _msg(e))
        except ModuleTrap as e:          # raised by a host function (env.abort)
            error = ModuleTrap(str(e), op, e.cause)
        self.traps.append((op, args[1:], str(error)))
        raise error from None

    def _call(self, op, func, *args):
        return self._timed(op, func, self._store, *args)

    def _request(self, op, func, *args):
        """A malloc-like call. wasm32 sizes and alignments are u32: one past 2**32 - 1
        cannot even be passed (it would wrap to a small one), so the request fails
        here, as in the models; results come back from wasmtime as signed i32, so
        they are masked back to u32."""
        if max(args) > U32_MAX:
            return 0
        return self._call(op, func, *args) & U32_MAX

    # A sized module's free and realloc take the block's size and alignment back; the host
    # keeps them (in `_layouts`, address -> (size, alignment or 0 for malloc's)), so the
    # protocol's free(ptr) serves both kinds of module and nothing in the module can fill.

    def malloc(self, size):
        p = self._request("malloc", self._malloc, size)
        if p and self.sized:
            self._layouts[p] = (size, 0)
        return p

    def free(self, ptr):
        if not self.sized:
            self._call("free", self._free, ptr)
        elif ptr:
            self._call("free", self._free, ptr, *self._layout(ptr))
            del self._layouts[ptr]

    def realloc(self, ptr, size):
        if not self.sized:
            return self._request("realloc", self._realloc, ptr, size)
        if not ptr:
            return self.malloc(size)
        held, align = self._layout(ptr)
        q = self._request("realloc", self._realloc, ptr, size, held, align)
        if q or not size:           # moved, or realloc(p, 0) returning NULL has freed p
            del self._layouts[ptr]
        if q:
            self._layouts[q] = (size, align)
        return q

    def _layout(self, ptr):
        try:
            return self._layouts[ptr]
        except KeyError:
            raise RealModuleError(f"module {self.name}: {ptr:#x} is not a block this host "
                                  "allocated (free and realloc need its size)") from None

    def aligned_export(self, align):
        """Whether a request aligned to `align` goes to aligned_alloc (True), to malloc
        (False), or fails without a call (None: also an alignment wasm32 cannot carry)."""
        if align > U32_MAX:
            return None
        if self._aligned is None:
            # Without the export (AssemblyScript's modules) malloc's own alignment is
            # all there is: smaller requests are plain mallocs, larger ones fail
            # (None: without a call), as in the models of those modules.
            return False if align <= self.alignment else None
        return True

    def unsupported(self, size, align=None):
        """Why a request aligned to `align` fails without a call, or None (the protocol's
        `unsupported`: a size past 2**32 - 1 is a true OOM here, as in the models)."""
        if align and self.aligned_export(align) is None and align <= U32_MAX:
            return (f"module {self.name} exports no aligned_alloc, and its malloc aligns "
                    f"to {self.alignment} bytes")
        return None

    def aligned_alloc(self, align, size):
        route = self.aligned_export(align)
        if route is None:
            return 0
        if not route:
            return self.malloc(size)
        p = self._request("aligned_alloc", self._aligned, align, size)
        if p and self.sized:
            self._layouts[p] = (size, align)
        return p

    def live_bytes(self):
        return self._call("live_bytes", self._live) & 0xFFFFFFFF

    def call(self, export, *args):
        """Call any other export (e.g. the Rust module's produce_fragmentation)."""
        if export not in self._exports:
            raise RealModuleError(f"module {self.name} lacks export {export!r}")
        return self._call(export, self._exports[export], *args)

    @property
    def runs(self):
        """Whether the module replays whole traces itself (pyfrag.runner)."""
        return self.sized and "pyfrag_run" in self._exports

    def spans(self):
        # The allocator's free lists are inside the module; the replay loop then
        # estimates free bytes as heap minus live.
        raise NotImplementedError(f"{self.name}: a real module does not expose its spans")

    def check(self):
        pass

    # -- memory access ----------------------------------------------------

    @property
    def byte_length(self):
        return self._memory.data_len(self._store)

    def read(self, ptr, n):
        if ptr < 0 or ptr + n > self.byte_length:
            raise RealModuleError(f"module {self.name}: read of {n} bytes at {ptr:#x} "
                                  f"is outside its {self.byte_length}-byte memory")
        return bytes(self._memory.read(self._store, ptr, ptr + n))

    def write(self, ptr, data):
        if ptr < 0 or ptr + len(data) > self.byte_length:
            raise RealModuleError(f"module {self.name}: write of {len(data)} bytes at "
                                  f"{ptr:#x} is outside its {self.byte_length}-byte memory")
        self._memory.write(self._store, data, ptr)

    def __repr__(self):
        return (f"<RealModule {self.name}: {self.memory.pages} pages, "
                f"heap base {self.heap_base}>")


def _args(args):
    """A call's arguments (without the store) for messages: malloc(24)."""
    return "(" + ", ".join(map(str, args[1:])) + ")"


def _starting(trap):
    what = "did not finish starting" if trap.timeout else "trapped while starting"
    return f"{what} ({trap.op}): {trap.cause}"


def _kind(wasmtime, ty):
    for cls, name in ((wasmtime.FuncType, "a function"), (wasmtime.GlobalType, "a global"),
                      (wasmtime.MemoryType, "a memory"), (wasmtime.TableType, "a table")):
        if isinstance(ty, cls):
            return name
    return type(ty).__name__


def _msg(e):
    """The cause of a trap in one line ("wasm `unreachable` instruction executed"),
    not wasmtime's multi-line backtrace."""
    lines = [l.strip() for l in str(e).strip().splitlines() if l.strip()]
    for line in reversed(lines):
        if line.startswith("wasm trap:"):
            return line[len("wasm trap:"):].strip()
    return lines[-1] if lines else type(e).__name__


def module_limits(module):
    """Declared maximum pages of the module's memory (defined or imported), or None."""
    wasmtime = _wasmtime()
    for e in list(module.exports) + list(module.imports):
        if isinstance(e.type, wasmtime.MemoryType):
            return e.type.limits.max
    return None


def load(name_or_path, *, limit=None, call_budget=None):
    """A fresh instance of a manifest module (by name) or of a .wasm file (by path).

    `limit` caps the memory (pages, or "512mib"-style text) below any maximum the
    module declares; `call_budget` is the seconds one call may run (CALL_BUDGET)."""
    name, path, entry = _resolve(name_or_path)
    return RealModule(name, path, entry, limit=limit, call_budget=call_budget)


def replay_real(trace, module, *, stop_at_oom=False, progress=None, discard="at-end",
                batched=True, model=True, call_budget=None, maximum=None, reset_every=None):
    """Replay `trace` on a real module (a name, a path, or a fresh `RealModule`).

    Every module built here replays whole traces itself (pyfrag.runner): any
    number of live blocks, a few host calls per million events. `batched=False`,
    or a module without that export (an upload), drives it one call per event
    with the same loop the models run (pyfrag.replay.drive); both give the same
    `Run`.

    Returns the same `Run` the simulator returns, with `reported_live` set to the
    module's own `live_bytes()` at the end (None when the run ended at a trap,
    `run.trap`). A name or path gets a fresh instance, with the trace's memory
    memory limit enforced by the engine: `maximum` (pages, or "512mib"-style text)
    if given, else the trace's own, if any; when its manifest names a model, that
    model is replayed beside it (pyfrag.beside): where the two agree, failed
    requests are judged from the model's free blocks, and with `model=True` the
    run's spans and discard figures are the model's. `model="failures"` replays
    the model only when requests failed, up to them; `model=False` never (the
    verdicts are estimates). `run.beside` says how far the model went along.
    `discard` is as for `pyfrag.replay.replay`; `call_budget` as for `load`.

    `reset_every=N` is the article's reset pattern for real: every N events the
    instance is thrown away, a fresh one instantiated and the live blocks
    allocated again, packed (pyfrag.strategies.reset_at), as
    `periodic_reset(trace, model, every=N)` does to the model.

    >>> from pyfrag import replay, scenarios
    >>> t = scenarios.image_task()
    >>> run = replay_real(t, "c-dlmalloc")
    >>> run.oom.kind, run.oom.index, run.reported_live == run.live_bytes[-1]
    ('fragmentation', 256, True)
    >>> list(run.addresses) == list(replay(t, like="c-dlmalloc").addresses)
    True
    """
    from .beside import judge
    from .replay import drive, named
    from .runner import run_in_module
    if reset_every is not None:
        from .strategies import reset_at
        if reset_every <= 0 or not isinstance(module, (str, os.PathLike)):
            raise ValueError("reset_every wants a number of events above 0 and a module named "
                             "by name or path (each segment gets a fresh instance of it)")
        run = reset_at(trace, range(reset_every, len(trace), reset_every), lambda segment:
                       replay_real(segment, module, stop_at_oom=stop_at_oom, discard=discard,
                                   batched=batched, model=False, call_budget=call_budget,
                                   maximum=maximum))
        run.allocator = f"{run.allocator} (reset every {reset_every})"
        return run
    fresh = not isinstance(module, RealModule)
    if fresh:
        module = load(module, limit=trace.maximum if maximum is None else maximum,
                      call_budget=call_budget)
    if batched and fresh and module.runs:
        run = run_in_module(trace, module, stop_at_oom=stop_at_oom, progress=progress,
                            discard=discard)
    else:
        run = drive(trace, module, module.memory, module.name,
                    stop_at_oom=stop_at_oom, progress=progress, discard=discard)
    if run.trap is None:
        run.reported_live = module.live_bytes()
    run.module = module
    # a module handed in may have been used already: its model cannot know how
    run.beside = judge(run, module, model, discard) if fresh else None
    # what no verdict from free blocks can tell: a request the module never serves, a
    # bump allocator run out (verdicts adopted from the model carry it already)
    run.failures[:] = [f if f.kind not in ("true", "fragmentation") else named(f, module, trace)
                       for f in run.failures]
    return run

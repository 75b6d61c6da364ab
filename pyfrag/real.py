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

Failure policy: bad input (not wasm, a missing ABI export, an import pyfrag
cannot provide) raises `RealModuleError` naming the module and what is
missing. At run time a malloc/realloc that returns 0 *or traps* (Rust's
alloc error handler ends in `unreachable`) is a failed request, recorded by
`drive`; the trap message is kept in `RealModule.traps`. A trap inside free
has no "failed" value to return, so it raises `ModuleTrap`.
"""

import os
from functools import cached_property

from .memory import PAGE, WASM32_MAX_PAGES, resolve_limit

ABI = ("memory", "malloc", "free", "realloc", "live_bytes")
WASM_MAGIC = b"\0asm"


class RealModuleError(Exception):
    """A real module cannot be loaded or driven; the message names module and cause."""


class ModuleTrap(RealModuleError):
    """The module trapped where pyfrag has no failure value to record."""


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

    def __init__(self, name, path, entry=None, *, limit=None):
        wasmtime = _wasmtime()
        self.name, self.path, self.entry = name, path, entry
        with open(path, "rb") as f:
            data = f.read()
        if data[:4] != WASM_MAGIC:
            raise RealModuleError(
                f"{path}: not a WebAssembly module (magic bytes {data[:4]!r}, "
                f"expected {WASM_MAGIC!r})")
        self._engine = wasmtime.Engine()
        try:
            module = wasmtime.Module(self._engine, data)
        except wasmtime.WasmtimeError as e:
            raise RealModuleError(f"module {name}: {path} does not validate: {e}") from None
        exports = {e.name for e in module.exports}
        for want in ABI:
            if want not in exports:
                raise RealModuleError(f"module {name} lacks export {want!r}")
        self._store = wasmtime.Store(self._engine)
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
            self._instance = linker.instantiate(self._store, module)
        except wasmtime.Trap as e:
            raise RealModuleError(f"module {name}: trapped while starting: {_msg(e)}") from None
        except wasmtime.WasmtimeError as e:
            raise RealModuleError(f"module {name}: cannot be instantiated: {e}") from None
        ex = self._instance.exports(self._store)
        self._memory = ex["memory"]
        self._malloc, self._free = ex["malloc"], ex["free"]
        self._realloc, self._live = ex["realloc"], ex["live_bytes"]
        self._aligned = ex["aligned_alloc"] if "aligned_alloc" in exports else None
        self._exports = ex
        self.memory = RealMemory(self)
        if "_initialize" in exports:
            self._call("_initialize", ex["_initialize"])
        self.heap_base = self._heap_base(ex, exports)

    # -- start-up ---------------------------------------------------------

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
                raise ModuleTrap(f"module {self.name} called env.abort{self._as_abort(args)}")
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

    def _call(self, op, func, *args):
        wasmtime = _wasmtime()
        try:
            return func(self._store, *args)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as e:
            message = f"module {self.name} trapped in {op}{args}: {_msg(e)}"
            self.traps.append((op, args, message))
            raise ModuleTrap(message) from None
        except ModuleTrap as e:          # raised by a host function (env.abort)
            self.traps.append((op, args, str(e)))
            raise

    def _request(self, op, func, *args):
        """A malloc-like call: a trap counts as a failed request (0).

        wasm32 addresses and sizes are u32: a size past 2**32 - 1 cannot even be
        passed (it would wrap to a small one), so it fails here, and results come
        back from wasmtime as signed i32, so they are masked back to u32."""
        if args[-1] > 0xFFFFFFFF:
            return 0
        try:
            return self._call(op, func, *args) & 0xFFFFFFFF
        except ModuleTrap:
            return 0

    def malloc(self, size):
        return self._request("malloc", self._malloc, size)

    def free(self, ptr):
        self._call("free", self._free, ptr)

    def realloc(self, ptr, size):
        return self._request("realloc", self._realloc, ptr, size)

    def aligned_export(self, align):
        """Whether a request aligned to `align` goes to aligned_alloc (else to malloc)."""
        if self._aligned is None:
            # Every module's malloc returns 8-aligned blocks (the ABI tests check it),
            # so small alignments need no aligned_alloc export.
            if align <= self.alignment:
                return False
            raise RealModuleError(f"module {self.name} lacks export 'aligned_alloc' "
                                  f"(needed for alignment {align})")
        return True

    def aligned_alloc(self, align, size):
        if not self.aligned_export(align):
            return self.malloc(size)
        return self._request("aligned_alloc", self._aligned, align, size)

    def live_bytes(self):
        return self._call("live_bytes", self._live) & 0xFFFFFFFF

    def call(self, export, *args):
        """Call any other export (e.g. the Rust module's produce_fragmentation)."""
        if export not in self._exports:
            raise RealModuleError(f"module {self.name} lacks export {export!r}")
        return self._call(export, self._exports[export], *args)

    @cached_property
    def batch(self):
        """The module's batched replay (pyfrag.batch.Batch), or None when it has none."""
        if "pyfrag_replay" not in self._exports:
            return None
        from .batch import Batch
        return Batch(self)

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


def load(name_or_path, *, limit=None):
    """A fresh instance of a manifest module (by name) or of a .wasm file (by path).

    `limit` caps the memory (pages, or "512mib"-style text) below any maximum the
    module declares."""
    name, path, entry = _resolve(name_or_path)
    return RealModule(name, path, entry, limit=limit)


def replay_real(trace, module, *, stop_at_oom=False, progress=None, discard="at-end",
                batched=True, model=True):
    """Replay `trace` on a real module (a name, a path, or a fresh `RealModule`).

    Modules that export pyfrag's batched replay run thousands of events per call
    (pyfrag.batch), with the same result as `batched=False`, one call per event;
    stopping at the first OOM needs the latter (a batch runs past it).
    `model=False` leaves the model out (estimated verdicts, no free blocks), for
    speed.

    Returns the same `Run` the simulator returns, with `reported_live` set to the
    module's own `live_bytes()` at the end. A name or path gets a fresh instance,
    with the trace's memory maximum (if any) enforced by the engine, and when its
    manifest names a model it is replayed in lockstep with it (`pyfrag.lockstep`):
    while the two agree, the run's spans, free blocks and OOM verdicts are the
    model's; `run.lockstep.diverged` tells where they parted, if they did.
    `discard` is as for `pyfrag.replay.replay`."""
    from .lockstep import Lockstep
    from .replay import drive
    fresh = not isinstance(module, RealModule)
    if fresh:
        module = load(module, limit=trace.maximum)
    if batched and module.batch is not None and not stop_at_oom:
        # the module runs the trace's calls by batches; the loop then reads their answers
        from .batch import Playback, execute
        source = Playback(module)
        source.answers(*execute(trace, module, progress))
        progress = None
    else:
        source = module
    # a module handed in may have been used already: its model cannot know how
    stepper = Lockstep(source, _model_of(module) if fresh and model else None)
    run = drive(trace, stepper, source.memory, module.name,
                stop_at_oom=stop_at_oom, progress=progress, discard=discard)
    run.reported_live = module.live_bytes()
    run.module = module
    run.lockstep = stepper
    if stepper.model is not None:
        run.spans = stepper.spans()
    return run


def _model_of(module):
    """A fresh model in the module's start state and memory limit, or None."""
    from .heap import Heap
    entry = module.entry
    if not entry or not entry.get("model"):
        return None
    return Heap.like(entry, maximum=module.memory.maximum).allocator

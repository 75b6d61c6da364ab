"""One instance of a real WebAssembly module, driven from Python with wasmtime.

Main entry points: `load(name_or_path) -> RealModule`, `engine()` (the wasmtime package, or a
RealModuleError saying how to install it) and `trap_cause(error)` (a trap's cause in one line).

A `RealModule` follows the simulator's Allocator protocol (malloc, free, realloc, aligned_alloc,
heap_base, spans) and its `.memory` follows the `Memory` shape the replay loop reads (`pages`,
`maximum`, `byte_length`), so `pyfrag.replay.drive` replays a trace on a real module with the very
loop that replays it on a model. See pyfrag.real for the failure policy.
"""

import os

from ..memory import PAGE, WASM32_MAX_PAGES, resolve_limit
from ..replay import Trapped
from ..rules import ABI as RULES, REASONS, say
from .ticker import TICK, ticker

# the exports the ABI needs, and the parameter and result types each function export must have
# (pyfrag/rules.json, which the page reads too)
ABI = tuple(RULES["required"])
SIGNATURES = {name: tuple(map(tuple, sig)) for name, sig in RULES["signatures"].items()}
# pyfrag's own modules take the block's size and alignment back, as Rust's dealloc(ptr,
# layout) does (wasm_modules/src/abi.c), so their wrappers keep no table of blocks
SIZED = {name: tuple(map(tuple, sig)) for name, sig in RULES["sized"].items()}
WASM_MAGIC = b"\0asm"
U32_MAX = 0xFFFFFFFF
CALL_BUDGET = 5.0       # seconds one call into a module may run before it is stopped


class RealModuleError(Exception):
    """A real module cannot be loaded or driven; the message names module and cause."""


class ModuleTrap(RealModuleError, Trapped):
    """A call into the module trapped, or was stopped past its time budget."""

    def __init__(self, message, op, cause, timeout=False):
        RealModuleError.__init__(self, message)
        self.op, self.cause, self.timeout = op, cause, timeout


def engine():
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
    from ..modules import UnknownModule, find
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
        wasmtime = engine()
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
                                  f"{trap_cause(e)}") from None
        exports = self._check_exports(wasmtime, module)
        self._store = wasmtime.Store(self._engine)
        ticker.add(self)
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
            raise RealModuleError(f"module {name}: cannot be instantiated: {trap_cause(e)}") from None
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
            from ..allocators import get
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
            raise RealModuleError(say(
                RULES["lacks"], module=self.name,
                exports=f"{'export' if len(missing) == 1 else 'exports'} {', '.join(map(repr, missing))}",
                abi=", ".join(ABI)))
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
        wasmtime = engine()
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
                                   f"{trap_cause(e)}", op, trap_cause(e))
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
            return say(REASONS["no_aligned_alloc"], module=self.name, alignment=self.alignment)
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
        """Whether the module replays whole traces itself (pyfrag.real.runner)."""
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


def trap_cause(e):
    """The cause of a trap in one line ("wasm `unreachable` instruction executed"),
    not wasmtime's multi-line backtrace."""
    lines = [l.strip() for l in str(e).strip().splitlines() if l.strip()]
    for line in reversed(lines):
        if line.startswith("wasm trap:"):
            return line[len("wasm trap:"):].strip()
    return lines[-1] if lines else type(e).__name__


def module_limits(module):
    """Declared maximum pages of the module's memory (defined or imported), or None."""
    wasmtime = engine()
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

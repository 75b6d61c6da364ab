"""Instrument a WebAssembly app so that every allocator call reports to one hook.

Main entry point: `instrument(data) -> Instrumented` (the rewritten module and
what was found); `python -m pyfrag instrument APP.wasm -o APP.recording.wasm`.

The rewriting is Binaryen's: the module is disassembled with `wasm-dis`, each
allocator entry point found (by name section or by export) is renamed to an
inner name, and a wrapper takes its original name. References in text are by
name, so every call site, export and table slot now reaches the wrapper, and
internal calls are reported as well as calls through exports. `wasm-as`
reassembles and validates the result.

Each wrapper counts its depth in a global and reports only when it is the
outermost allocator call (calloc -> malloc, __rust_alloc -> __rdl_alloc ->
dlmalloc are one event), to the import

    pyfrag.record(op, a, b, c, result, pages)

with the trace's op codes (0 alloc: a=size b=align; 1 free: a=ptr; 2 realloc:
a=ptr b=size c=align), the address returned and the memory size in pages
after the call. `pyfrag.record` (wasmtime) and web/recorder.js (a browser)
supply that import. The start state a verification needs (heap base, initial
and maximum pages, allocator guessed from the names) travels in the module
itself, as JSON in a custom section named "pyfrag.recording", so a recorder
anywhere writes the same trace header.
"""

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .wasmfile import inspect

HOOK_MODULE, HOOK_NAME = "pyfrag", "record"
START_SECTION = "pyfrag.recording"
ALLOC, FREE, REALLOC = 0, 1, 2      # pyfrag.trace's op codes

# entry point -> (parameter count, result?, how the hook's arguments are built).
# Arguments are WAT expressions over the entry point's own parameters $p0.. and
# its result $r; "size" of calloc saturates at 2**32 - 1 instead of wrapping.
_CALLOC_SIZE = ("(select (i32.const -1) (i32.wrap_i64 (local.get $n)) "
                "(i64.gt_u (local.get $n) (i64.const 4294967295)))")
_C = {
    "malloc": (1, True, ALLOC, "$p0", "0", "0"),
    "free": (1, False, FREE, "$p0", "0", "0"),
    "calloc": (2, True, ALLOC, _CALLOC_SIZE, "0", "0"),
    "realloc": (2, True, REALLOC, "$p0", "$p1", "0"),
    "aligned_alloc": (2, True, ALLOC, "$p1", "$p0", "0"),
    "memalign": (2, True, ALLOC, "$p1", "$p0", "0"),
    # posix_memalign(&p, align, size) returns 0 and stores p: the hook gets p
    "posix_memalign": (3, True, ALLOC, "$p2", "$p1", "0"),
}
_RUST = {
    "alloc": (2, True, ALLOC, "$p0", "$p1", "0"),
    "alloc_zeroed": (2, True, ALLOC, "$p0", "$p1", "0"),
    "dealloc": (3, False, FREE, "$p0", "0", "0"),
    # (ptr, old_size, align, new_size)
    "realloc": (4, True, REALLOC, "$p0", "$p3", "$p2"),
}
ENTRY_POINTS = {
    **_C,
    "_malloc": _C["malloc"], "_free": _C["free"],
    "emscripten_builtin_malloc": _C["malloc"], "emscripten_builtin_free": _C["free"],
    "emscripten_builtin_memalign": _C["memalign"],
    **{f"{prefix}{op}": spec for prefix in ("__rust_", "__rdl_") for op, spec in _RUST.items()},
    # wasm-bindgen: (size[, align]), (ptr, size[, align]), (ptr, old, new[, align])
    "__wbindgen_malloc": (None, True, ALLOC, "$p0", "$p1?", "0"),
    "__wbindgen_free": (None, False, FREE, "$p0", "0", "0"),
    "__wbindgen_realloc": (None, True, REALLOC, "$p0", "$p2", "$p3?"),
}
_WBINDGEN_ARITY = {"__wbindgen_malloc": (1, 2), "__wbindgen_free": (2, 3),
                   "__wbindgen_realloc": (3, 4)}

# Function names (name section) that tell which allocator a module carries,
# most specific first; the value is pyfrag's model of it.
ALLOCATOR_SIGNS = (
    ("emmalloc_", "emmalloc"),
    ("emscripten_builtin_malloc", "emscripten-dlmalloc"),
    ("8dlmalloc8dlmalloc", "rust-dlmalloc"),          # dlmalloc-rs (Rust std, wasm32-unknown-unknown)
    ("dlmalloc", "dlmalloc"),                          # wasi-libc's dlmalloc (also Rust on wasm32-wasi)
    ("wee_alloc", "wee-alloc"),
    ("~lib/rt/tlsf", "as-tlsf"),
)

REFUSAL = ("no allocator entry point found in {where}: looked for these functions in the "
           "name section and the exports: {names}. Keep the name section when you link "
           "(clang/wasm-ld: link without -s/--strip-all and without a wasm-opt pass that "
           "drops names, or add -g; emcc: --profiling-funcs; rustc: no strip) or export "
           "the allocator (e.g. -Wl,--export=malloc,--export=free)")


class InstrumentError(ValueError):
    """The module cannot be instrumented; the message says why and what to do."""


@dataclass
class Instrumented:
    data: bytes                              # the instrumented module
    wrapped: dict = field(default_factory=dict)   # entry point -> function wrapped
    skipped: dict = field(default_factory=dict)   # entry point -> why it was not wrapped
    allocator: str | None = None             # pyfrag model guessed from the names
    heap_base: int | None = None             # __heap_base (export, name, or wasm-ld layout)
    heap_base_source: str = ""
    initial_pages: int | None = None
    maximum_pages: int | None = None

    def start(self):
        """The start state written into the module's "pyfrag.recording" section."""
        return {"heap_base": self.heap_base, "initial_pages": self.initial_pages,
                "maximum_pages": self.maximum_pages, "allocator": self.allocator}

    def describe(self):
        lines = ["wrapped: " + ", ".join(
            name if name == func else f"{name} (function {func})"
            for name, func in self.wrapped.items())]
        lines += [f"not wrapped: {name}: {why}" for name, why in self.skipped.items()]
        lines.append(f"allocator: {self.allocator or 'unknown (no name tells)'}")
        if self.heap_base is not None:
            lines.append(f"heap base: {self.heap_base} ({self.heap_base_source})")
        return "\n".join(lines)


def _tool(name):
    path = shutil.which(name)
    if path is None:
        raise InstrumentError(
            f"{name} not found: instrumenting needs Binaryen's command-line tools "
            "(Debian/Ubuntu: apt-get install binaryen; or npm install binaryen and put "
            "node_modules/binaryen/bin on PATH)")
    return path


_FUNC = re.compile(r"^ \(func \$(\S+?)((?: \(param \$\S+ \w+\))*)(?: \(result (\w+)\))?$",
                   re.M)
_EXPORT = re.compile(r'^ \(export "((?:[^"\\]|\\.)*)" \(func \$(\S+)\)\)$', re.M)
_GLOBAL = re.compile(r"^ \(global \$(\S+) (\(mut i32\)|i32) \(i32\.const (-?\d+)\)\)$", re.M)
_GLOBAL_EXPORT = re.compile(r'^ \(export "__heap_base" \(global \$(\S+)\)\)$', re.M)
_DATA = re.compile(r'^ \(data (?:\$\S+ )?\(i32\.const (\d+)\) "((?:[^"\\]|\\.)*)"\)$', re.M)


def _data_end(wat):
    end = 0
    for m in _DATA.finditer(wat):
        # escaped bytes are \xx (3 chars) or \n \t \" \\ \' (2 chars)
        body = re.sub(r'\\[0-9a-fA-F]{2}|\\.', "x", m.group(2))
        end = max(end, int(m.group(1)) + len(body))
    return end


def heap_base_of(wat):
    """(heap base, how it was found) from a disassembly, or (None, reason)."""
    globals_ = {m.group(1): int(m.group(3)) for m in _GLOBAL.finditer(wat)}
    m = _GLOBAL_EXPORT.search(wat)
    if m and m.group(1) in globals_:
        return globals_[m.group(1)], "exported __heap_base"
    if "__heap_base" in globals_:
        return globals_["__heap_base"], "__heap_base in the name section"
    # wasm-ld's default layout puts the stack after the data and the heap right
    # after the stack: __heap_base is then the stack pointer's start value.
    sp = next((v for name, v in globals_.items() if name in ("__stack_pointer", "global$0")), None)
    if sp is not None and sp > _data_end(wat):
        return sp, "guessed: the stack pointer's start above the data (wasm-ld layout)"
    return None, "not found (export __heap_base, e.g. -Wl,--export=__heap_base)"


def guess_allocator(names):
    for sign, model in ALLOCATOR_SIGNS:
        if any(sign in name for name in names):
            return model
    return None


def _arity(name, params):
    want = ENTRY_POINTS[name][0]
    if want is None:
        return params in _WBINDGEN_ARITY[name]
    return params == want


def _wrapper(name, func, inner, params, result):
    _, _, op, a, b, c = ENTRY_POINTS[name]
    n = len(params)

    def arg(text):
        if text.endswith("?"):
            text = text[:-1]
            if int(text[2:]) >= n:
                return "(i32.const 0)"
        if text.startswith("$p"):
            return f"(local.get {text})"
        if text.startswith("("):
            return text
        return f"(i32.const {text})"

    decl = "".join(f" (param $p{i} {t})" for i, t in enumerate(params))
    decl += f" (result {result})" if result else ""
    locals_ = " (local $r i32)" if result else ""
    if name == "calloc":
        locals_ += " (local $n i64)"
    call = f"(call ${inner}{''.join(f' (local.get $p{i})' for i in range(n))})"
    body = ["(global.set $pyfrag_depth (i32.add (global.get $pyfrag_depth) (i32.const 1)))",
            f"(local.set $r {call})" if result else call,
            "(global.set $pyfrag_depth (i32.sub (global.get $pyfrag_depth) (i32.const 1)))"]
    if name == "calloc":
        body.insert(0, "(local.set $n (i64.mul (i64.extend_i32_u (local.get $p0)) "
                       "(i64.extend_i32_u (local.get $p1))))")
    reported = "(local.get $r)" if result else "(i32.const 0)"
    if name == "posix_memalign":
        reported = "(if (result i32) (local.get $r) (then (i32.const 0)) " \
                   "(else (i32.load (local.get $p0))))"
    body.append(f"(if (i32.eqz (global.get $pyfrag_depth)) (then (call $pyfrag_record "
                f"(i32.const {op}) {arg(a)} {arg(b)} {arg(c)} {reported} (memory.size))))")
    if result:
        body.append("(local.get $r)")
    return f" (func ${func}{decl}{locals_}\n  " + "\n  ".join(body) + "\n )"


def instrument(data, where="module"):
    """Wrap the allocator entry points of `data` (bytes of a .wasm); see the module doc."""
    dis, asm = _tool("wasm-dis"), _tool("wasm-as")
    with tempfile.TemporaryDirectory(prefix="pyfrag-instrument-") as tmp:
        src, wat_path, out = Path(tmp, "in.wasm"), Path(tmp, "in.wat"), Path(tmp, "out.wasm")
        src.write_bytes(data)
        done = subprocess.run([dis, "--all-features", str(src), "-o", str(wat_path)], capture_output=True, text=True)
        if done.returncode:
            raise InstrumentError(f"{where}: wasm-dis cannot read it: {done.stderr.strip()}")
        wat = wat_path.read_text()
        result = _rewrite(wat, where)
        wat_path.write_text(result.pop("wat"))
        done = subprocess.run([asm, "--all-features", "-g", str(wat_path), "-o", str(out)],
                              capture_output=True, text=True)
        if done.returncode:
            raise InstrumentError(f"{where}: the instrumented module does not validate "
                                  f"(wasm-as): {done.stderr.strip()[-2000:]}")
        facts = inspect(data, where)
        done = Instrumented(data=b"", initial_pages=facts["initial_pages"],
                            maximum_pages=facts["maximum_pages"], **result)
        done.data = out.read_bytes() + _custom_section(START_SECTION, json.dumps(done.start()))
        return done


def _uleb(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _custom_section(name, text):
    """A custom section (id 0) appended after the others: engines ignore it."""
    body = _uleb(len(name.encode())) + name.encode() + text.encode()
    return b"\0" + _uleb(len(body)) + body


def _rewrite(wat, where):
    if f'(import "{HOOK_MODULE}" "{HOOK_NAME}"' in wat:
        raise InstrumentError(f"{where} is instrumented already (it imports "
                              f"{HOOK_MODULE}.{HOOK_NAME})")
    funcs = {m.group(1): (re.findall(r"\(param \$\S+ (\w+)\)", m.group(2)), m.group(3))
             for m in _FUNC.finditer(wat)}
    exports = {m.group(1): m.group(2) for m in _EXPORT.finditer(wat)}
    wrapped, skipped, targets = {}, {}, {}
    for name in ENTRY_POINTS:
        func = name if name in funcs else exports.get(name)
        if func is None:
            continue
        if func not in funcs:
            skipped[name] = f"function {func} is imported, not defined here"
            continue
        if func in targets:
            skipped[name] = f"same function as {targets[func]}"
            continue
        params, result = funcs[func]
        if (not _arity(name, len(params)) or any(t != "i32" for t in params)
                or bool(result) != ENTRY_POINTS[name][1] or result not in (None, "i32")):
            skipped[name] = (f"unexpected signature ({' '.join(params) or 'no params'}"
                             f" -> {result or 'nothing'})")
            continue
        targets[func] = name
        wrapped[name] = func
    if not wrapped:
        raise InstrumentError(REFUSAL.format(where=where, names=", ".join(ENTRY_POINTS)))
    if not re.search(r"^ \((import .*)?\(?memory ", wat, re.M):
        raise InstrumentError(f"{where} has no memory")
    # the definition takes the inner name; its original name now means the wrapper
    wat = re.sub(r"^ \(func \$(\S+?)(?=[ \n])",
                 lambda m: f" (func $pyfrag_inner.{m.group(1)}" if m.group(1) in targets
                 else m.group(0), wat, flags=re.M)
    wrappers = [_wrapper(name, func, f"pyfrag_inner.{func}", *funcs[func])
                for func, name in targets.items()]
    hook = (f' (import "{HOOK_MODULE}" "{HOOK_NAME}" (func $pyfrag_record '
            "(param i32 i32 i32 i32 i32 i32)))\n"
            " (global $pyfrag_depth (mut i32) (i32.const 0))\n")
    imports = list(re.finditer(r"^ \(import .*\n", wat, re.M))
    at = imports[-1].end() if imports else wat.index("\n") + 1
    types = list(re.finditer(r"^ \(type .*\n", wat, re.M))
    if not imports and types:
        at = types[-1].end()
    wat = wat[:at] + hook + wat[at:]
    end = wat.rstrip().rfind(")")
    wat = wat[:end] + "\n".join(wrappers) + "\n)\n"
    heap_base, source = heap_base_of(wat)
    return dict(wat=wat, wrapped=wrapped, skipped=skipped,
                allocator=guess_allocator(funcs), heap_base=heap_base,
                heap_base_source=source)

"""Read the facts pyfrag needs from a .wasm binary, in pure Python.

Main entry point: `inspect(data) -> dict` with imports, exports, memory limits
and the `__heap_base` value. The build script writes these into the manifest
and the tests check committed binaries against it; being pure Python it also
runs where wasmtime does not (Pyodide, a bare CPython).
"""

MAGIC = b"\0asm"


class WasmFormatError(ValueError):
    pass


class _Reader:
    def __init__(self, data, pos=0, end=None):
        self.data, self.pos = data, pos
        self.end = len(data) if end is None else end

    def byte(self):
        if self.pos >= self.end:
            raise WasmFormatError("unexpected end of section")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def _leb(self):
        """(value, bits read, last byte) of one LEB128 number."""
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return result, shift, b

    def uleb(self):
        return self._leb()[0]

    def sleb(self):
        result, shift, last = self._leb()
        return result - (1 << shift) if last & 0x40 else result

    def name(self):
        n = self.uleb()
        s = self.data[self.pos:self.pos + n].decode("utf-8")
        self.pos += n
        return s

    def limits(self):
        flags = self.byte()
        lo = self.uleb()
        hi = self.uleb() if flags & 1 else None
        return lo, hi, bool(flags & 4)

    def const_expr(self):
        """The value of an `i32.const`/`i64.const` init expression, else None."""
        op = self.byte()
        value = self.sleb() if op in (0x41, 0x42) else None
        if op == 0x23:                     # global.get
            self.uleb()
        while self.byte() != 0x0B:         # skip to `end` (extended const exprs)
            pass
        return value


KINDS = {0: "func", 1: "table", 2: "memory", 3: "global", 4: "tag"}


def inspect(data, where="module"):
    """imports ["mod.name"], exports [names], initial/maximum pages, heap_base."""
    data = bytes(data)
    if data[:4] != MAGIC:
        raise WasmFormatError(f"{where}: not a WebAssembly module (magic bytes {data[:4]!r})")
    r = _Reader(data, 8)
    imports, exports = [], []
    memory = None
    imported_globals = 0
    globals_init = []
    global_names = {}
    while r.pos < len(data):
        sid = r.byte()
        size = r.uleb()
        end = r.pos + size
        s = _Reader(data, r.pos, end)
        if sid == 2:
            for _ in range(s.uleb()):
                mod, field = s.name(), s.name()
                kind = s.byte()
                imports.append(f"{mod}.{field}")
                if kind == 0:
                    s.uleb()
                elif kind == 1:
                    s.byte(); s.limits()
                elif kind == 2:
                    memory = s.limits()
                elif kind == 3:
                    s.byte(); s.byte()
                    imported_globals += 1
                elif kind == 4:
                    s.byte(); s.uleb()
        elif sid == 5:
            if s.uleb():
                memory = s.limits()
        elif sid == 6:
            for _ in range(s.uleb()):
                s.byte(); s.byte()         # value type, mutability
                globals_init.append(s.const_expr())
        elif sid == 7:
            for _ in range(s.uleb()):
                name, kind, index = s.name(), s.byte(), s.uleb()
                exports.append((name, KINDS.get(kind, "?"), index))
        elif sid == 0:
            if s.name() == "name":
                while s.pos < end:
                    sub, n = s.byte(), s.uleb()
                    if sub == 7:           # global names
                        t = _Reader(data, s.pos, s.pos + n)
                        for _ in range(t.uleb()):
                            i = t.uleb()
                            global_names[t.name()] = i
                    s.pos += n
        r.pos = end

    def global_value(index):
        i = index - imported_globals
        return globals_init[i] if 0 <= i < len(globals_init) else None

    heap_base = None
    for name, kind, index in exports:
        if name == "__heap_base" and kind == "global":
            heap_base = global_value(index)
    if heap_base is None and "__heap_base" in global_names:
        heap_base = global_value(global_names["__heap_base"])
    initial, maximum = (memory[0], memory[1]) if memory else (None, None)
    return {
        "imports": imports,
        "exports": [name for name, _, _ in exports],
        "initial_pages": initial,
        "maximum_pages": maximum,
        "heap_base": heap_base,
    }

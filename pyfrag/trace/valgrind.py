"""Read the log of `valgrind --trace-malloc=yes PROGRAM` (read only).

    --4242-- malloc(10) = 0x4A40040
    --4242-- calloc(3,8) = 0x4A40090
    --4242-- realloc(0x4A40040,100) = 0x4A400F0
    --4242-- memalign(al 64, size 100) = 0x4A40200
    --4242-- _Znwm(24) = 0x4A40300          (C++ operator new)
    --4242-- free(0x4A40090)

Addresses become block ids, so a trace recorded from any native program can be
replayed on WebAssembly allocators. Lines that are not allocator calls (the
program's own output, valgrind's banner) are skipped and counted in
`trace.skipped`; free(0x0) is a no-op and skipped too. A free of an address
that is not live is kept, so the replay reports it as an invalid free.
"""

import re
from array import array

from . import Trace, TraceError
from .fields import parse_int, parse_size

_CALL = re.compile(r"--\d+--\s+(\w+)\((.*?)\)\s*(?:=\s*(0x[0-9A-Fa-f]+|0|\(nil\)))?")
_SIZE_ONE = {"malloc", "valloc", "pvalloc", "_Znwm", "_Znam", "_Znwj", "_Znaj",
             "__builtin_new", "__builtin_vec_new", "_ZnwmRKSt9nothrow_t",
             "_ZnamRKSt9nothrow_t"}


def _alloc_size(name, args, source, n):
    """(size, align) of an allocating call, or None if `name` does not allocate."""
    if name in _SIZE_ONE:
        return parse_size(args.strip(), source, n), 0
    if name == "calloc":
        count, _, each = args.partition(",")
        return parse_size(str(parse_int(count.strip(), "calloc count", source, n)
                              * parse_int(each.strip(), "calloc size", source, n)),
                          source, n), 0
    if name == "memalign" or "align_val_t" in name and name.startswith("_Zn"):
        fields = dict(part.strip().partition(" ")[::2] for part in args.split(","))
        try:
            return (parse_size(fields["size"].strip(), source, n),
                    parse_int(fields["al"].strip(), "alignment", source, n))
        except KeyError:
            raise TraceError(f"cannot read size and alignment from {name}({args})",
                             source, n) from None
    return None


def read(lines, source):
    trace, numbers = Trace(), array("l")
    live = {}            # address -> block id
    next_id = 0
    skipped = 0

    def new_id():
        nonlocal next_id
        next_id += 1
        return next_id - 1

    def free(addr):
        trace.free(live.pop(addr) if addr in live else new_id())
        numbers.append(n)

    for n, raw in lines:
        m = _CALL.search(raw)
        if not m:
            skipped += 1
            continue
        name, args, result = m.groups()
        if name == "realloc":
            old, _, size = args.partition(",")
            old = parse_int(old.strip(), "realloc address", source, n)
            if result is None:
                # realloc(p, 0) frees p; valgrind prints the result on the next line
                if old:
                    free(old)
                continue
            addr = parse_int(result, "address", source, n) if result != "(nil)" else 0
            if not addr:
                skipped += 1             # failed realloc: the old block stays
                continue
            size = parse_size(size.strip(), source, n)
            if old in live:
                id = live.pop(old)
                live[addr] = id
                trace.realloc(id, size)
            else:
                live[addr] = new_id()
                trace.alloc(live[addr], size)
            numbers.append(n)
            continue
        if name in ("free", "cfree") or name.startswith("_Zd") or "builtin_delete" in name \
                or "builtin_vec_delete" in name:
            addr = parse_int(args.split(",")[0].strip(), "free address", source, n)
            if addr == 0:
                skipped += 1
            else:
                free(addr)
            continue
        addr = parse_int(result, "address", source, n) if result not in (None, "(nil)") else 0
        # a call without a result is not an allocation; a NULL one failed in the
        # program (even an absurd size, say malloc(1 << 62)): nothing to replay
        size = _alloc_size(name, args, source, n) if addr else None
        if size is None:
            skipped += 1
            continue
        if addr in live:
            raise TraceError(f"{name} returned {result}, which is still live "
                             "(the log is missing a free)", source, n)
        live[addr] = new_id()
        trace.alloc(live[addr], size[0], size[1])
        numbers.append(n)
    trace.lines = numbers
    trace.skipped = skipped
    return trace

"""Read the log of `valgrind --trace-malloc=yes PROGRAM` (read only).

    --4242-- malloc(10) = 0x4A40040
    --4242-- calloc(3,8) = 0x4A40090
    --4242-- realloc(0x4A40040,100) = 0x4A400F0
    --4242-- realloc(0x0,24)malloc(24) = 0x4A40300     realloc(NULL, n): a malloc
    --4242-- realloc(0x4A400F0,0)free(0x4A400F0)        realloc(p, 0): a free,
    --4242--  = 0                                       its result on the next line
    --4242-- memalign(al 64, size 100) = 0x4A40200     (al 3 is rounded up to 4,
                                                         as valgrind's memalign does)
    --4242-- _Znwm(24) = 0x4A40300          (C++ operator new)
    --4242-- malloc(314572800)Warning: set address range perms: large range [...]
    --4242--  = 0x4E40040                   (a call of 256 MiB or more: result below)
    --4242-- free(0x4A40090)

Addresses become block ids, so a trace recorded from any native program can be
replayed on WebAssembly allocators. Lines that are not allocator calls (the
program's own output, valgrind's banner) are skipped and counted in
`trace.skipped`; free(0x0) and failed calls are no-ops and counted too. A free
of an address that is not live is kept, so the replay reports it as an invalid
free.

Each process of the log (the number between the dashes; a forking program or
`--trace-children=yes` gives several) has its own heap, so one trace is one
process: `read(..., pid=N)` picks it, and a log of several processes without a
pid is an error that lists them.
"""

import re

from .model import MAX_SIZE, Trace, TraceError
from .fields import parse_int, parse_size, shown
from .lines import Lines
from .stream import parse

_LINE = re.compile(r"--(\d{1,18})--\s?(.*)")     # a pid fits in an int64
_CALL = re.compile(r"\s*(\w+)\(([^()]*)\)")
_RESULT = re.compile(r"\s*=\s*(0x[0-9A-Fa-f]+|\d+|\(nil\))")
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
        if "size" not in fields or "al" not in fields:
            raise TraceError(f"cannot read size and alignment from {name}({shown(args)})",
                             source, n)
        return parse_size(fields["size"].strip(), source, n), \
            _alignment(fields["al"].strip(), source, n)
    return None


def _alignment(token, source, n):
    """valgrind's memalign rounds an alignment up to a power of two (as glibc does),
    so the program got a block aligned that much."""
    align = parse_int(token, "alignment", source, n)
    if align >= MAX_SIZE:
        raise TraceError(f"alignment {align} is larger than any memory (2**48 bytes)",
                         source, n)
    return 1 << (align - 1).bit_length() if align > 1 else 0


def _is_free(name):
    return name in ("free", "cfree") or name.startswith("_Zd") or "builtin_delete" in name \
        or "builtin_vec_delete" in name


class _Process:
    """One process's heap: its trace, live addresses and a call awaiting its result."""

    def __init__(self):
        self.trace = Trace()
        self.trace.lines = self.numbers = Lines()
        self.live = {}           # address -> block id
        self.next_id = 0
        self.skipped = 0
        self.calls = 0
        self.pending = None      # (name, args, line) whose result comes on a later line

    def new_id(self):
        self.next_id += 1
        return self.next_id - 1

    def free(self, addr, n):
        live = self.live
        self.trace.free(live.pop(addr) if addr in live else self.new_id())
        self.numbers.append(n)

    def call(self, name, args, result, n, source):
        """Apply one call whose result (None for free) is known."""
        self.calls += 1
        if _is_free(name):
            addr = parse_int(args.split(",")[0].strip(), "free address", source, n)
            if addr:
                self.free(addr, n)
            else:
                self.skipped += 1
            return
        addr = 0 if result in (None, "(nil)") else parse_int(result, "address", source, n)
        if name == "realloc":
            old, _, size = args.partition(",")
            old = parse_int(old.strip(), "realloc address", source, n)
            if not addr:
                self.skipped += 1         # failed realloc: the old block stays
                return
            size = parse_size(size.strip(), source, n)
            if old in self.live:
                id = self.live.pop(old)
                self.live[addr] = id
                self.trace.realloc(id, size)
                self.numbers.append(n)
                return
            name, args = "malloc", str(size)   # realloc(NULL or unknown, n) allocates
        # a NULL result failed in the program (even an absurd size, say
        # malloc(1 << 62)): nothing to replay
        size = _alloc_size(name, args, source, n) if addr else None
        if size is None:
            self.skipped += 1
            return
        if addr in self.live:
            raise TraceError(f"{shown(name)} returned {shown(result)}, which is still live "
                             "(the log is missing a free)", source, n)
        self.live[addr] = self.new_id()
        self.trace.alloc(self.live[addr], size[0], size[1])
        self.numbers.append(n)


def _line(proc, rest, n, source):
    """One `--PID--` line of a process."""
    m = _CALL.match(rest)
    if not m:
        r = _RESULT.match(rest)
        if r and proc.pending:             # the result of a call split over two lines
            (name, args, at), proc.pending = proc.pending, None
            if name:
                proc.call(name, args, r[1], at, source)
        else:
            proc.skipped += 1
        return
    name, args = m.groups()
    tail = rest[m.end():]
    inner = _CALL.match(tail)
    if name == "realloc" and inner:
        # valgrind prints the call realloc makes: malloc for a NULL pointer, free
        # for size 0 (that one's result, NULL, follows on the next line)
        tail = tail[inner.end():]
        if _is_free(inner[1]):
            proc.call(inner[1], inner[2], None, n, source)
            proc.pending = (None, None, n)
            return
    if _is_free(name):
        proc.call(name, args, None, n, source)
        return
    r = _RESULT.match(tail)
    if r:
        proc.call(name, args, r[1], n, source)
    elif "Warning:" in tail:
        proc.pending = (name, args, n)     # large block: valgrind warns, result follows
    else:
        proc.skipped += 1


def read(pieces, source, pid=None):
    procs = {}
    other = 0                              # lines of no process: program output, banner

    def lines(pairs):
        nonlocal other
        for n, raw in pairs:
            m = _LINE.search(raw)
            if not m:
                other += 1
                continue
            key = int(m[1])
            proc = procs.get(key)
            if proc is None:
                proc = procs[key] = _Process()
            _line(proc, m[2], n, source)

    parse(pieces, None, lines)     # each call depends on the ones before: line by line
    listed = sorted(procs)[:10]           # a readable list, however many processes
    pids = ", ".join(f"{p} ({procs[p].calls} call{'s' * (procs[p].calls != 1)})"
                     for p in listed) + \
        (f" and {len(procs) - len(listed)} more" if len(procs) > len(listed) else "")
    if pid is None:
        if len(procs) > 1:
            raise TraceError(f"the log holds {len(procs)} processes, PIDs {pids}: "
                             "choose one with --pid N (pid=N in Python)", source)
        pid = next(iter(procs), None)
    elif pid not in procs:
        raise TraceError(f"no process {pid} in the log (PIDs: {pids or 'none'})", source)
    proc = procs.pop(pid) if pid is not None else _Process()
    trace = proc.trace
    trace.skipped = other + proc.skipped
    if procs:
        trace.description = (f"process {pid} of the log; the others (PIDs "
                             f"{', '.join(map(str, sorted(procs)))}) are left out")
    return trace
